/* Glue between the book's offline page JavaScript (loaded before embed-amd.js; see _config.yml
 * nb_ipywidgets_js and _ext/course_book.py).
 *
 * 1. The widget manager (@jupyter-widgets/html-manager 1.x) is an AMD module whose fonts webpack
 *    locates next to the module's URL; point that URL at _static/vendor/html-manager/, where
 *    scripts/fetch_js.sh put the files, instead of the page's own folder.
 * 2. It typesets widget labels with the MathJax 2 API (MathJax.Hub.Queue); the book ships MathJax 3.
 *    Map that call onto MathJax 3's typesetPromise, also after MathJax 3 replaces window.MathJax.
 * 3. Figures that a widget's saved Output state draws are <img> elements without alt text; give each
 *    one a description (the caption of the widget's own title if it has one) as it appears.
 */
(function () {
  "use strict";
  var root = (document.documentElement.dataset && document.documentElement.dataset.content_root) || "";
  if (window.require && window.require.config) {
    window.require.config({paths: {"@jupyter-widgets/html-manager/dist": root + "_static/vendor/html-manager"}});
  }
  var hub = {
    Queue: function (cmd) {
      var mj = window.MathJax, el = cmd && cmd[2];
      if (!mj || !mj.typesetPromise) { return; }  // MathJax 3 typesets the whole page when it starts
      var ready = (mj.startup && mj.startup.promise) || Promise.resolve();
      ready.then(function () { return mj.typesetPromise(el ? [el] : undefined); })
           .catch(function (err) { console.warn("MathJax could not typeset a widget label", err); });
    }
  };
  function attach(obj) {
    if (obj && typeof obj === "object" && !obj.Hub) {
      try { obj.Hub = hub; } catch (e) { /* frozen object: nothing to do */ }
    }
    return obj;
  }
  var current = attach(window.MathJax);
  try {
    Object.defineProperty(window, "MathJax", {
      configurable: true,
      get: function () { return current; },
      set: function (value) { current = attach(value); }
    });
  } catch (e) { /* keep the plain global */ }

  function describe(img) {
    if (img.getAttribute("alt")) { return; }
    var box = img.closest(".widget-output, .jupyter-widgets, .cell_output") || document.body;
    var label = box.querySelector(".widget-label, .widget-html-content");
    var text = label && label.textContent.trim();
    img.setAttribute("alt", "Figure drawn by an interactive widget (state saved when the book was built)"
                     + (text ? ": " + text : ""));
  }
  function scan(node) {
    if (node.nodeType !== 1) { return; }
    if (node.tagName === "IMG") { describe(node); }
    node.querySelectorAll && node.querySelectorAll("img:not([alt])").forEach(describe);
  }
  new MutationObserver(function (records) {
    records.forEach(function (r) { r.addedNodes.forEach(scan); });
  }).observe(document.documentElement, {childList: true, subtree: true});
})();
