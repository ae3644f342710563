"""The "Use cases" page: template, route, script, and the page served by a live hub.

The page in a browser (register, upload, personal data, datasheet, notebook,
questionnaire, dossier) is in test_browser_usecase.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import requests
from ai4scale.hub.course import _pages
from ai4scale.hub.usecase import _page
from coursetest import person

PREFIX = "/services/course/"
SCRIPT = _pages.STATIC_DIR / "usecases.js"


def _context(**extra):
    ctx = {
        "base_url": PREFIX,
        "hub_url": "/hub/",
        "static": lambda path: f"{PREFIX}static/{path}?v=1",
        "xsrf_token": "token-123",
        "user": "<script>alert(1)</script>",
        "instructor": False,
        "in_team": True,
        "brand": "AI4Scale Sandbox",
        "page_id": "usecases",
        "nav": "usecases",
        "page_title": "Use cases",
        "usecase": "",
        "max_upload": 200_000_000,
        "teams": ["t1"],
        "annex_iii": _page.annex_iii_choices(),
        "protected_kinds": _page.PROTECTED_KINDS,
    }
    ctx.update(extra)
    return ctx


def _render(**extra):
    return _page._ENV.get_template("usecases.html").render(_context(**extra))


def test_page_for_a_team_member():
    html = _render()
    for needle in [
        'id="register-form"',
        'id="uc-area"',
        'value="not-high-risk"',
        'id="uc-reason"',
        '<option value="t1">t1</option>',
        'id="dataset-file"',
        'id="dataset-progress"',
        'data-max-upload="200000000"',
        "At most 200 MB.",
        'id="model-file"',
        "Files ending in .pkl",
        'id="notebook-generate"',
        'id="questionnaire"',
        'id="download-report"',
        'id="download-export"',
        "usecases.js",
        'href="/services/course/usecases"',
        'aria-current="page"',
    ]:
        assert needle in html, needle
    # Every point of Annex III the API accepts can be picked, grouped by the eight areas.
    from ai4scale.hub.usecase._store import ANNEX_III

    for value in ANNEX_III:
        assert f'<option value="{value}">' in html, value
    groups = re.findall(r'<optgroup label="([^"]+)">', html)
    assert [g.split(".")[0] for g in groups] == list("12345678")
    assert "5. Access to essential private and public services and benefits" in groups
    assert re.search(r'<option value="5a">5\(a\) Public assistance', html)
    assert "<script>alert(1)</script>" not in html
    assert "usecase-no-team" not in html


def test_page_for_an_instructor_and_for_someone_in_no_team():
    html = _render(instructor=True, in_team=False, teams=["t1", "t2"])
    assert "All teams&#39; use cases" in html and 'data-instructor="yes"' in html
    assert '<option value="">Choose a team…</option>' in html and '<option value="t2">' in html
    lonely = _render(in_team=False, teams=[])
    assert 'id="usecase-no-team"' in lonely and 'id="register-form"' not in lonely


def test_nav_link_only_for_team_members_and_instructors():
    learner = _pages._ENV.get_template("learner.html")
    base = {**_context(), "nav": "learner", "page_id": "learner"}
    link = f'href="{PREFIX}usecases"'
    assert link in learner.render({**base, "in_team": True})
    assert link in learner.render({**base, "in_team": False, "instructor": True})
    assert link not in learner.render({**base, "in_team": False})


def test_every_label_names_a_field_and_nothing_is_inline_or_external():
    html = _render(instructor=True)
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    for target in re.findall(r'<label[^>]*\bfor="([^"]+)"', html):
        assert target in ids, target
    for field in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
        if 'type="hidden"' in field:
            continue
        fid = re.search(r'\bid="([^"]+)"', field).group(1)
        assert f'for="{fid}"' in html, field
    # No inline handlers or scripts, no resource from elsewhere.
    assert not re.search(r"\son[a-z]+\s*=", html)
    assert not re.search(r"<script>(?!\s*</script>)", html)
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_route():
    patterns = [p for p, handler, *_ in _pages.page_handlers() if handler is _page.UseCasesPage]
    assert len(patterns) == 1, "the use-case page is registered once"
    pattern = patterns[0]
    assert re.fullmatch(PREFIX + pattern, "/services/course/usecases")
    assert re.fullmatch(PREFIX + pattern, "/services/course/usecases/")
    m = re.fullmatch(PREFIX + pattern, "/services/course/usecases/t1-benefits")
    assert m and m.group(1) == "t1-benefits"
    assert not re.fullmatch(PREFIX + pattern, "/services/course/usecases/a/b")
    assert not _page.UseCasesPage.instructor_only


def test_script_parses_and_follows_the_house_rules():
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("node is not installed: ./sandbox test installs Debian's nodejs")
        pytest.skip("node is not installed (./sandbox test installs it)")
    run = subprocess.run([node, "--check", str(SCRIPT)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    text = SCRIPT.read_text()
    assert "innerHTML" not in text and "document.write" not in text
    # Upload progress through an event listener on the request's upload (not onprogress =).
    assert 'xhr.upload.addEventListener("progress"' in text
    assert not re.search(r"\.on[a-z]+\s*=", text)
    assert '"X-XSRFToken"' in text
    assert not re.search(r"https?://", text)


# -- the page from a live hub ------------------------------------------------------------


def _page_as(hub, name, path="usecases"):
    headers = {"Authorization": f"token {person(hub, name)}"} if name else {}
    return requests.get(
        f"{hub.url}{PREFIX}{path}", headers=headers, allow_redirects=False, timeout=60
    )


@pytest.mark.hub
def test_live_page_for_a_team_member(hub):
    r = _page_as(hub, "tom")
    assert r.status_code == 200, r.text
    assert "text/html" in r.headers["Content-Type"]
    assert 'id="register-form"' in r.text and '<option value="t1">t1</option>' in r.text
    assert 'aria-current="page"' in r.text and f'href="{PREFIX}usecases"' in r.text
    assert 'data-max-upload="200000000"' in r.text  # the service's limit, said before sending
    # The script the page names is served.
    src = re.search(r'src="([^"]*usecases\.js\?v=[0-9a-f]+)"', r.text).group(1)
    js = requests.get(hub.url + src, timeout=30)
    assert js.status_code == 200 and "XMLHttpRequest" in js.text
    # A use case's own address shows the same page, opened on it.
    r = _page_as(hub, "tom", "usecases/t1-example")
    assert r.status_code == 200 and 'data-usecase="t1-example"' in r.text


@pytest.mark.hub
def test_live_page_for_an_instructor(hub):
    r = _page_as(hub, "tina")
    assert r.status_code == 200, r.text
    assert "All teams&#39; use cases" in r.text
    assert '<option value="t1">t1</option>' in r.text  # every team of the hub


@pytest.mark.hub
def test_live_page_for_someone_in_no_team(hub):
    r = _page_as(hub, "theo")
    assert r.status_code == 200, r.text
    assert 'id="usecase-no-team"' in r.text and 'id="register-form"' not in r.text
    assert f'href="{PREFIX}usecases"' not in r.text.split("<main", 1)[0]  # not in the menu


@pytest.mark.hub
def test_live_page_refused_when_not_logged_in(hub):
    r = _page_as(hub, None)
    assert r.status_code == 302, r.text
    assert (
        "/hub/api/oauth2/authorize" in r.headers["Location"] or "/login" in (r.headers["Location"])
    )
    assert 'id="register-form"' not in r.text
    r = _page_as(hub, "tom", "usecases/..%2F..%2Fetc")
    assert r.status_code in (400, 404)
