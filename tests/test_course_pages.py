"""The course pages without a hub: templates, routes, scripts and the dashboard's plots.

The pages in a browser, against a real hub, are in test_browser_course.py.
"""

from __future__ import annotations

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
    assert _route("/services/course/instructor/labs/x/y/z") is None


def test_every_instructor_page_is_instructor_only():
    for _, handler, *_ in _pages.page_handlers():
        if handler.__name__ in {"LearnerPage", "StaticHandler"}:
            continue
        assert handler.instructor_only, handler


def test_static_urls_carry_a_version():
    url = _pages.PageHandler.static(type("H", (), {"service_prefix": PREFIX})(), "course.js")
    assert re.fullmatch(r"/services/course/static/course\.js\?v=[0-9a-f]+", url)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_scripts_parse():
    for script in sorted(_pages.STATIC_DIR.glob("*.js")):
        subprocess.run(["node", "--check", str(script)], check=True)


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


def test_plots_are_deterministic():
    assert plot_score_distribution(DASHBOARD) == plot_score_distribution(DASHBOARD)
    assert plot_mean_per_item(DASHBOARD) == plot_mean_per_item(DASHBOARD)


def test_nothing_to_plot_yet():
    assert plot_submissions_over_time(EMPTY) is None
    assert plot_score_distribution(EMPTY) is None
    assert plot_mean_per_item(EMPTY) is None
    assert plot_late(EMPTY) is None


def test_text_in_plots_is_escaped():
    data = dict(DASHBOARD, mean_per_item=[{"grade_id": "a<b&c", "mean": 1, "max_points": 2}])
    svg = plot_mean_per_item(data)
    assert "a<b&c" not in svg and "a&lt;b&amp;c" in svg
