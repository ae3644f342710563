/* "Your server is stopping": reload every 5 s until it has stopped
 * (JupyterHub's inline script of stop_pending.html). */
(function () {
  "use strict";
  var refresh = document.getElementById("refresh");
  if (refresh) {
    refresh.addEventListener("click", function (event) {
      event.preventDefault();
      window.location.reload();
    });
  }
  setTimeout(function () {
    window.location.reload();
  }, 5000);
})();
