"""Authenticator configuration for ``auth.type``: roster, OIDC or LTI 1.3.

Each production authenticator is an existing package configured from the
settings, with no code of our own:

========  ==========================================  ===========================
type      authenticator                               settings
========  ==========================================  ===========================
roster    ``ai4scale-roster`` (:mod:`.auth`)          ``[auth]``
oidc      oauthenticator's ``GenericOAuthenticator``  ``[auth.oidc]``
lti13     ltiauthenticator's ``LTI13Authenticator``   ``[auth.lti13]``
========  ==========================================  ===========================

Only roster members may log in, whichever the authenticator. The roster
authenticator checks its own accounts table; for OIDC and LTI the roster's
usernames (plus the hub admins, so an operator can always get in) become
``Authenticator.allowed_users``. The username the identity provider sends
(``username_claim`` / ``username_key``) must therefore be the roster's
username, e.g. both use e-mail addresses.
"""

from __future__ import annotations

import logging

__all__ = ["AUTHENTICATOR_CLASSES", "roster_allowed_users", "update_auth"]

log = logging.getLogger(__name__)

#: ``auth.type`` -> value of ``c.JupyterHub.authenticator_class``.
AUTHENTICATOR_CLASSES = {
    "roster": "ai4scale-roster",
    "oidc": "generic-oauth",
    # jupyterhub-ltiauthenticator 1.6 declares no entry point: use the class path.
    "lti13": "ltiauthenticator.lti13.auth.LTI13Authenticator",
}


def accounts_url(settings):
    """Return the SQLAlchemy URL of the roster's accounts table.

    Parameters
    ----------
    settings : dict
        Loaded settings (``paths.state_dir``).

    Returns
    -------
    str
    """
    return f"sqlite:///{settings['paths']['state_dir']}/accounts.sqlite"


def roster_allowed_users(settings):
    """Return who may log in through an external identity provider.

    Parameters
    ----------
    settings : dict
        Loaded settings.

    Returns
    -------
    set of str
        The roster's usernames and the hub admins. Without a roster yet,
        only the admins (a warning is logged): an empty roster never means
        "everyone".
    """
    from .accounts import AccountStore

    allowed = set(settings["hub"]["admin_users"])
    store = AccountStore.from_settings(settings, create=False)
    if store is None:
        log.warning(
            "No roster in %s yet: only hub admins can log in with %s until "
            "one is imported (`ai4scale roster import`).",
            settings["paths"]["state_dir"],
            settings["auth"]["type"],
        )
        return allowed
    try:
        allowed.update(store.usernames())
    finally:
        store.close()
    return allowed


def _update_roster(c, settings):
    auth = settings["auth"]
    c.RosterAuthenticator.accounts_url = accounts_url(settings)
    c.RosterAuthenticator.lockout_attempts = auth["lockout_attempts"]
    c.RosterAuthenticator.lockout_seconds = auth["lockout_seconds"]
    c.RosterAuthenticator.ip_failed_logins = auth["ip_failed_logins"]
    c.RosterAuthenticator.ip_window_seconds = auth["ip_window_seconds"]
    c.RosterAuthenticator.min_password_length = auth["min_password_length"]
    c.RosterAuthenticator.code_ttl_hours = auth["code_ttl_hours"]


def _update_oidc(c, settings):
    oidc = settings["auth"]["oidc"]
    for key in (
        "client_id",
        "client_secret",
        "oauth_callback_url",
        "authorize_url",
        "token_url",
        "userdata_url",
        "username_claim",
    ):
        c.GenericOAuthenticator[key] = oidc[key]
    c.GenericOAuthenticator.scope = list(oidc["scope"])


def _update_lti13(c, settings):
    lti = settings["auth"]["lti13"]
    c.LTI13Authenticator.issuer = lti["issuer"]
    c.LTI13Authenticator.client_id = set(lti["client_id"])
    c.LTI13Authenticator.authorize_url = lti["authorize_url"]
    c.LTI13Authenticator.jwks_endpoint = lti["jwks_endpoint"]
    c.LTI13Authenticator.username_key = lti["username_key"]
    # What the LMS shows when the tool is installed from /hub/lti13/config.
    c.LTI13Authenticator.tool_name = settings["branding"]["name"]
    c.LTI13Authenticator.tool_description = settings["branding"]["description"]


_UPDATERS = {"roster": _update_roster, "oidc": _update_oidc, "lti13": _update_lti13}


def update_auth(c, settings):
    """Configure the authenticator chosen by ``auth.type``.

    Sets ``c.JupyterHub.authenticator_class`` and the chosen class's traits.
    For ``oidc`` and ``lti13`` also sets ``c.Authenticator.allowed_users``
    from the roster (see :func:`roster_allowed_users`) and
    ``allow_existing_users = True``, so a roster sync that adds or deletes hub
    users through the REST API takes effect without a restart. Hub admins are
    set by the configurer, not here.

    Parameters
    ----------
    c : traitlets.config.Config
        JupyterHub's configuration.
    settings : dict
        Loaded settings.
    """
    kind = settings["auth"]["type"]
    c.JupyterHub.authenticator_class = AUTHENTICATOR_CLASSES[kind]
    _UPDATERS[kind](c, settings)
    if kind != "roster":
        c.Authenticator.allow_all = False
        c.Authenticator.allow_existing_users = True
        c.Authenticator.allowed_users = roster_allowed_users(settings)
