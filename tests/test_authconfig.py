"""Authenticators as configuration: roster, OIDC and LTI 1.3.

Each test applies the settings with the configurer, builds the real
authenticator class from the resulting Config, and checks that roster members
get in and others do not. The OIDC test talks HTTP to a small identity
provider served by tornado on loopback (token and userinfo endpoints).
"""

from __future__ import annotations

import json

import pytest
from ai4scale.hub import apply_config, load_settings
from ai4scale.hub.accounts import AccountStore
from ai4scale.hub.authconfig import roster_allowed_users
from ai4scale.hub.roster import RosterEntry
from jupyterhub.app import JupyterHub
from ltiauthenticator.lti13.constants import LTI13_CUSTOM_CLAIM
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from tornado.web import Application, RequestHandler
from traitlets.config import Config

ROSTER = [
    RosterEntry("anna", "Anna A.", "learner", "t1"),
    RosterEntry("ines", "Ines I.", "instructor"),
]


def settings_for(tmp_path, text, *, roster=True):
    state = tmp_path / "state"
    path = tmp_path / "ai4scale.toml"
    path.write_text(f'{text}\n[paths]\nstate_dir = "{state}"\ndatasets_dir = "{tmp_path}"\n')
    settings = load_settings(path)
    if roster:
        store = AccountStore.from_settings(settings)
        store.import_roster(ROSTER)
        store.set_password("anna", "anna-password-1")
        store.close()
    return settings


def authenticator(settings):
    c = apply_config(Config(), settings)
    cls = JupyterHub(config=c).authenticator_class
    return c, cls(config=c)


async def test_roster_login(tmp_path):
    settings = settings_for(
        tmp_path,
        "[auth]\nlockout_attempts = 3\nlockout_seconds = 60\n"
        "min_password_length = 12\ncode_ttl_hours = 24",
    )
    c, auth = authenticator(settings)
    assert c.JupyterHub.authenticator_class == "ai4scale-roster"
    assert auth.accounts_url == f"sqlite:///{tmp_path}/state/accounts.sqlite"
    assert (auth.lockout_attempts, auth.lockout_seconds) == (3, 60)
    assert (auth.min_password_length, auth.code_ttl_hours) == (12, 24)
    # The roster authenticator needs no allow list from us.
    assert "allowed_users" not in c.Authenticator

    user = await auth.get_authenticated_user(
        None, {"username": "anna", "password": "anna-password-1"}
    )
    assert user["name"] == "anna"
    stranger = await auth.get_authenticated_user(
        None, {"username": "mallory", "password": "anna-password-1"}
    )
    assert stranger is None


class _Token(RequestHandler):
    def post(self):
        code = self.get_body_argument("code")
        self.write({"access_token": f"token-{code}", "token_type": "Bearer"})


class _UserInfo(RequestHandler):
    def get(self):
        token = self.request.headers["Authorization"].removeprefix("Bearer token-")
        self.write(json.dumps({"preferred_username": token, "email": f"{token}@example.eu"}))


@pytest.fixture
async def idp():
    """A minimal OAuth 2.0 identity provider: the code is the username."""
    sock, port = bind_unused_port()
    server = HTTPServer(Application([(r"/token", _Token), (r"/userinfo", _UserInfo)]))
    server.add_sockets([sock])
    yield f"http://127.0.0.1:{port}"
    server.stop()
    await server.close_all_connections()


async def test_oidc_roster_members_only(tmp_path, idp):
    settings = settings_for(
        tmp_path,
        '[hub]\nadmin_users = ["ops"]\n'
        '[auth]\ntype = "oidc"\n[auth.oidc]\nclient_id = "sandbox"\nclient_secret = "s3"\n'
        'oauth_callback_url = "https://sandbox.example.eu/hub/oauth_callback"\n'
        f'authorize_url = "{idp}/authorize"\ntoken_url = "{idp}/token"\n'
        f'userdata_url = "{idp}/userinfo"\nscope = ["openid", "profile"]',
    )
    c, auth = authenticator(settings)
    assert type(auth).__name__ == "GenericOAuthenticator"
    assert (auth.client_id, auth.client_secret) == ("sandbox", "s3")
    assert auth.oauth_callback_url == "https://sandbox.example.eu/hub/oauth_callback"
    assert auth.scope == ["openid", "profile"]
    assert auth.username_claim == "preferred_username"
    assert auth.allowed_users == {"anna", "ines", "ops"}
    assert not auth.allow_all

    async def login(code):
        token = await auth.get_token_info(None, {"code": code, "grant_type": "authorization_code"})
        name = auth.user_info_to_username(await auth.token_to_user(token))
        return name, await auth.check_allowed(name, {"name": name, "admin": None})

    assert await login("anna") == ("anna", True)
    assert await login("ops") == ("ops", True)
    assert await login("mallory") == ("mallory", False)


async def test_lti13_roster_members_only(tmp_path):
    settings = settings_for(
        tmp_path,
        '[auth]\ntype = "lti13"\n[auth.lti13]\nissuer = "https://lms.example.eu"\n'
        'client_id = ["lms-1", "lms-2"]\n'
        'authorize_url = "https://lms.example.eu/auth"\n'
        'jwks_endpoint = "https://lms.example.eu/jwks"\nusername_key = "custom_username"',
    )
    c, auth = authenticator(settings)
    assert type(auth).__name__ == "LTI13Authenticator"
    assert auth.client_id == {"lms-1", "lms-2"}
    assert auth.issuer == "https://lms.example.eu"
    assert auth.authorize_url == "https://lms.example.eu/auth"
    assert auth.jwks_endpoint == "https://lms.example.eu/jwks"
    assert auth.tool_name == settings["branding"]["name"]

    # What the LTI handler passes on after validating the platform's id_token.
    def id_token(username):
        return {"sub": "x1", LTI13_CUSTOM_CLAIM: {"username": username}}

    user = await auth.get_authenticated_user(None, id_token("ines"))
    assert user["name"] == "ines"
    assert await auth.get_authenticated_user(None, id_token("mallory")) is None


def test_no_roster_means_admins_only(tmp_path, caplog):
    settings = settings_for(
        tmp_path, '[hub]\nadmin_users = ["ops"]\n[auth]\ntype = "oidc"', roster=False
    )
    assert roster_allowed_users(settings) == {"ops"}
    assert "No roster" in caplog.text
    # And from_settings(create=False) did not create an empty store.
    assert not (tmp_path / "state" / "accounts.sqlite").exists()
