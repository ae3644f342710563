/* Error pages: drop JupyterHub's "redirects" counter from the address, so reloading
 * starts afresh (JupyterHub's inline script of error.html). */
(function () {
  "use strict";
  var url = new URL(window.location.href);
  if (url.searchParams.has("redirects")) {
    url.searchParams.delete("redirects");
    window.history.replaceState({}, "", url.pathname + url.search + url.hash);
  }
})();
