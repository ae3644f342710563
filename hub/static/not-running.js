/* "Server not running": start it again after data-implicit-spawn-seconds when set, then
 * JupyterHub's not_running module (JupyterHub's inline scripts of not_running.html). */
(function () {
  "use strict";
  var data = document.currentScript.dataset;
  var seconds = parseFloat(data.implicitSpawnSeconds || "0");
  if (seconds > 0 && data.spawnUrl) {
    setTimeout(function () {
      window.location = data.spawnUrl;
    }, 1000 * seconds);
  }
  window.require(["not_running"]);
})();
