"""Failed sign-ins limited per network address, on a hub of its own (a real hub and proxy).

The hub here allows 4 failed logins per address within 20 s
(``[auth] ip_failed_logins``, ``ip_window_seconds``). Requests come from
different loopback addresses (127.0.0.2, 127.0.0.3), as from two offices.
The same hub, with an administrator, serves the admin page's test: JupyterHub's
React admin page runs under the Content-Security-Policy.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import hubtest
import pytest
import requests
from requests.adapters import HTTPAdapter

pytestmark = pytest.mark.hub

LIMIT = 4
WINDOW = 20
PREFIX = os.environ.get("AI4SCALE_TEST_USER_PREFIX_IP", "ai4i-")
CGROUP = "ai4scale-test-ip"
ROSTER = {
    "ops": ("instructor", "", "operator-pass-123"),
    "olga": ("learner", "", "learner-pass-olga"),
    "otto": ("learner", "", "learner-pass-otto"),
}
MESSAGE = "Too many failed sign-ins from your network. Try again in 1 minute."


@pytest.fixture(scope="module")
def limited_hub():
    from ai4scale.hub import load_settings
    from ai4scale.hub.accounts import AccountStore
    from ai4scale.hub.installer import install_steps
    from ai4scale.hub.roster import read_roster

    if os.geteuid() != 0:
        pytest.fail("the hub tests start JupyterHub as root: run them as root (./sandbox test)")
    state = Path(tempfile.mkdtemp(prefix="ai4scale-iplimit-"))
    path, settings = hubtest.write_settings(
        state, user_prefix=PREFIX, cgroup_parent=CGROUP, hub_extra='admin_users = ["ops"]'
    )
    text = path.read_text().replace(
        "[auth]\n", f"[auth]\nip_failed_logins = {LIMIT}\nip_window_seconds = {WINDOW}\n", 1
    )
    path.write_text(text)
    settings = load_settings(path)
    for step in install_steps(demo=False, datasets=False):
        step(settings)
    store = AccountStore.from_settings(settings)
    store.import_roster(read_roster(hubtest.write_roster(state / "roster.csv", ROSTER)))
    for username, (_, _, password) in ROSTER.items():
        store.set_password(username, password)
    hub = hubtest.start_hub(settings, path)
    try:
        yield hub
    finally:
        try:
            hubtest.stop_hub(hub)
        finally:
            hubtest.remove_accounts(PREFIX, CGROUP)
            shutil.rmtree(state, ignore_errors=True)
            shutil.rmtree(settings["paths"]["datasets_dir"], ignore_errors=True)


class _SourceAdapter(HTTPAdapter):
    def __init__(self, address):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        return super().init_poolmanager(*args, **kwargs)


def from_address(address):
    """A browser session whose connections come from ``address`` (a loopback alias)."""
    s = requests.Session()
    s.mount("http://", _SourceAdapter(address))
    return s


def sign_in(s, hub, username, password, **headers):
    # The headers go with both requests: JupyterHub ties a visitor's form token to the
    # address it believes (which X-Real-Ip sways), so the form must come with them too.
    s.headers.update(headers)
    r = s.get(hub.url + "/hub/login", timeout=30)
    assert r.status_code == 200
    return s.post(
        hub.url + "/hub/login",
        data={"username": username, "password": password, "_xsrf": s.cookies.get("_xsrf")},
        allow_redirects=False,
        timeout=30,
    )


def signed_in(r):
    return r.status_code == 302 and "jupyterhub-session-id" in r.headers.get("Set-Cookie", "")


def test_failed_logins_from_one_address_are_limited(limited_hub):
    hub = limited_hub
    office = from_address("127.0.0.2")
    start = time.monotonic()
    # Four failures with different usernames: no account is locked (3 per account).
    for username in ("olga", "otto", "nobody", "ops"):
        r = sign_in(office, hub, username, "wrong-password")
        assert r.status_code == 403, (username, r.status_code)
        assert "Invalid username or password" in r.text
    # The next attempt from that address is refused with 429 and a plain message,
    r = sign_in(office, hub, "someone", "guess")
    assert r.status_code == 429, r.text[:500]
    assert MESSAGE in r.text
    # the right password too (refused before it is checked),
    r = sign_in(from_address("127.0.0.2"), hub, "olga", ROSTER["olga"][2])
    assert r.status_code == 429 and MESSAGE in r.text
    assert not signed_in(r)
    # and headers a client writes itself do not make it another address.
    r = sign_in(
        from_address("127.0.0.2"),
        hub,
        "olga",
        ROSTER["olga"][2],
        **{"X-Forwarded-For": "203.0.113.9", "X-Real-Ip": "203.0.113.9"},
    )
    assert r.status_code == 429, re.findall(r"login_error[^<]*", r.text)
    # Another office (address) signs in as usual, the same account included.
    r = sign_in(from_address("127.0.0.3"), hub, "olga", ROSTER["olga"][2])
    assert signed_in(r), (r.status_code, r.text[:300])
    # Once the failures are older than the window, the first office signs in again.
    time.sleep(max(0.0, start + WINDOW + 1 - time.monotonic()))
    r = sign_in(from_address("127.0.0.2"), hub, "otto", ROSTER["otto"][2])
    assert signed_in(r), (r.status_code, r.text[:300])
    log = hub.log_text()
    assert "Login refused from 127.0.0.2: too many failed logins" in log
    assert "from 203.0.113.9" not in log


@pytest.mark.browser
def test_admin_page_under_the_policy(limited_hub, artifacts):
    """JupyterHub's React admin page lists the users, with its settings from a JSON block."""
    from browsertest import launch, watch
    from playwright.sync_api import sync_playwright

    hub = limited_hub
    s = from_address("127.0.0.4")
    assert signed_in(sign_in(s, hub, "ops", ROSTER["ops"][2]))
    r = s.get(hub.url + "/hub/admin", timeout=30)
    assert r.status_code == 200
    script_src = r.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    assert script_src.split() == ["'self'"], script_src
    assert 'id="ai4scale-admin-config"' in r.text
    refused = []
    with sync_playwright() as p:
        browser = launch(p)
        try:
            context = watch(browser.new_context(viewport={"width": 1280, "height": 900}))
            page = context.new_page()
            page.on(
                "console",
                lambda m: "Content Security Policy" in m.text and refused.append(m.text),
            )
            page.goto(f"{hub.url}/hub/login?next=/hub/admin")
            page.fill("#username_input", "ops")
            page.fill("#password_input", ROSTER["ops"][2])
            page.click("#login_submit")
            page.wait_for_url(f"{hub.url}/hub/admin")
            page.locator("#react-admin-hook", has_text="olga").wait_for(timeout=60_000)
            assert page.evaluate("window.api_page_limit") > 0
            assert page.evaluate("window.base_url") == "/hub/"
            page.screenshot(path=str(artifacts / "csp-admin.png"))
        finally:
            browser.close()
    assert not refused, refused
