"""RosterAuthenticator directly, then in a small real JupyterHub (login, set-password, sync)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from ai4scale.hub.accounts import AccountStore
from ai4scale.hub.auth import RosterAuthenticator, SetPasswordHandler
from ai4scale.hub.hubapi import sync_hub
from ai4scale.hub.roster import RosterEntry
from tornado import web

TEMPLATES = Path(__file__).resolve().parent.parent / "hub" / "templates"
VENV_BIN = Path(sys.executable).parent

COURSE = [
    RosterEntry("amina", "Amina Haddad", "learner", "tax"),
    RosterEntry("eva", "Eva Novak", "instructor", None),
    RosterEntry("newbie", "New Learner", "learner", "tax"),
]


@pytest.fixture
def auth(tmp_path):
    url = f"sqlite:///{tmp_path}/accounts.sqlite"
    store = AccountStore(url)
    store.import_roster(COURSE)
    store.set_password("amina", "amina-password")
    authenticator = RosterAuthenticator(accounts_url=url, lockout_attempts=3, lockout_seconds=600)
    yield authenticator
    store.close()
    authenticator.store.close()


async def test_authenticate(auth):
    login = {"username": "amina", "password": "amina-password"}
    assert await auth.authenticate(None, login) == "amina"
    assert await auth.authenticate(None, {**login, "username": " AMINA "}) == "amina"
    assert await auth.authenticate(None, {**login, "password": "wrong-password"}) is None
    assert await auth.authenticate(None, {**login, "username": "mallory"}) is None
    assert await auth.authenticate(None, {"username": "amina", "password": ""}) is None
    assert await auth.authenticate(None, {}) is None


async def test_account_without_password_is_told_to_use_a_code(auth):
    with pytest.raises(web.HTTPError) as info:
        await auth.authenticate(None, {"username": "eva", "password": "any-password"})
    assert info.value.status_code == 403
    assert "one-time code" in info.value.log_message


async def test_lockout_message_and_refusal(auth):
    wrong = {"username": "amina", "password": "wrong-password"}
    assert await auth.authenticate(None, wrong) is None
    assert await auth.authenticate(None, wrong) is None
    with pytest.raises(web.HTTPError) as info:  # the third failure locks
        await auth.authenticate(None, wrong)
    assert "Invalid username or password" in info.value.log_message
    assert "locked for 10 minutes" in info.value.log_message
    with pytest.raises(web.HTTPError) as info:
        await auth.authenticate(None, {"username": "amina", "password": "amina-password"})
    assert info.value.status_code == 403 and "locked" in info.value.log_message
    auth.store.unlock("amina")
    assert await auth.authenticate(None, {"username": "amina", "password": "amina-password"})


async def test_check_allowed_follows_the_roster(auth):
    assert auth.allow_all is False
    assert auth.any_allow_config is True
    assert auth.check_allowed("amina") and auth.check_allowed("eva")
    assert not auth.check_allowed("mallory")
    # the full JupyterHub path: authenticate, normalize, allow
    model = await auth.get_authenticated_user(
        None, {"username": "Amina", "password": "amina-password"}
    )
    assert model["name"] == "amina"
    auth.store.import_roster([RosterEntry("eva", "Eva Novak", "instructor", None)])
    assert not auth.check_allowed("amina")
    assert auth.check_allowed("eva")


def test_handlers_and_missing_url():
    handlers = dict(RosterAuthenticator(accounts_url="sqlite://").get_handlers(None))
    assert handlers["/set-password"] is SetPasswordHandler
    assert "/login" in handlers
    with pytest.raises(ValueError, match="accounts_url"):
        RosterAuthenticator().store  # noqa: B018


# -- a real hub ----------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


HUB_CONFIG = """
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_port}"
c.JupyterHub.db_url = "sqlite:///{state}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{state}/cookie_secret"
c.JupyterHub.pid_file = "{state}/jupyterhub.pid"
c.JupyterHub.authenticator_class = "ai4scale-roster"
c.RosterAuthenticator.accounts_url = "sqlite:///{state}/accounts.sqlite"
c.RosterAuthenticator.lockout_attempts = 2
c.RosterAuthenticator.lockout_seconds = 600
c.JupyterHub.template_paths = ["{templates}"]
c.JupyterHub.template_vars = {{
    "ai4scale_name": "Test Programme",
    "ai4scale_description": "Learn it.",
}}
c.JupyterHub.services = [{{"name": "ai4scale-admin", "api_token": "{token}"}}]
c.JupyterHub.load_roles = [{{
    "name": "ai4scale-admin",
    "scopes": ["admin:users", "admin:groups", "admin:servers", "shares", "list:users"],
    "services": ["ai4scale-admin"],
}}]
c.Authenticator.admin_users = {{"operator"}}
"""


@pytest.fixture(scope="module")
def small_hub(tmp_path_factory):
    """JupyterHub with only our authenticator and templates (no servers are spawned)."""
    state = tmp_path_factory.mktemp("roster-hub")
    token = "0123456789abcdef" * 4
    (state / "admin-service-token").write_text(token + "\n")
    ports = {"port": free_port(), "hub_port": free_port(), "proxy_port": free_port()}
    config = state / "jupyterhub_config.py"
    config.write_text(HUB_CONFIG.format(state=state, templates=TEMPLATES, token=token, **ports))
    store = AccountStore(f"sqlite:///{state}/accounts.sqlite")
    store.import_roster(COURSE)
    store.set_password("amina", "amina-password")
    env = dict(os.environ, PATH=f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}")
    log = (state / "hub.log").open("w")
    proc = subprocess.Popen(
        [str(VENV_BIN / "jupyterhub"), "-f", str(config)],
        cwd=state,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{ports['port']}"
    settings = {
        "hub": {"port": ports["port"], "admin_users": ["operator"]},
        "paths": {"state_dir": str(state)},
    }
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(url + "/hub/api", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the hub did not start:\n" + (state / "hub.log").read_text()[-3000:])
            time.sleep(0.5)
        yield {"url": url, "store": store, "settings": settings, "token": token, "state": state}
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        store.close()


def error_text(html, element_id):
    m = re.search(rf'id="{element_id}"[^>]*>\s*([^<]*?)\s*<', html)
    return m.group(1) if m else None


def hub_login(url, username, password):
    s = requests.Session()
    s.get(url + "/hub/login", timeout=30)
    data = {"username": username, "password": password, "_xsrf": s.cookies.get("_xsrf", "")}
    r = s.post(url + "/hub/login", data=data, allow_redirects=False, timeout=30)
    m = re.search(r'class="login_error">([^<]*)<', r.text)
    return r, (m.group(1) if m else None)


@pytest.mark.hub
def test_login_page_is_branded_and_links_to_set_password(small_hub):
    page = requests.get(small_hub["url"] + "/hub/login", timeout=30).text
    assert "<title>Test Programme</title>" in page
    assert "Learn it." in page
    link = re.search(r'<a id="set_password_link"\s+href="([^"]+)">([^<]+)</a>', page)
    assert link, page
    assert link.group(1) == "/hub/set-password"
    assert "Set your password with the one-time code from your instructor" in link.group(2)


@pytest.mark.hub
def test_login_and_lockout_messages_in_a_real_hub(small_hub):
    url = small_hub["url"]
    r, _ = hub_login(url, "amina", "amina-password")
    assert r.status_code == 302
    r, message = hub_login(url, "eva", "whatever-password")
    assert r.status_code == 403 and "one-time code" in message
    r, message = hub_login(url, "mallory", "whatever-password")
    assert r.status_code == 403 and message == "Invalid username or password"
    r, message = hub_login(url, "amina", "wrong-password")
    assert r.status_code == 403 and message == "Invalid username or password"
    r, message = hub_login(url, "amina", "wrong-password")
    assert r.status_code == 403 and "now locked" in message
    r, message = hub_login(url, "amina", "amina-password")
    assert r.status_code == 403 and "locked" in message
    small_hub["store"].unlock("amina")
    assert hub_login(url, "amina", "amina-password")[0].status_code == 302


@pytest.mark.hub
def test_set_password_with_a_code_in_a_real_hub(small_hub):
    url, store = small_hub["url"], small_hub["store"]
    code = store.issue_code("newbie", ttl_hours=1)
    s = requests.Session()
    page = s.get(url + "/hub/set-password?username=newbie", timeout=30)
    assert page.status_code == 200
    assert 'value="newbie"' in page.text and "Test Programme" in page.text
    form = {
        "username": "newbie",
        "code": "AAAA-BBBB-CCCC-DDDD",
        "password": "newbie-password",
        "password_confirmation": "newbie-password",
        "_xsrf": s.cookies.get("_xsrf", ""),
    }

    def post(**changes):
        return s.post(
            url + "/hub/set-password", data={**form, **changes}, allow_redirects=False, timeout=30
        )

    r = post()
    assert r.status_code == 400 and "code is wrong" in error_text(r.text, "set_password_error")
    r = post(code=code, password_confirmation="other-password")
    assert r.status_code == 400 and "differ" in error_text(r.text, "set_password_error")
    r = post(code=code, password="short", password_confirmation="short")
    assert r.status_code == 400 and "at least 10" in error_text(r.text, "set_password_error")
    r = post(code=code.lower())
    assert r.status_code == 302, r.text
    assert r.headers["Location"] == "/hub/login?username=newbie&password_set=1"
    login_page = s.get(url + r.headers["Location"], timeout=30).text
    assert error_text(login_page, "login_message") == "Your password is set. Sign in with it now."
    assert 'value="newbie"' in login_page
    assert hub_login(url, "newbie", "newbie-password")[0].status_code == 302
    r = post(code=code, password="second-password", password_confirmation="second-password")
    assert r.status_code == 400  # the code worked once
    assert hub_login(url, "newbie", "second-password")[0].status_code == 403
    # a form without the XSRF token is refused with a readable message
    r = requests.post(url + "/hub/set-password", data={**form, "_xsrf": ""}, timeout=30)
    assert r.status_code == 403 and "expired" in r.text


@pytest.mark.hub
def test_sync_hub_makes_users_and_groups_match(small_hub):
    url, store, settings = small_hub["url"], small_hub["store"], small_hub["settings"]
    headers = {"Authorization": f"token {small_hub['token']}"}

    def hub_state():
        users = requests.get(url + "/hub/api/users", headers=headers, timeout=30).json()
        groups = requests.get(url + "/hub/api/groups", headers=headers, timeout=30).json()
        return {u["name"] for u in users}, {g["name"]: set(g["users"]) for g in groups}

    summary = sync_hub(settings, store)
    assert summary and "created" in summary
    users, groups = hub_state()
    assert {"amina", "eva", "newbie", "operator", "team-tax"} <= users
    assert groups["team-workspaces"] == {"team-tax"}  # the team's workspace (teams.py)
    assert groups["instructors"] == {"eva"}
    assert groups["learners"] == {"amina", "newbie"}
    assert groups["team-tax"] == {"amina", "newbie"}

    store.import_roster(
        [
            RosterEntry("amina", "Amina Haddad", "learner", "audit"),
            RosterEntry("eva", "Eva Novak", "instructor", None),
        ]
    )
    sync_hub(settings, store)
    users, groups = hub_state()
    assert "newbie" not in users and "operator" in users  # admins are never deleted
    assert "team-tax" not in users and groups["team-workspaces"] == {"team-audit"}
    assert groups["learners"] == {"amina"}
    assert groups["team-audit"] == {"amina"}
    assert "team-tax" not in groups
    assert "0 user(s) created, 0 deleted, 0 group change(s)" in sync_hub(settings, store)
    store.import_roster(COURSE)
    sync_hub(settings, store)


def test_sync_hub_without_a_hub_returns_none(tmp_path):
    store = AccountStore("sqlite://")
    settings = {
        "hub": {"port": free_port(), "admin_users": []},
        "paths": {"state_dir": str(tmp_path)},
    }
    assert sync_hub(settings, store) is None
