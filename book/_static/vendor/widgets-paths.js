// Tells RequireJS where the vendored @jupyter-widgets modules live (this folder), wherever the page is.
// embed-amd.js finds its font files relative to its module URL; without this, RequireJS resolves
// "@jupyter-widgets/..." against the page's own folder and the fonts 404. Loaded between require.js
// and html-manager/embed-amd.js (_config.yml: nb_ipywidgets_js).
(function () {
  var src = document.currentScript.src;
  var here = src.slice(0, src.lastIndexOf("/") + 1) + "html-manager";
  require.config({paths: {"@jupyter-widgets/html-manager/dist": here, "@jupyter-widgets": here}});
})();
