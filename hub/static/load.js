/* Load JupyterHub's page modules named in this tag's data-modules (home, token, not_running):
 * <script src=".../ai4scale/load.js" data-modules="home"></script> replaces require(["home"]). */
(function () {
  "use strict";
  var modules = (document.currentScript.dataset.modules || "").split(/\s+/).filter(Boolean);
  if (modules.length) {
    window.require(modules);
  }
})();
