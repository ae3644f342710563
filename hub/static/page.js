/* Every hub page: RequireJS's configuration and window.jhdata, read from the page's JSON block.
 *
 * JupyterHub's own page.html sets both in an inline <script>; the Content-Security-Policy
 * (ai4scale.hub._security) allows scripts from files only, so the template writes the values
 * as data (<script type="application/json" id="ai4scale-page-data">) and this file applies them.
 * It runs in <head>, before any page script calls require().
 */
(function () {
  "use strict";
  var node = document.getElementById("ai4scale-page-data");
  var data = node ? JSON.parse(node.textContent) : {};
  if (data.require && !data.require.urlArgs) {
    delete data.require.urlArgs; // no version hash: no query
  }
  if (window.require && window.require.config && data.require) {
    window.require.config(data.require);
  }
  window.jhdata = data.jhdata || {};
})();
