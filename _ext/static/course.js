/* Wide content says that it scrolls.  A result table, an output or a display equation wider than
 * the content column scrolls inside its own box (course.css); this marks each such box with the
 * class "course-scrolls" (a shadow at its right edge) and puts a one-line hint under it, so that a
 * reader knows there are more columns.  Rechecked when the window is resized and after MathJax
 * has typeset the page.  tests/test_site.py accepts content wider than the column only inside a
 * box marked this way.
 */
(function () {
  "use strict";
  var SELECTOR = ".cell_output .output, mjx-container[display=\"true\"], .table-wrapper, div.math";
  function mark() {
    var boxes = document.querySelectorAll(SELECTOR);
    for (var i = 0; i < boxes.length; i++) {
      var box = boxes[i];
      var wide = box.scrollWidth > box.clientWidth + 1;
      var hint = box.nextElementSibling;
      var hasHint = hint && hint.classList && hint.classList.contains("course-scroll-hint");
      if (wide && !box.classList.contains("course-scrolls")) {
        box.classList.add("course-scrolls");
        if (!hasHint) {
          hint = document.createElement("div");
          hint.className = "course-scroll-hint";
          hint.textContent = "\u21c6 wider than the column: scroll sideways to see the rest";
          box.parentNode.insertBefore(hint, box.nextSibling);
        }
      } else if (!wide && box.classList.contains("course-scrolls")) {
        box.classList.remove("course-scrolls");
        if (hasHint) { hint.parentNode.removeChild(hint); }
      }
    }
  }
  window.courseMarkScrolling = mark;
  function whenTypeset() {
    var mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise) { mj.startup.promise.then(mark); }
  }
  document.addEventListener("DOMContentLoaded", mark);
  window.addEventListener("load", function () { mark(); whenTypeset(); setTimeout(mark, 1500); });
  window.addEventListener("resize", mark);
})();
