/* Wide content says that it scrolls.  A result table, an output or a display equation wider than
 * the content column scrolls inside its own box (course.css); this marks each such box with the
 * class "course-scrolls" (a shadow at its right edge) and puts a one-line hint under it, so that a
 * reader knows there are more columns.  Rechecked when the window is resized and after MathJax
 * has typeset the page.  tests/test_site.py accepts content wider than the column only inside a
 * box marked this way.
 */
(function () {
  "use strict";
  var SELECTOR = ".cell_output .output, mjx-container[display=\"true\"], .table-wrapper, " +
                 ".pst-scrollable-table-container, div.math";
  // The hint goes right after the box, or after its parent when that lays out its children in a row
  // (a numbered display equation: div.math is a flex row of the equation and its number).
  function anchorOf(box) {
    var parent = box.parentNode;
    return parent && getComputedStyle(parent).display.indexOf("flex") >= 0 ? parent : box;
  }
  function mark() {
    var boxes = document.querySelectorAll(SELECTOR);
    for (var i = 0; i < boxes.length; i++) {
      var box = boxes[i], anchor = anchorOf(box);
      var wide = box.scrollWidth > box.clientWidth + 1;
      var hint = anchor.nextElementSibling;
      var hasHint = hint && hint.classList && hint.classList.contains("course-scroll-hint");
      if (wide && !box.classList.contains("course-scrolls")) {
        box.classList.add("course-scrolls");
        if (!hasHint) {
          hint = document.createElement("div");
          hint.className = "course-scroll-hint";
          hint.textContent = "\u21c6 wider than the column: scroll sideways to see the rest";
          anchor.parentNode.insertBefore(hint, anchor.nextSibling);
        }
      } else if (!wide && box.classList.contains("course-scrolls")) {
        box.classList.remove("course-scrolls");
        if (hasHint) { hint.parentNode.removeChild(hint); }
      }
    }
  }
  // A table cell holding a phrase ("good defaults; sparse features") may wrap; a number never does
  // (course.css keeps cells on one line so that 9.78e-05 is not broken at its minus sign).
  function letPhrasesWrap() {
    var cells = document.querySelectorAll(".cell_output table td");
    for (var i = 0; i < cells.length; i++) {
      var t = cells[i].textContent.trim();
      if (t.length > 14 && /\s/.test(t) && /[A-Za-z]{3}/.test(t)) {
        cells[i].style.whiteSpace = "normal";
        cells[i].style.minWidth = "9em";
      }
    }
  }
  // A result table a little wider than the column first gets denser type and padding (course.css,
  // "course-dense"); only what still does not fit scrolls with the cue.
  function densify() {
    var tables = document.querySelectorAll(".cell_output table");
    for (var i = 0; i < tables.length; i++) {
      var box = tables[i].closest(".output, .table-wrapper, .pst-scrollable-table-container") ||
                tables[i].parentNode;
      if (box.scrollWidth > box.clientWidth + 1) { tables[i].classList.add("course-dense"); }
    }
  }
  function markAll() { letPhrasesWrap(); densify(); mark(); }
  window.courseMarkScrolling = markAll;
  function whenTypeset() {
    var mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise) { mj.startup.promise.then(mark); }
  }
  document.addEventListener("DOMContentLoaded", markAll);
  window.addEventListener("load", function () { markAll(); whenTypeset(); setTimeout(mark, 1500); });
  window.addEventListener("resize", mark);
})();

/* Accessible names of the theme's controls (WCAG 2.5.3 Label in Name, 4.1.2 Name, Role, Value;
 * tests/test_accessibility.py runs axe-core on every page):
 * - a control whose aria-label differs from its visible text ("Search" on a button that shows
 *   "Search Ctrl+K") is named by its visible text;
 * - the sidebar's chevron toggles (an empty <summary>) are named by the section they open;
 * - the colour-mode button says which mode it is in.
 */
(function () {
  "use strict";
  function visible(el) { return (el.innerText || "").replace(/\s+/g, " ").trim(); }
  function fixNames() {
    document.querySelectorAll("button[aria-label], summary[aria-label], a[aria-label]").forEach(function (el) {
      var text = visible(el), label = el.getAttribute("aria-label") || "";
      if (text && label.toLowerCase().indexOf(text.toLowerCase()) < 0) { el.removeAttribute("aria-label"); }
    });
    document.querySelectorAll("nav summary, .bd-sidebar summary").forEach(function (s) {
      if (visible(s) || s.getAttribute("aria-label")) { return; }
      var li = s.closest("li"), link = li && li.querySelector(":scope > a");
      var name = link ? visible(link) : "";
      s.setAttribute("aria-label", name ? "Sections of " + name : "Sections");
    });
  }
  function modeName() {
    var b = document.querySelectorAll(".theme-switch-button");
    var mode = document.documentElement.dataset.mode || "auto";
    var said = {light: "light", dark: "dark", auto: "system setting"}[mode] || mode;
    b.forEach(function (el) { el.setAttribute("aria-label", "Color mode: " + said); });
  }
  function hideIcons() {  // icon glyphs of the theme's webfont are decoration (their buttons have names)
    document.querySelectorAll("i.fa-solid, i.fa-brands, i.fa-regular, i.fas, i.fab, i.far").forEach(function (i) {
      i.setAttribute("aria-hidden", "true");
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    fixNames(); modeName(); hideIcons();
    new MutationObserver(modeName).observe(document.documentElement, {attributes: true, attributeFilter: ["data-mode"]});
  });
})();
