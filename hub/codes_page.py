"""``/hub/codes``: instructors issue one-time codes to learners from the browser.

A learner who has no password yet, or forgot it, needs a one-time code to set
one at ``/hub/set-password``. Administrators issue codes with ``ai4scale users
code``; instructors, who have no shell on the hub, issue them here. An
instructor may issue codes to learners only, never to another instructor (that
would let one instructor take over another's account); hub admins may issue
codes to anyone on the roster.
"""

from __future__ import annotations

import asyncio

from jupyterhub.handlers import BaseHandler
from jupyterhub.utils import url_path_join
from tornado import web

from .accounts import UnknownAccountError

__all__ = ["CODES_PATH", "OneTimeCodeHandler", "may_issue_code"]

CODES_PATH = "/codes"


def may_issue_code(user, account):
    """Return True if hub ``user`` may issue a one-time code for roster ``account``.

    Parameters
    ----------
    user : jupyterhub.user.User
        The signed-in user.
    account : ai4scale.hub.accounts.AccountInfo
        The roster account the code is for.

    Returns
    -------
    bool
    """
    if user.admin:
        return True
    is_instructor = any(group.name == "instructors" for group in user.groups)
    return is_instructor and account.role == "learner"


class OneTimeCodeHandler(BaseHandler):
    """List the accounts an instructor may help, and issue a code on ``POST``."""

    def _allowed_accounts(self, user):
        store = self.authenticator.store
        return [a for a in store.list_accounts() if may_issue_code(user, a)]

    async def _render(self, user, *, issued=None, error=None):
        accounts = await asyncio.to_thread(self._allowed_accounts, user)
        return await self.render_template(
            "codes.html",
            accounts=accounts,
            issued=issued,
            codes_error=error,
            codes_url=url_path_join(self.hub.base_url, CODES_PATH.lstrip("/")),
            code_ttl_hours=self.authenticator.code_ttl_hours,
        )

    def _current_instructor(self):
        user = self.current_user
        if user is None:
            raise web.HTTPError(403)
        if not (user.admin or any(g.name == "instructors" for g in user.groups)):
            raise web.HTTPError(403, "Only instructors can issue one-time codes.")
        return user

    @web.authenticated
    async def get(self):
        """Show the accounts and the form."""
        user = self._current_instructor()
        self.finish(await self._render(user))

    @web.authenticated
    async def post(self):
        """Issue a code for ``username`` and show it once."""
        user = self._current_instructor()
        store = self.authenticator.store
        username = self.get_argument("username", default="", strip=True)
        account = await asyncio.to_thread(store.get, username)
        if account is None or not may_issue_code(user, account):
            # Same answer for "not on the roster" and "not yours": no probing.
            self.set_status(403)
            error = f"You cannot issue a code for {username!r}."
            self.finish(await self._render(user, error=error))
            return
        try:
            code = await asyncio.to_thread(
                store.issue_code, username, ttl_hours=self.authenticator.code_ttl_hours
            )
        except UnknownAccountError:
            raise web.HTTPError(404) from None
        self.log.info("%s issued a one-time code for %s", user.name, username)
        self.finish(await self._render(user, issued={"username": username, "code": code}))
