"""The course in headless Chromium: a learner and an instructor use the course pages.

One course cycle, in order (each test builds on the previous one):

1. the instructor releases a lab from the Teaching page;
2. a learner gets the lab, opens it in JupyterLab, writes and runs their answers,
   checks their work and submits;
3. the instructor collects, autogrades (progress bar), grades a manual question
   with its rubric (level, comment snippet) and releases feedback;
4. the learner reads their score, the comment and the feedback page;
5. a learner opening the instructor pages is refused by the server (403).

Screenshots go to ``tests/artifacts/course-*.png``.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from urllib.parse import quote

import hubtest
import pytest
from browsertest import expect_errors, launch, watch
from conftest import ROSTER

pytestmark = [pytest.mark.hub, pytest.mark.browser]

LAB = "browser-rubric"
LEARNER = "theo"
INSTRUCTOR = "tina"
COURSE = "/services/course/"
SNIPPET = "Name the facts you would check, not only that more data is needed."

#: The example lab with a rubric for its manually graded answer.
LAB_TOML = f"""format_version = 2
id = "{LAB}"
title = "Approval rates (browser test)"
summary = "Compute approval rates per district and say what a gap does and does not prove."
learning_objectives = ["Compute a rate per group"]
datasets = []
estimated_minutes = 20
points = 7
notebooks = ["approval-rates.ipynb"]
team = false

[rubrics.gap_meaning]
comments = [
    "{SNIPPET}",
    "Twelve cases are very few: could the gap be chance?",
]

[[rubrics.gap_meaning.levels]]
points = 0
label = "Missing"
description = "No answer, or the gap alone is called proof of unfairness."

[[rubrics.gap_meaning.levels]]
points = 1
label = "Partial"
description = "Says the gap is not proof, without saying what else to check."

[[rubrics.gap_meaning.levels]]
points = 2
label = "Convincing"
description = "Not proof by itself; names the facts to check (who applies, the rules, size)."
"""

ANSWERS = {
    "def approval_rates": (
        'def approval_rates(df):\n    return df.groupby("district")["approved"].mean()\n'
    ),
    "def disparity_ratio": ("def disparity_ratio(rates):\n    return rates.min() / rates.max()\n"),
}
GAP_ANSWER = (
    "Not by itself: the districts may differ in who applies, and twelve cases are few. "
    "I would ask for the eligibility rules and the applicants' circumstances."
)


@pytest.fixture(scope="module")
def course_lab(hub):
    """Add the test lab (example-intro with a rubric) to the course service's labs."""
    labs = Path(hub.settings["course"]["labs_dir"])
    target = labs / LAB
    shutil.copytree(labs / "example-intro", target, dirs_exist_ok=True)
    (target / "lab.toml").write_text(LAB_TOML)
    return LAB


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        try:
            yield b
        finally:
            b.close()


def _login(browser, hub, username, next_path):
    """Log ``username`` in through the hub's form and land on ``next_path``; return the page."""
    context = watch(browser.new_context(viewport={"width": 1280, "height": 900}))
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.goto(f"{hub.url}/hub/login?next={quote(next_path)}")
    page.fill("#username_input", username)
    page.fill("#password_input", ROSTER[username][2])
    page.click("#login_submit")
    page.wait_for_url(re.compile(re.escape(next_path) + r"(\?.*)?$"))
    return page


@pytest.fixture(scope="module")
def learner_page(browser, hub, course_lab):
    page = _login(browser, hub, LEARNER, COURSE)
    yield page
    page.context.close()


@pytest.fixture(scope="module")
def instructor_page(browser, hub, course_lab):
    page = _login(browser, hub, INSTRUCTOR, COURSE + "instructor/")
    yield page
    page.context.close()


def _card(page):
    return page.locator(f'section.course-lab[data-lab="{LAB}"]')


def test_instructor_releases_lab(hub, instructor_page, artifacts):
    page = instructor_page
    page.wait_for_selector(f'#labs-table tr[data-lab="{LAB}"]')
    assert page.locator("#ai4scale-name").inner_text() == hub.settings["branding"]["name"]
    due = (dt.datetime.now() + dt.timedelta(days=7)).replace(second=0, microsecond=0)
    page.select_option("#release-lab", LAB)
    page.fill("#release-group", "learners")
    page.fill("#release-due", due.strftime("%Y-%m-%dT%H:%M"))
    page.click("#release-submit")
    result = page.wait_for_selector("#release-result .alert-success")
    assert f"Released {LAB} to learners" in result.inner_text()
    page.locator(f'#labs-table tr[data-lab="{LAB}"]', has_text="learners").wait_for()
    page.screenshot(path=str(artifacts / "course-instructor-release.png"), full_page=True)


def _write_answers(nb):
    """Type the learner's answers into the notebook (as a person would paste them)."""
    for marker, code in ANSWERS.items():
        editor = nb.locator(".jp-CodeCell", has_text=marker).locator(".cm-content")
        editor.click()
        nb.keyboard.press("Control+a")
        nb.keyboard.insert_text(code)
    placeholder = re.compile(r"^\s*YOUR ANSWER HERE\s*$")
    nb.locator(".jp-MarkdownCell .jp-RenderedMarkdown > p", has_text=placeholder).dblclick()
    nb.locator(".jp-MarkdownCell:not(.jp-mod-rendered) .cm-content").click()
    nb.keyboard.press("Control+a")
    nb.keyboard.insert_text(GAP_ANSWER)


def test_learner_gets_opens_runs_and_submits(hub, learner_page, artifacts):
    hubtest.spawn(hub, LEARNER)  # "Get lab" writes into the learner's running server
    page = learner_page
    page.reload()
    card = _card(page)
    card.wait_for()
    assert card.locator(".course-status").inner_text() == "Not started"
    assert "Due" in card.locator(".course-due").inner_text()
    page.screenshot(path=str(artifacts / "course-learner-labs.png"), full_page=True)

    card.locator("button.course-get").click()
    card = _card(page)
    fetched = card.locator(".course-fetch-result")
    fetched.wait_for()
    assert f"{LAB}/approval-rates.ipynb" in fetched.inner_text()
    card.locator(".course-status", has_text="In progress").wait_for()

    # Open: JupyterLab in a new tab, on the fetched notebook.
    with page.context.expect_page() as new_tab:
        card.locator("a.course-open").click()
    nb = new_tab.value
    nb.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=120_000)
    assert f"/user/{LEARNER}/lab/tree/{LAB}/approval-rates.ipynb" in nb.url
    nb.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
    _write_answers(nb)
    nb.click('.lm-MenuBar-itemLabel:text-is("Run")')
    nb.click('.lm-Menu-itemLabel:text-is("Run All Cells")')
    score_cell = nb.locator(".jp-CodeCell", has_text="Partial credit: the value")
    score_cell.locator(".jp-OutputArea-output", has_text="2.0").wait_for(timeout=120_000)
    rates_cell = nb.locator(".jp-CodeCell").filter(has_text="rates = approval_rates(decisions)")
    assert "0.75" in rates_cell.first.inner_text()
    nb.keyboard.press("Control+s")
    nb.wait_for_selector(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty", state="detached")
    nb.screenshot(path=str(artifacts / "course-learner-notebook.png"))
    nb.close()

    # Check my work: the visible tests, per item.
    card.locator("button.course-check-button").click()
    table = card.locator("table.course-check")
    table.wait_for(timeout=300_000)
    for grade_id in ("test_approval_rates", "test_disparity_ratio"):
        assert "Passed" in table.locator(f'tr[data-grade-id="{grade_id}"]').inner_text()
    assert "2 of 2 checks pass" in card.locator(".course-check-summary").inner_text()
    page.screenshot(path=str(artifacts / "course-learner-check.png"), full_page=True)

    # Submit, with confirmation; the receipt shows the time and the submission's number.
    card.locator("button.course-submit").click()
    dialog = page.locator("#submit-dialog")
    dialog.wait_for(state="visible")
    page.screenshot(path=str(artifacts / "course-learner-submit-confirm.png"))
    page.click("#submit-confirm")
    receipt = page.locator(f'section[data-lab="{LAB}"] .course-submit-receipt')
    receipt.wait_for(timeout=120_000)
    text = receipt.inner_text()
    assert "Submitted." in text and "marked late" not in text
    assert "submission number 1" in text
    card = _card(page)
    card.locator(".course-status", has_text="Submitted").wait_for()
    # Check and Submit results stand side by side: the check's table survived the submit.
    assert "2 of 2 checks pass" in card.locator(".course-check-summary").inner_text()
    # Plain words: no test ids, hashes or Python exception names anywhere a learner reads.
    shown = page.locator("main").inner_text()
    for word in ("test_approval_rates", "test_disparity_ratio", "SHA-256", "Fingerprint"):
        assert word not in shown, word
    assert not re.search(r"\b[0-9a-f]{40,64}\b", shown), shown
    assert not re.search(r"\b[A-Z][A-Za-z]+(Error|Exception)\b", shown), shown
    rows = card.locator("table.course-submissions tbody tr")
    rows.first.wait_for()
    assert rows.count() == 1 and "On time" in rows.first.inner_text()
    page.screenshot(path=str(artifacts / "course-learner-submitted.png"), full_page=True)


def test_instructor_grades_with_rubric_and_releases_feedback(hub, instructor_page, artifacts):
    page = instructor_page
    base = hub.url + COURSE + f"instructor/labs/{LAB}"
    page.goto(base)
    page.wait_for_selector(f'#status-table tr[data-owner="{LEARNER}"]')
    assert "Approval rates (browser test)" in page.locator("#lab-title").inner_text()

    page.click("#collect")
    page.wait_for_selector("#collect-result .alert-success")
    assert "Collected 1 submission" in page.locator("#collect-result").inner_text()

    page.click("#autograde")
    page.wait_for_selector("#autograde-progress:not([hidden])")
    page.screenshot(path=str(artifacts / "course-instructor-autograde.png"), full_page=True)
    page.wait_for_selector('#autograde-progress[data-state="done"]', timeout=600_000)
    label = page.locator("#autograde-label").inner_text()
    assert "Finished: 1 of 1" in label, label + page.locator("#autograde-errors").inner_text()
    page.screenshot(path=str(artifacts / "course-instructor-lab.png"), full_page=True)

    # One question across all learners, with its rubric.
    page.click('#items li[data-grade-id="gap_meaning"] a')
    card = page.locator(f'.course-answer-card[data-owner="{LEARNER}"]')
    card.wait_for()
    assert "twelve cases are few" in card.locator(".course-source").inner_text()
    assert "Convincing" in page.locator("table.course-rubric").inner_text()
    card.locator('label:has-text("Convincing")').click()
    assert card.locator("input.course-points").input_value() == "2"
    card.locator("button.course-snippet", has_text="Name the facts").click()
    card.locator("textarea.course-comment-input").press("End")
    card.locator("textarea.course-comment-input").press_sequentially(" Good answer.")
    card.locator("button.course-save").click()
    card.locator(".course-save-status", has_text="Saved: 2 / 2 points").wait_for()
    assert "1 of 1 answers graded" in page.locator("#grading-progress").inner_text()
    page.screenshot(path=str(artifacts / "course-instructor-grade-item.png"), full_page=True)

    # The same learner, one question after the other.
    page.goto(f"{base}/owners/{LEARNER}")
    page.locator('.course-answer-card[data-grade-id="gap_meaning"]').wait_for()
    assert page.locator("#owner-select").input_value() == LEARNER
    # A compact page: one question open at a time, named by the lab's heading, the first
    # one still to grade by hand open; hand-graded items never say "Autograded".
    cards = page.locator(".course-answer-card")
    assert cards.count() >= 3 and page.locator(".course-answer-card[open]").count() == 1
    opened = page.locator(".course-answer-card[open]")
    assert opened.get_attribute("data-grade-id") == "discuss_groups"
    assert "to grade by hand" in opened.locator(".course-card-summary").inner_text()
    gap = page.locator('.course-answer-card[data-grade-id="gap_meaning"]')
    assert "graded by hand" in gap.locator(".course-card-summary").inner_text()
    # named by its title, not its id
    assert "gap_meaning" not in gap.locator(".course-card-summary .h6").inner_text()
    # Keyboard: K / J move between questions, a digit picks a rubric level.
    page.locator("h1").click()
    page.keyboard.press("k")
    now_open = page.locator(".course-answer-card[open]")
    assert now_open.count() == 1 and now_open.get_attribute("data-grade-id") == "gap_meaning"
    page.keyboard.press("1")
    first_level = now_open.locator("input.form-check-input[type=radio]").first
    assert first_level.is_checked() and now_open.locator("input.course-points").input_value() == "0"
    page.keyboard.press("j")
    assert page.locator(".course-answer-card[open]").get_attribute("data-grade-id") == (
        "discuss_groups"
    )
    for i in range(cards.count()):
        card_i = cards.nth(i)
        summary = card_i.locator(".course-card-summary").inner_text()
        if "graded by hand" in summary or "to grade" in summary:
            assert "Autograded" not in card_i.inner_text()
    # The question is rendered Markdown, not raw ** and ##.
    prompt = page.locator(".course-answer-card[open] .course-prompt")
    assert prompt.count() == 1 and "**" not in prompt.inner_text()
    page.screenshot(path=str(artifacts / "course-instructor-grade-learner.png"), full_page=True)

    # Release feedback, with confirmation.
    page.goto(base)
    page.wait_for_selector(f'#status-table tr[data-owner="{LEARNER}"]')
    page.click("#release-feedback")
    page.click("#confirm-ok")
    page.wait_for_selector("#release-feedback-result .alert-success")
    assert "Feedback released to 1" in page.locator("#release-feedback-result").inner_text()

    # Dashboard: four real plots, drawn on the server.
    page.goto(f"{base}/dashboard")
    assert page.locator("svg.course-plot").count() == 4
    learners = sum(role == "learner" for role, _, _ in ROSTER.values())
    assert f"1 of {learners} has submitted" in " ".join(
        page.locator("#dashboard-summary").inner_text().split()
    )
    page.screenshot(path=str(artifacts / "course-instructor-dashboard.png"), full_page=True)

    page.goto(hub.url + COURSE + "instructor/gradebook")
    page.wait_for_selector("#gradebook-table")
    assert LEARNER in page.locator("#gradebook-table").inner_text()
    # One lab at a time by default (the one released last), its items named by their titles.
    assert page.locator("#gradebook-lab").input_value() != ""
    page.select_option("#gradebook-lab", LAB)
    page.locator("#gradebook-table thead", has_text="What does the gap tell us?").wait_for()
    headings = page.locator("#gradebook-table thead").inner_text()
    assert "Full name" in headings and "Total" in headings
    assert page.locator("#gradebook-table tbody tr td").nth(1).inner_text().strip()  # a full name
    csv_href = page.locator("#gradebook-csv").get_attribute("href")
    assert csv_href.endswith(f"api/instructor/gradebook.csv?lab={LAB}")
    # A test account leaves the views with Archive (its grades are kept) and comes back.
    row = page.locator(f'#gradebook-table tr[data-learner="{LEARNER}"]')
    row.locator("button.course-archive-learner").click()
    row.wait_for(state="detached")
    page.check("#gradebook-archived")
    page.locator(f'#gradebook-table tr[data-learner="{LEARNER}"]').wait_for()
    buttons = page.locator(f'#gradebook-table tr[data-learner="{LEARNER}"] button')
    buttons.filter(has_text="Restore").click()
    buttons.filter(has_text="Archive").wait_for()
    page.screenshot(path=str(artifacts / "course-instructor-gradebook.png"), full_page=True)


def test_learner_reads_feedback(hub, learner_page, artifacts):
    page = learner_page
    page.goto(hub.url + COURSE)
    card = _card(page)
    card.locator(".course-status", has_text="Feedback ready").wait_for()
    card.locator(".course-score").wait_for()
    # Tests 2 + 2, the rubric's 2; the discussion task (1 point) was left unanswered.
    assert re.search(r"Score: [67] / 7", card.locator(".course-score").inner_text())
    row = card.locator('table.course-feedback tr[data-grade-id="gap_meaning"]')
    assert "2 / 2" in row.inner_text()
    assert SNIPPET in row.inner_text() and "Convincing" in row.inner_text()
    page.screenshot(path=str(artifacts / "course-learner-feedback.png"), full_page=True)
    with page.context.expect_page() as new_tab:
        card.locator("a.course-feedback-link").click()
    fb = new_tab.value
    fb.wait_for_load_state()
    assert re.search(r"Total: [67] / 7", fb.content())
    assert "### BEGIN HIDDEN TESTS" not in fb.content()
    fb.screenshot(path=str(artifacts / "course-learner-feedback-page.png"), full_page=True)
    fb.close()


def test_learner_refused_instructor_pages(hub, learner_page, artifacts):
    page = learner_page
    # The browser logs each refusal as a failed load: provoked here, not a fault.
    refused = r"Failed to load resource: the server responded with a status of 403"
    with expect_errors(refused):
        for path in ("instructor/", f"instructor/labs/{LAB}", f"instructor/labs/{LAB}/dashboard"):
            response = page.goto(hub.url + COURSE + path)
            assert response.status == 403, path
            assert "This page is for trainers" in page.locator("h1").inner_text()
    page.screenshot(path=str(artifacts / "course-learner-refused.png"), full_page=True)
    # The API refuses too, whatever the page shows: the check is on the server.
    with expect_errors(refused):
        status = page.evaluate(
            """async () => {
                const xsrf = document.querySelector('meta[name="xsrf-token"]').content;
                const r = await fetch(document.body.dataset.api + "instructor/labs", {
                    headers: {"X-XSRFToken": xsrf},
                });
                return r.status;
            }"""
        )
    assert status == 403
    assert page.locator("nav a", has_text="Teaching").count() == 0
