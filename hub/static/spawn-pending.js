/* "Your server is starting": follow the spawn's progress stream, open the server when it is
 * ready, and offer to stop it (JupyterHub 6.1's inline script of spawn_pending.html, with the
 * values from this tag's data-progress-url, data-base-url and data-user). */
(function () {
  "use strict";
  var data = document.currentScript.dataset;
  window.require(["jquery", "jhapi"], function ($, JHAPI) {
    var base_url = (window.jhdata && window.jhdata.base_url) || data.baseUrl;
    var user = (window.jhdata && window.jhdata.user) || data.user;
    var api = new JHAPI(base_url);

    $("#refresh").click(function () {
      window.location.reload();
    });

    $("#stop-server-btn").click(function () {
      var button = $(this);
      var statusDiv = $("#stop-server-status");
      button.prop("disabled", true).text("Stopping...");
      statusDiv.show().removeClass("alert-success alert-danger").addClass("alert alert-info").text("Stopping server...");
      api.stop_server(user, {
        success: function () {
          statusDiv.removeClass("alert-info alert-danger").addClass("alert-success").text("Server stopped successfully!");
          setTimeout(function () {
            window.location.reload();
          }, 2000);
        },
        error: function (xhr, status, error) {
          console.error("Error stopping server:", error);
          var errorMessage = "Error stopping server";
          if (xhr.responseJSON && xhr.responseJSON.message) {
            errorMessage += ": " + xhr.responseJSON.message;
          } else if (error) {
            errorMessage += ": " + error;
          }
          statusDiv.removeClass("alert-info alert-success").addClass("alert-danger").text(errorMessage);
          button.prop("disabled", false).text("Stop Server");
        },
      });
    });

    var evtSource = new EventSource(data.progressUrl);
    var progressMessage = $("#progress-message");
    var progressBar = $("#progress-bar");
    var srProgress = $("#sr-progress");
    var progressLog = $("#progress-log");

    evtSource.onmessage = function (e) {
      var evt = JSON.parse(e.data);
      if (evt.progress !== undefined) {
        var progText = evt.progress.toString();
        progressBar.attr("aria-valuenow", progText);
        srProgress.text(progText + "%");
        progressBar.css("width", progText + "%");
      }
      var html_message;
      if (evt.html_message !== undefined) {
        progressMessage.html(evt.html_message);
        html_message = evt.html_message;
      } else if (evt.message !== undefined) {
        progressMessage.text(evt.message);
        html_message = progressMessage.html();
      }
      if (html_message) {
        progressLog.append($("<div>").addClass("progress-log-event").html(html_message));
      }
      if (evt.ready) {
        evtSource.close();
        // Reloading redirects to the running server.
        window.location.reload();
      }
      if (evt.failed) {
        evtSource.close();
        progressBar.addClass("bg-danger");
        $("#progress-details").prop("open", true);
      }
    };

    // Signal that the page has finished loading (JupyterHub's tests, and ours, wait for it).
    window._jupyterhub_page_loaded = true;
  });
})();
