"""The course pages without a hub: templates, routes, scripts and the dashboard's plots.

The pages in a browser, against a real hub, are in test_browser_course.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from ai4scale.hub.course import _pages
from ai4scale.hub.course._plots import (
    dashboard_plots,
    plot_late,
    plot_mean_per_item,
    plot_score_distribution,
    plot_submissions_over_time,
)

PREFIX = "/services/course/"

DASHBOARD = {
    "lab": "example-intro",
    "owners": 5,
    "submitted": 4,
    "submissions_over_time": [
        {"time": "2025-03-01T10:00:00+00:00", "submitted": 1},
        {"time": "2025-03-02T12:00:00+00:00", "submitted": 2},
        {"time": "2025-03-03T09:00:00+00:00", "submitted": 3},
        {"time": "2025-03-06T18:00:00+00:00", "submitted": 4},
    ],
    "score_distribution": {
        "bins": [0, 1.75, 3.5, 5.25, 7],
        "counts": [1, 0, 1, 2],
        "scores": [1, 4, 6, 7],
    },
    "mean_per_item": [
        {
            "notebook": "a.ipynb",
            "grade_id": "test_rates",
            "mean": 1.5,
            "max_points": 2,
            "graded": 4,
        },
        {
            "notebook": "a.ipynb",
            "grade_id": "gap_meaning",
            "mean": 0.5,
            "max_points": 2,
            "graded": 4,
        },
        {"notebook": "a.ipynb", "grade_id": "discuss", "mean": None, "max_points": 1, "graded": 0},
    ],
    "late": 1,
    "due": "2025-03-05T17:00:00+00:00",
}

EMPTY = {
    "lab": "example-intro",
    "owners": 0,
    "submitted": 0,
    "submissions_over_time": [],
    "score_distribution": {"bins": [0, 3.5, 7], "counts": [0, 0], "scores": []},
    "mean_per_item": [{"grade_id": "x", "mean": None, "max_points": 2, "graded": 0}],
    "late": 0,
    "due": None,
}


def _context(**extra):
    ctx = {
        "base_url": PREFIX,
        "hub_url": "/hub/",
        "static": lambda path: f"{PREFIX}static/{path}?v=1",
        "xsrf_token": "token-123",
        "user": "<script>alert(1)</script>",
        "instructor": True,
        "brand": "AI4Scale Sandbox",
        "page_id": "x",
        "nav": "learner",
        "page_title": "T",
        "embed": False,
    }
    ctx.update(extra)
    return ctx


@pytest.mark.parametrize(
    ("template", "extra", "needles"),
    [
        ("learner.html", {}, ['id="labs"', 'id="submit-dialog"', "learner.js", "trainer-note"]),
        ("instructor/index.html", {}, ['id="release-form"', 'type="datetime-local"']),
        ("instructor/lab.html", {"lab": "example-intro"}, ['id="autograde-bar"', 'id="collect"']),
        (
            "instructor/grade_item.html",
            {"lab": "example-intro", "grade_id": "gap_meaning"},
            ['data-grade-id="gap_meaning"', 'data-mode="item"'],
        ),
        (
            "instructor/grade_owner.html",
            {"lab": "example-intro", "owner": "anna"},
            ['data-owner="anna"', 'data-mode="owner"'],
        ),
        ("instructor/gradebook.html", {}, ["api/instructor/gradebook.csv", "gradebook.js"]),
        ("forbidden.html", {}, ["This page is for trainers"]),
        (
            "error.html",
            {"status": 404, "message": "no lab 'x'"},
            ["Not found", "no lab &#39;x&#39;"],
        ),
    ],
)
def test_templates_render_escaped(template, extra, needles):
    html = _pages._ENV.get_template(template).render(_context(**extra))
    for needle in needles:
        assert needle in html
    # Names from the hub are text, never markup.
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<meta name="xsrf-token" content="token-123">' in html
    assert '<html lang="en">' in html and 'href="#main"' in html


def test_embedded_learner_page_is_the_list_only():
    """Inside JupyterLab's My labs panel: no navigation bar, no long introduction."""
    full = _pages._ENV.get_template("learner.html").render(_context(instructor=False))
    embedded = _pages._ENV.get_template("learner.html").render(
        _context(instructor=False, embed=True)
    )
    assert '<nav class="navbar' in full and "Get the lab</strong> copies" in full
    assert '<nav class="navbar' not in embedded and "Get the lab</strong> copies" not in embedded
    assert 'data-embed="1"' in embedded and 'id="labs"' in embedded


def test_dashboard_template_with_plots():
    html = _pages._ENV.get_template("instructor/dashboard.html").render(
        _context(
            lab="example-intro",
            title="Approval rates",
            data=DASHBOARD,
            plots=dashboard_plots(DASHBOARD),
            mean_score=4.5,
            max_score=7.0,
        )
    )
    assert html.count('<svg role="img"') == 4
    assert html.count("<summary>Show the numbers</summary>") == 4
    assert "gap_meaning" in html


def test_dashboard_template_before_any_submission():
    html = _pages._ENV.get_template("instructor/dashboard.html").render(
        _context(
            lab="example-intro",
            title="Approval rates",
            data=EMPTY,
            plots=dashboard_plots(EMPTY),
            mean_score=None,
            max_score=7.0,
        )
    )
    assert "<svg" not in html
    assert "Nobody has submitted yet." in html
    assert "The lab is not released to anyone yet." in html


def _route(path):
    for pattern, handler, *_ in _pages.page_handlers():
        if re.fullmatch(PREFIX + pattern, path):
            return handler
    return None


def test_routes():
    assert _route("/services/course/") is _pages.LearnerPage
    assert _route("/services/course/instructor/") is _pages.InstructorIndexPage
    assert _route("/services/course/instructor") is _pages.InstructorIndexPage
    assert _route("/services/course/instructor/gradebook") is _pages.GradebookPage
    assert _route("/services/course/instructor/labs/x-1") is _pages.InstructorLabPage
    assert _route("/services/course/instructor/labs/x-1/items/q_1") is _pages.GradeItemPage
    assert _route("/services/course/instructor/labs/x-1/owners/anna") is _pages.GradeOwnerPage
    assert _route("/services/course/instructor/labs/x-1/dashboard") is _pages.DashboardPage
    assert _route("/services/course/static/course.js") is _pages.StaticHandler
    # Any other address gets the course's own 404 page (JSON under api/), not tornado's bare one.
    assert _route("/services/course/instructor/labs/x/y/z") is _pages.NotFoundPage
    assert _route("/services/course/nope") is _pages.NotFoundPage


def test_every_instructor_page_is_instructor_only():
    for _, handler, *_ in _pages.page_handlers():
        if handler.__name__ in {"LearnerPage", "StaticHandler", "UseCasesPage", "NotFoundPage"}:
            continue
        assert handler.instructor_only, handler


def test_static_urls_carry_a_version():
    url = _pages.PageHandler.static(type("H", (), {"service_prefix": PREFIX})(), "course.js")
    assert re.fullmatch(r"/services/course/static/course\.js\?v=[0-9a-f]+", url)


def test_scripts_parse():
    """Every script of the course pages is valid JavaScript (``node --check``).

    ``./sandbox test`` installs Debian's ``nodejs``; without it the test is
    skipped on a developer's machine and fails in CI (``CI=true``).
    """
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("node is not installed: ./sandbox test installs Debian's nodejs")
        pytest.skip("node is not installed (./sandbox test installs it)")
    scripts = sorted(_pages.STATIC_DIR.rglob("*.js"))
    assert scripts, f"no scripts under {_pages.STATIC_DIR}"
    for script in scripts:
        run = subprocess.run([node, "--check", str(script)], capture_output=True, text=True)
        assert run.returncode == 0, f"{script.name}:\n{run.stderr}"


def test_installed_package_has_every_page_and_script():
    """The installed copy (what the service runs) holds the checkout's templates and scripts."""
    from pathlib import Path

    checkout = Path(__file__).resolve().parents[1] / "hub" / "course"
    installed = _pages.STATIC_DIR.parent
    for folder in ("templates", "static"):
        files = sorted(p.relative_to(checkout) for p in (checkout / folder).rglob("*.*"))
        assert files, folder
        missing = [str(f) for f in files if not (installed / f).is_file()]
        assert not missing, f"not installed in {installed}: {missing}"


def test_scripts_never_write_html():
    # Data goes into the pages with textContent only: no innerHTML, no document.write.
    for script in _pages.STATIC_DIR.glob("*.js"):
        text = script.read_text()
        assert "innerHTML" not in text and "document.write" not in text, script.name


def test_plots_are_labelled_inline_svg():
    plots = dashboard_plots(DASHBOARD)
    assert set(plots) == {"progress", "scores", "items", "late"}
    for svg in plots.values():
        assert svg.startswith('<svg role="img" aria-label="')
        assert "<?xml" not in svg and "<!DOCTYPE" not in svg
        assert ' width="' not in svg.split(">", 1)[0]  # scales with the page
        assert "viewBox=" in svg.split(">", 1)[0]
    assert "4 of 5 have submitted" in plots["progress"]
    assert "hardest: gap_meaning" in plots["items"]
    assert "discuss" not in plots["items"].split(">", 1)[0]  # ungraded is not "hard"
    assert "3 on time, 1 late, 1 not submitted" in plots["late"]
    # Text stays text (searchable, read out), not glyph outlines.
    assert "<text" in plots["items"] and "gap_meaning" in plots["items"]


#: SHA-256 of the plots of DASHBOARD (matplotlib pinned in requirements.txt).
#: If you changed the plots (or matplotlib) on purpose, paste the digests the
#: failing test prints; if you did not, something made the SVG vary.
PLOT_DIGESTS = {
    "items": "f86113aca9e5058d7b1420a82591c5636edb3c6d8e221c56f77f64f9385914b3",
    "late": "57a0467497545b1b020f09f4e3ffcf6550a1af471b44839893ace57bb5a70065",
    "scores": "798a284ecd4c2c54cff6682601eb0b66af44049997e6b8a638f43ddcef92130d",
}

_PLOT_DIGESTS_SCRIPT = """
import hashlib, json, sys
from ai4scale.hub.course._plots import dashboard_plots
plots = dashboard_plots(json.loads(sys.stdin.read()))
names = json.loads(sys.argv[1])
print(json.dumps({k: hashlib.sha256(plots[k].encode()).hexdigest() for k in names}))
"""


def _plot_digests(env=None):
    """Return {plot: sha256} of DASHBOARD's plots, drawn in a fresh interpreter."""
    import json
    import os
    import sys

    run = subprocess.run(
        [sys.executable, "-c", _PLOT_DIGESTS_SCRIPT, json.dumps(sorted(PLOT_DIGESTS))],
        input=json.dumps(DASHBOARD),
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_plots_are_deterministic():
    """Same data, same bytes: across processes, hash seeds and time zones, and over time.

    The progress plot is left out: it draws up to the current time by design.
    """
    import hashlib

    here = {
        k: hashlib.sha256(v.encode()).hexdigest() for k, v in dashboard_plots(DASHBOARD).items()
    }
    first = _plot_digests({"PYTHONHASHSEED": "1", "TZ": "UTC"})
    second = _plot_digests({"PYTHONHASHSEED": "2", "TZ": "Pacific/Auckland"})
    assert first == second, "two fresh processes drew different SVG for the same data"
    assert {k: here[k] for k in first} == first, "this process and a fresh one differ"
    assert first == PLOT_DIGESTS, f"the plots changed: {first}"


def test_nothing_to_plot_yet():
    assert plot_submissions_over_time(EMPTY) is None
    assert plot_score_distribution(EMPTY) is None
    assert plot_mean_per_item(EMPTY) is None
    assert plot_late(EMPTY) is None


def test_text_in_plots_is_escaped():
    data = dict(DASHBOARD, mean_per_item=[{"grade_id": "a<b&c", "mean": 1, "max_points": 2}])
    svg = plot_mean_per_item(data)
    assert "a<b&c" not in svg and "a&lt;b&amp;c" in svg
