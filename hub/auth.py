"""The sandbox's built-in login: roster members with their own passwords.

:class:`RosterAuthenticator` checks logins against the account store
(:mod:`ai4scale.hub.accounts`): only roster members may log in, repeated
failures lock the account for a while, many failures from one network
address refuse every sign-in from it for a while (:mod:`._ratelimit`), and a
member sets (or resets) a
password at ``/hub/set-password`` with a one-time code from an instructor
(``ai4scale users code USERNAME``).
"""

from __future__ import annotations

import asyncio
import math

from jupyterhub.auth import Authenticator
from jupyterhub.handlers import BaseHandler
from jupyterhub.handlers.login import LoginHandler
from jupyterhub.utils import url_path_join
from tornado import web
from tornado.httputil import url_concat
from traitlets import Integer, Unicode, default

from ._ratelimit import FailureWindow, client_address, network_key
from .accounts import AccountStore, CodeError, LoginResult, PasswordError

__all__ = ["RosterAuthenticator", "RosterLoginHandler", "SetPasswordHandler"]

SET_PASSWORD_PATH = "/set-password"


def _minutes(seconds):
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class RosterAuthenticator(Authenticator):
    """Password login for the members of the course roster.

    The roster and the passwords live in the account store named by
    :attr:`accounts_url`; ``ai4scale roster import`` fills it. A member has no
    password until they redeem a one-time code at ``/hub/set-password``.

    Raises ``HTTPError(403)`` with a message for a locked account or one
    without a password yet, so the login page says what to do; other failures
    return None ("Invalid username or password").
    """

    #: The login page offers the set-password link only for this authenticator.
    offers_set_password = True

    accounts_url = Unicode(
        help="""
        SQLAlchemy URL of the account store (required).

        The sandbox sets it to ``sqlite:///{state_dir}/accounts.sqlite``, the
        database ``ai4scale roster import`` writes.
        """,
    ).tag(config=True)

    lockout_attempts = Integer(
        5,
        help="""
        Consecutive failed logins after which an account is locked
        for :attr:`lockout_seconds`.
        """,
    ).tag(config=True)

    lockout_seconds = Integer(
        300,
        help="""
        How long (seconds) an account stays locked after too many failed logins.

        While locked, even the right password is refused. ``ai4scale users
        unlock USERNAME`` lifts the lock early, and so does redeeming a
        one-time code.
        """,
    ).tag(config=True)

    ip_failed_logins = Integer(
        50,
        help="""
        Failed logins from one network address (IPv4 address or IPv6 /64)
        within :attr:`ip_window_seconds`, whatever usernames they tried,
        after which every login from that address is refused (HTTP 429),
        the right password included, until the oldest failure leaves the
        window.

        Generous on purpose: a whole office may reach the sandbox through
        one address. The address is the one the hub's proxy saw (the last
        ``X-Forwarded-For`` entry that is not in
        ``JupyterHub.trusted_downstream_ips``). Counted in the hub's memory:
        a hub restart forgets it.
        """,
    ).tag(config=True)

    ip_window_seconds = Integer(
        600,
        help="How long (seconds) a failed login counts towards :attr:`ip_failed_logins`.",
    ).tag(config=True)

    min_password_length = Integer(
        10,
        help="Shortest password a member may set (characters).",
    ).tag(config=True)

    code_ttl_hours = Integer(
        72,
        help="""
        Validity (hours) of one-time codes, shown on the set-password page.

        Codes are issued by ``ai4scale users code``, which reads the same
        setting (``auth.code_ttl_hours``).
        """,
    ).tag(config=True)

    @default("allow_all")
    def _default_allow_all(self):
        # The roster is the allow list: never let every authenticated name in.
        return False

    @default("any_allow_config")
    def _default_any_allow_config(self):
        # check_allowed consults the roster, which is allow configuration.
        return True

    _store = None
    _ip_window = None

    @property
    def ip_failures(self):
        """The :class:`~ai4scale.hub._ratelimit.FailureWindow` of failed logins per address."""
        window = self._ip_window
        if window is None or (window.limit, window.window) != (
            self.ip_failed_logins,
            self.ip_window_seconds,
        ):
            window = self._ip_window = FailureWindow(self.ip_failed_logins, self.ip_window_seconds)
        return window

    @property
    def store(self):
        """The :class:`~ai4scale.hub.accounts.AccountStore`, opened on first use."""
        if self._store is None or self._store.url != self.accounts_url:
            if not self.accounts_url:
                raise ValueError("RosterAuthenticator.accounts_url is not set")
            self._store = AccountStore(
                self.accounts_url, min_password_length=self.min_password_length
            )
        self._store.min_password_length = self.min_password_length
        return self._store

    async def authenticate(self, handler, data):
        """Return the username if the password is right, else None.

        Parameters
        ----------
        handler : tornado.web.RequestHandler or None
            The login handler, for the client's address (None: no address limit).
        data : dict
            The login form: ``username`` and ``password``.

        Returns
        -------
        str or None

        Raises
        ------
        tornado.web.HTTPError
            403 with a message for the login page when the account is locked
            or has no password yet; 429 when too many logins failed from the
            request's network address (:attr:`ip_failed_logins`).
        """
        address = client_address(handler.request) if handler is not None else None
        key = network_key(address) if address else None
        if key is not None:
            wait = self.ip_failures.blocked_for(key)
            if wait:
                self.log.warning("Login refused from %s: too many failed logins", address)
                raise web.HTTPError(
                    429,
                    "Too many failed sign-ins from your network. "
                    f"Try again in {_minutes(math.ceil(wait / 60) * 60)}.",
                )
        try:
            username = await self._authenticate(data)
        except web.HTTPError:
            if key is not None:
                self.ip_failures.record(key)
            raise
        if username is None and key is not None:
            self.ip_failures.record(key)
        return username

    async def _authenticate(self, data):
        username = self.normalize_username((data.get("username") or "").strip())
        password = data.get("password") or ""
        if not username or not password:
            return None
        result = await asyncio.to_thread(
            self.store.verify_login,
            username,
            password,
            max_attempts=self.lockout_attempts,
            lockout_seconds=self.lockout_seconds,
        )
        if result is LoginResult.OK:
            self.log.info("Roster login for %s", username)
            return username
        if result is LoginResult.LOCKED:
            self.log.warning("Login refused for %s: account locked", username)
            raise web.HTTPError(
                403,
                "This account is locked after too many failed sign-ins. "
                f"Try again in {_minutes(self.lockout_seconds)}, "
                "or ask your instructor to unlock it.",
            )
        if result is LoginResult.NO_PASSWORD:
            self.log.warning("Login refused for %s: no password set yet", username)
            raise web.HTTPError(
                403,
                "No password has been set for this account yet. Set one with the "
                "one-time code from your instructor (link below).",
            )
        if result is LoginResult.UNKNOWN:
            self.log.warning("Login refused for %r: not in the roster", username[:40])
            return None
        self.log.warning("Login refused for %s: wrong password", username)
        account = await asyncio.to_thread(self.store.get, username)
        if account is not None and account.locked:
            self.log.warning("Account %s locked after %d failures", username, account.failed_logins)
            raise web.HTTPError(
                403,
                "Invalid username or password. After too many failed sign-ins this account "
                f"is now locked for {_minutes(self.lockout_seconds)}; "
                "your instructor can unlock it sooner.",
            )
        return None

    def check_allowed(self, username, authentication=None):
        """Return True only for members of the roster.

        Parameters
        ----------
        username : str
            The normalized username.
        authentication : dict, optional
            The authentication model (unused).

        Returns
        -------
        bool
        """
        return self.store.get(username) is not None

    def get_handlers(self, app):
        """Return the login page, the set-password page and the instructors' codes page."""
        from .codes_page import CODES_PATH, OneTimeCodeHandler

        return [
            ("/login", RosterLoginHandler),
            (SET_PASSWORD_PATH, SetPasswordHandler),
            (CODES_PATH, OneTimeCodeHandler),
        ]


class RosterLoginHandler(LoginHandler):
    """JupyterHub's login page, plus a notice after a password was set."""

    def _render(self, login_error=None, username=None, **kwargs):
        if self.get_argument("password_set", default="") == "1":
            kwargs.setdefault("login_message", "Your password is set. Sign in with it now.")
        return super()._render(login_error=login_error, username=username, **kwargs)


class SetPasswordHandler(BaseHandler):
    """Set a password with a one-time code: ``GET`` shows the form, ``POST`` redeems."""

    def check_xsrf_cookie(self):
        """Explain an expired form in words, as the login page does."""
        try:
            return super().check_xsrf_cookie()
        except web.HTTPError as e:
            self.log.error("XSRF error on set-password form: %s", e)
            if self.request.headers.get("Sec-Fetch-Mode", "navigate") == "navigate":
                raise web.HTTPError(e.status_code, "The form has expired. Try again.") from e
            raise

    async def _render(self, *, username="", error=None):
        return await self.render_template(
            "set-password.html",
            username=username,
            set_password_error=error,
            set_password_url=url_path_join(self.hub.base_url, SET_PASSWORD_PATH.lstrip("/")),
            min_password_length=self.authenticator.min_password_length,
            code_ttl_hours=self.authenticator.code_ttl_hours,
        )

    async def get(self):
        """Show the form (``?username=`` fills in the name)."""
        username = self.get_argument("username", default="", strip=True)
        self.finish(await self._render(username=username[:64]))

    async def post(self):
        """Redeem the code; on success go to the login page with a notice."""
        authenticator = self.authenticator
        username = authenticator.normalize_username(
            self.get_argument("username", default="", strip=True)
        )
        code = self.get_argument("code", default="", strip=True)
        password = self.get_argument("password", default="", strip=False)
        confirm = self.get_argument("password_confirmation", default="", strip=False)

        error = None
        if not username or not code or not password:
            error = "Please fill in your username, the one-time code and a new password."
        elif password != confirm:
            error = "The two passwords differ. Type the same new password twice."
        else:
            try:
                await asyncio.to_thread(authenticator.store.redeem_code, username, code, password)
            except (CodeError, PasswordError) as e:
                error = str(e)[:1].upper() + str(e)[1:] + "."
                self.log.warning("Set-password refused for %r: %s", username[:40], e)
        if error:
            self.set_status(400)
            self.finish(await self._render(username=username[:64], error=error))
            return
        self.log.info("Password set with a one-time code for %s", username)
        target = url_concat(self.settings["login_url"], {"username": username, "password_set": "1"})
        self.redirect(target)
