/* Sign-in and spawn forms: disable the button and show the spinner once submitted
 * (JupyterHub's inline script of login.html and spawn.html). */
(function () {
  "use strict";
  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll(".feedback-container>input, .feedback-container>button").forEach(function (button) {
        button.disabled = true;
      });
      form.querySelectorAll(".feedback-container>*").forEach(function (child) {
        child.classList.toggle("hidden");
      });
      form.querySelectorAll(".feedback-widget>*").forEach(function (icon) {
        icon.classList.toggle("fa-pulse");
      });
    });
  });
})();
