"""Security headers on every page a learner, an instructor or a visitor sees (a real hub).

Each page answers with a Content-Security-Policy whose scripts come from files
only (no 'unsafe-inline', no 'unsafe-eval'), ``X-Content-Type-Options:
nosniff`` and ``Referrer-Policy: same-origin``; the hub's pages may not be
framed, the course's only by the same origin (JupyterLab's "My labs" panel).
No template of ours keeps an inline script or an ``on...=`` handler.
"""

from __future__ import annotations

import re
from pathlib import Path

import hubtest
import pytest
import requests
from conftest import ROSTER
from coursetest import api, make_lab

HUB = Path(__file__).resolve().parent.parent / "hub"
TEMPLATE_DIRS = [HUB / "templates", HUB / "course" / "templates", HUB / "usecase" / "templates"]
STOCK_TEMPLATES = Path("/opt/ai4scale/venv/share/jupyterhub/templates")


def directives(policy):
    """``{"script-src": ["'self'"], ...}`` of a Content-Security-Policy header."""
    out = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def check_headers(r, *, framed_by):
    """Assert the three headers, a script policy without inline code, and the framing rule."""
    where = f"{r.request.method} {r.url} ({r.status_code})"
    policy = r.headers.get("Content-Security-Policy", "")
    assert policy, f"no Content-Security-Policy on {where}"
    d = directives(policy)
    scripts = d.get("script-src", d.get("default-src"))
    assert scripts == ["'self'"], f"script-src {scripts} on {where}"
    assert "'unsafe-inline'" not in " ".join(d.get("default-src", [])), where
    assert "'unsafe-eval'" not in policy, where
    assert d.get("object-src") == ["'none'"], where
    assert d.get("frame-ancestors") == [framed_by], f"frame-ancestors {d} on {where}"
    assert r.headers.get("X-Content-Type-Options") == "nosniff", where
    assert r.headers.get("Referrer-Policy") == "same-origin", where
    if framed_by == "'self'":
        assert r.headers.get("X-Frame-Options") == "SAMEORIGIN", where


# -- templates: no inline script, no inline event handler ---------------------------------


def _templates():
    return sorted(p for d in TEMPLATE_DIRS for p in d.rglob("*.html"))


def test_templates_have_no_inline_code():
    assert len(_templates()) > 20
    bad = []
    for path in _templates():
        text = re.sub(r"\{#.*?#\}", "", path.read_text(), flags=re.S)  # not comments
        for m in re.finditer(r"<script\b([^>]*)>", text, re.I):
            attrs = m.group(1)
            if "src=" not in attrs and 'type="application/json"' not in attrs:
                bad.append(f"{path.relative_to(HUB)}: inline <script{attrs}>")
        for m in re.finditer(r"<[a-z][^>]*\s(on[a-z]+)\s*=", text, re.I):
            bad.append(f"{path.relative_to(HUB)}: handler attribute {m.group(1)}=")
        if re.search(r"""(href|src)\s*=\s*["']\s*javascript:""", text, re.I):
            bad.append(f"{path.relative_to(HUB)}: javascript: URL")
    assert not bad, "\n".join(bad)


def test_every_stock_template_with_an_inline_script_is_overridden():
    """JupyterHub's templates that run inline code are replaced by ours (same name)."""
    stock = {
        p.name
        for p in STOCK_TEMPLATES.glob("*.html")
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", p.read_text())
    }
    assert {"page.html", "login.html", "home.html", "admin.html"} <= stock
    assert stock <= {p.name for p in (HUB / "templates").glob("*.html")}, stock


def test_policy_of_the_configuration():
    from ai4scale.hub import apply_config, default_settings
    from ai4scale.hub._security import StaticFilesHandler
    from traitlets.config import Config

    c = apply_config(Config(), default_settings())
    headers = c.JupyterHub.tornado_settings["headers"]
    assert directives(headers["Content-Security-Policy"])["frame-ancestors"] == ["'none'"]
    assert c.JupyterHub.tornado_settings["static_handler_class"] is StaticFilesHandler


# -- a real hub ----------------------------------------------------------------------------


def browser(hub, name):
    s, r = hubtest.login(hub, name, ROSTER[name][2])
    assert r.status_code == 302, r.text[:300]
    return s


def get(s, hub, path, status=200, **kw):
    r = s.get(hub.url + path, timeout=60, **kw)
    assert r.status_code == status, (path, r.status_code, r.text[:300])
    return r


@pytest.mark.hub
def test_hub_pages(hub):
    anonymous = requests.Session()
    check_headers(get(anonymous, hub, "/hub/login"), framed_by="'none'")
    if hub.settings["auth"]["type"] == "roster":
        check_headers(get(anonymous, hub, "/hub/set-password"), framed_by="'none'")
    learner = browser(hub, "theo")
    check_headers(get(learner, hub, "/hub/home"), framed_by="'none'")
    check_headers(get(learner, hub, "/hub/no-such-page", 404), framed_by="'none'")
    check_headers(get(learner, hub, "/hub/admin", 403), framed_by="'none'")
    instructor = browser(hub, "tina")
    check_headers(get(instructor, hub, "/hub/token"), framed_by="'none'")
    check_headers(get(instructor, hub, "/hub/codes"), framed_by="'none'")
    # The login form answering an error (a wrong password) is a page too.
    r = anonymous.post(
        hub.url + "/hub/login",
        data={"username": "nobody-here", "password": "wrong", "_xsrf": anonymous.cookies["_xsrf"]},
        timeout=30,
    )
    assert r.status_code == 403 and "Invalid username or password" in r.text
    check_headers(r, framed_by="'none'")
    # The hub's API answers JSON with the same headers.
    r = hubtest.session_api(learner, hub, "GET", "/user")
    assert r.status_code == 200
    check_headers(r, framed_by="'none'")


@pytest.mark.hub
def test_not_running_and_spawn_pending_pages(hub):
    learner = browser(hub, "tread")
    if hub.admin("GET", "/users/tread").json().get("server"):
        hubtest.stop(hub, "tread")
    r = get(learner, hub, "/hub/user/tread/lab", 424)
    assert "not running" in r.text.lower() or "not-running" in r.text
    check_headers(r, framed_by="'none'")
    r = hub.admin("POST", "/users/tread/server")
    assert r.status_code in (201, 202), r.text
    try:
        r = learner.get(hub.url + "/hub/spawn-pending/tread", timeout=60, allow_redirects=False)
        # Pending (the page with the progress bar), or already up (a redirect to it).
        assert r.status_code in (200, 302), r.text[:300]
        check_headers(r, framed_by="'none'")
        if r.status_code == 200:
            assert "ai4scale/spawn-pending.js" in r.text
    finally:
        hubtest.wait_until(
            lambda: hub.admin("GET", "/users/tread").json()["servers"].get("", {}).get("ready"),
            timeout=120,
        )
        hubtest.stop(hub, "tread")


@pytest.mark.hub
def test_hub_scripts_are_served_and_nothing_beside_them(hub):
    s = requests.Session()
    r = get(s, hub, "/hub/static/ai4scale/page.js")
    assert "ai4scale-page-data" in r.text
    assert r.headers["Content-Type"].startswith(("application/javascript", "text/javascript"))
    assert r.headers.get("X-Content-Type-Options") == "nosniff"
    get(s, hub, "/hub/static/js/home.js")  # JupyterHub's own files are still there
    for path in ("ai4scale/../../../../etc/passwd", "ai4scale/%2e%2e/_security.py"):
        r = s.get(f"{hub.url}/hub/static/{path}", timeout=30)
        assert r.status_code in (403, 404), (path, r.status_code)
        assert "root:" not in r.text and "import" not in r.text


@pytest.mark.hub
def test_course_pages(hub):
    lab = make_lab(hub, "headers-lab")
    r = api(hub, "tina").post("/instructor/releases", json={"lab": lab})
    assert r.status_code == 201, r.text
    learner = browser(hub, "tom")
    for path in ("", "?embed=1", "usecases"):
        check_headers(get(learner, hub, f"/services/course/{path}"), framed_by="'self'")
    check_headers(get(learner, hub, "/services/course/instructor/", 403), framed_by="'self'")
    check_headers(get(learner, hub, "/services/course/no/such/page", 404), framed_by="'self'")
    instructor = browser(hub, "tina")
    for path in (
        "instructor/",
        "instructor/gradebook",
        f"instructor/labs/{lab}",
        f"instructor/labs/{lab}/dashboard",
        "usecases",
        "?as=learner",
    ):
        check_headers(get(instructor, hub, f"/services/course/{path}"), framed_by="'self'")
    # The JSON API and its errors carry them too.
    r = api(hub, "tom").get("/me")
    check_headers(r, framed_by="'self'")
    r = api(hub, "tom").get("/instructor/labs")
    assert r.status_code == 403
    check_headers(r, framed_by="'self'")
