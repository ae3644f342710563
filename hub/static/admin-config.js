/* The admin page: the settings JupyterHub's admin-react.js reads from window, taken from
 * the page's JSON block (JupyterHub's inline script of admin.html). Runs before admin-react.js. */
(function () {
  "use strict";
  var node = document.getElementById("ai4scale-admin-config");
  var config = node ? JSON.parse(node.textContent) : {};
  window.api_page_limit = parseInt(config.api_page_limit, 10) || 100;
  window.base_url = config.base_url || "/hub/";
})();
