"""Our pages under their Content-Security-Policy in headless Chromium: nothing blocked, all works.

Every page records Content-Security-Policy violations (the browser's
``securitypolicyviolation`` event, and the "Refused to ..." console messages);
there must be none. And what the moved scripts do still happens: the password
shows and hides on the login page, the spawn-pending page follows the start
into JupyterLab, the course page embeds in JupyterLab and its Get button gets
the lab, the home page's Stop button stops the server, the token page makes a
token, the instructor's Teaching page lists the labs.
"""

from __future__ import annotations

import os
import re
import signal
import threading
from urllib.parse import quote

import hubtest
import pytest
from browsertest import expect_errors, launch, watch
from conftest import ROSTER
from coursetest import api, make_lab

pytestmark = [pytest.mark.hub, pytest.mark.browser]

LEARNER = "tom"
INSTRUCTOR = "tina"
LAB = "csp-lab"

#: Runs in every page and frame before the page's own scripts (not subject to its policy).
RECORD_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.warn("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline")
    + " in " + e.documentURI + ":" + e.lineNumber);
});
"""


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def released(hub):
    lab = make_lab(hub, LAB)
    r = api(hub, INSTRUCTOR).post(
        "/instructor/releases", json={"lab": lab, "due": "2099-06-01T12:00:00Z"}
    )
    assert r.status_code == 201, r.text
    return lab


class Violations(list):
    """CSP violations and "Refused to ..." messages seen by a browser context's pages."""

    def watch(self, context):
        context.add_init_script(RECORD_VIOLATIONS)
        context.on("page", self._page)
        return context

    def _page(self, page):
        def on_console(msg):
            text = msg.text
            if text.startswith("CSP violation") or "Content Security Policy" in text:
                self.append(f"{page.url}: {text}")

        page.on("console", on_console)


def new_page(browser, violations):
    context = watch(browser.new_context(viewport={"width": 1280, "height": 900}))
    context.set_default_timeout(60_000)
    violations.watch(context)
    return context.new_page()


def login(page, hub, username, next_path):
    page.goto(f"{hub.url}/hub/login?next={quote(next_path)}")
    page.fill("#username_input", username)
    page.fill("#password_input", ROSTER[username][2])
    page.click("#login_submit")
    page.wait_for_url(re.compile(re.escape(next_path) + r"(\?.*)?$"))


def server(hub, name):
    return hub.admin("GET", f"/users/{name}").json().get("servers", {}).get("", {})


def test_learner_pages_work_without_inline_scripts(browser, hub, released, artifacts):
    violations = Violations()
    if server(hub, LEARNER):
        hubtest.stop(hub, LEARNER)
    page = new_page(browser, violations)

    # Login page: the password toggle (moved to login.js) shows and hides the password.
    page.goto(f"{hub.url}/hub/login")
    page.fill("#password_input", "secret")
    page.click("#toggle_password_visibility")
    assert page.get_attribute("#password_input", "type") == "text"
    page.click("#toggle_password_visibility")
    assert page.get_attribute("#password_input", "type") == "password"
    assert page.evaluate("window.jhdata && window.jhdata.base_url") == "/hub/"
    login(page, hub, LEARNER, "/hub/home")

    # Spawn pending: its script (spawn-pending.js) follows the progress into JupyterLab.
    # A start that ends within 10 s is never seen pending (the API waits for it),
    # so the new server is held (SIGSTOP) until the page follows its progress.
    starting = threading.Thread(target=hub.admin, args=("POST", f"/users/{LEARNER}/server"))
    starting.start()
    pid = hubtest.wait_until(lambda: hubtest.server_pid(LEARNER), timeout=60, interval=0.02)
    assert pid, "the learner's server did not start"
    os.kill(pid, signal.SIGSTOP)
    try:
        page.goto(f"{hub.url}/hub/spawn-pending/{LEARNER}")
        assert "/spawn-pending/" in page.url, page.url
        page.wait_for_selector("#progress-bar", state="attached")
    finally:
        os.kill(pid, signal.SIGCONT)
    starting.join(120)
    page.wait_for_url(re.compile(rf"/user/{LEARNER}/lab"), timeout=180_000)
    page.wait_for_selector(".jp-LabShell", timeout=120_000)

    # JupyterLab (same origin) may frame the course page, as the "My labs" panel does.
    embedded = page.evaluate(
        """async (src) => {
          const frame = document.createElement("iframe");
          frame.src = src;
          const loaded = new Promise((resolve) => frame.addEventListener("load", resolve));
          document.body.appendChild(frame);
          await loaded;
          await new Promise((resolve) => setTimeout(resolve, 500));
          try { return frame.contentDocument.body.dataset.page || "no page"; }
          catch (e) { return "blocked: " + e; }
        }""",
        f"{hub.url}/services/course/?embed=1",
    )
    assert embedded == "learner", embedded

    # The course page: its Get button gets the lab into the learner's folder.
    page.goto(f"{hub.url}/services/course/")
    card = page.locator(f'section.course-lab[data-lab="{LAB}"]')
    card.wait_for()
    card.locator("button.course-get").click()
    card.locator(".course-status", has_text="In progress").wait_for()
    page.screenshot(path=str(artifacts / "csp-course.png"))

    # Use cases (the learner's team page) renders from its script.
    page.goto(f"{hub.url}/services/course/usecases")
    page.wait_for_selector("#usecase-list:not([aria-busy])", state="attached")

    # Hub home: JupyterHub's home.js (window.jhdata from page.js) stops the server.
    page.goto(f"{hub.url}/hub/home")
    page.click("#stop")
    assert hubtest.wait_until(lambda: not server(hub, LEARNER), timeout=120), server(hub, LEARNER)

    # Not running, and an unknown hub page: scripts of error.html and not_running.html.
    with expect_errors(r"status of (404|424)"):
        page.goto(f"{hub.url}/hub/user/{LEARNER}/lab")
        page.wait_for_selector("#start")
        page.wait_for_function("window._jupyterhub_page_loaded === true")
        page.goto(f"{hub.url}/hub/no-such-page?redirects=2")
        page.wait_for_selector("#ai4scale-error")
        page.wait_for_function("!window.location.search.includes('redirects')")
    page.context.close()
    assert not violations, "\n".join(violations)


def test_instructor_pages_work_without_inline_scripts(browser, hub, released, artifacts):
    violations = Violations()
    page = new_page(browser, violations)
    login(page, hub, INSTRUCTOR, "/services/course/instructor/")
    page.wait_for_selector(f'#labs-table tr[data-lab="{LAB}"]')
    for path in (
        f"instructor/labs/{LAB}",
        f"instructor/labs/{LAB}/dashboard",
        "instructor/gradebook",
        "usecases",
    ):
        page.goto(f"{hub.url}/services/course/{path}")
        page.wait_for_load_state("networkidle")
    # The token page: JupyterHub's token.js makes a token.
    page.goto(f"{hub.url}/hub/token")
    page.fill("#token-note", "csp test")
    page.click("#request-token-form button[type=submit]")
    page.wait_for_selector("#token-area", state="visible")
    assert re.fullmatch(r"[0-9a-f]{32,}", page.inner_text("#token-result").strip())
    page.goto(f"{hub.url}/hub/codes")
    page.wait_for_selector("#codes-accounts")
    page.screenshot(path=str(artifacts / "csp-token.png"))
    page.context.close()
    assert not violations, "\n".join(violations)


def test_a_violation_would_be_seen(browser):
    """The recorder itself: an inline script under our policy is blocked and reported."""
    from ai4scale.hub._security import security_headers

    violations = Violations()
    page = new_page(browser, violations)
    url = "http://127.0.0.1:9/hub/csp-check"  # answered by the route, never sent
    page.route(
        url,
        lambda route: route.fulfill(
            status=200,
            headers={**security_headers(), "Content-Type": "text/html"},
            body="<html><body><script>document.title = 'ran'</script>"
            "<button onclick=\"document.title='clicked'\">x</button></body></html>",
        ),
    )
    with expect_errors("Content Security Policy"):
        page.goto(url)
        page.click("button")
    assert page.title() != "ran" and page.title() != "clicked"
    page.context.close()
    assert len(violations) >= 2 and any("script-src" in v for v in violations), violations
