/* The sign-in page: show or hide the password, and the warning on an unencrypted address
 * (JupyterHub's inline scripts of login.html). */
(function () {
  "use strict";
  var toggle = document.getElementById("toggle_password_visibility");
  var password = document.getElementById("password_input");
  if (toggle && password) {
    var icon = toggle.querySelector("i");
    toggle.addEventListener("click", function () {
      var hidden = password.type === "password";
      password.type = hidden ? "text" : "password";
      if (icon) {
        icon.className = hidden ? "fa fa-eye-slash" : "fa fa-eye";
      }
      toggle.setAttribute("aria-pressed", hidden ? "true" : "false");
      toggle.setAttribute("title", hidden ? "Hide password" : "Show password");
    });
  }
  var warning = document.getElementById("insecure-login-warning");
  if (warning && !window.isSecureContext) {
    warning.classList.remove("hidden");
  }
})();
