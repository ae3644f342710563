"""A team brings its own use case, in headless Chromium, through the "Use cases" page.

One path, in order (each test builds on the previous one), as tom of team t1:

1. register a use case (Annex III point 5(a));
2. upload a ``;`` CSV with decimal commas holding a column of valid BSNs and a
   column of e-mail addresses (progress bar), confirm the detected format,
   declare the column roles;
3. the table is blocked with both findings; pseudonymise the BSNs, remove the
   e-mail column; the datasheet is shown and saved;
4. generate the assessment notebook (the link to the team workspace is shown);
   run it (:func:`run_assessment_notebook`, the integration step) or, when it has
   not run, see the page say that there are no results yet;
5. answer two questions citing a figure; the trainer comments, the member reads it;
6. download the dossier: neither the report nor any file of the zip holds an
   e-mail address or a BSN of the table.

Screenshots go to ``tests/artifacts/usecase-*.png``.
"""

from __future__ import annotations

import io
import json
import pickle
import random
import re
import zipfile
from urllib.parse import quote

import hubtest
import pytest
import requests
from browsertest import expect_errors, launch, watch
from conftest import ROSTER
from coursetest import person, read_file

pytestmark = [pytest.mark.hub, pytest.mark.browser]

MEMBER = "tom"  # team t1
INSTRUCTOR = "tina"
COMMENT = "Say also who checks the cases the system does not select."
ANSWERS = [
    "The checks should find wrong applications without singling out women.",
    "Approval rates differ between the sexes; see the figure for the size of the gap.",
]
TEAM = "t1"
COURSE = "/services/course/"
TITLE = "Housing benefit checks (browser test)"
ROWS = 240
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def bsn_valid(number):
    """The Dutch BSN "11-check": 9 digits, sum of d_i * (9, 8, ..., 2, -1) divisible by 11."""
    digits = [int(c) for c in number]
    if len(digits) != 9:
        return False
    total = sum(d * w for d, w in zip(digits, [9, 8, 7, 6, 5, 4, 3, 2, -1], strict=True))
    return total % 11 == 0 and number != "000000000"


def make_bsns(n, seed=11):
    """Return ``n`` distinct valid BSNs (the first eight digits random, the last one computed)."""
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        head = [rng.randint(0, 9) for _ in range(8)]
        head[0] = rng.randint(1, 6)
        rest = sum(d * w for d, w in zip(head, [9, 8, 7, 6, 5, 4, 3, 2], strict=True)) % 11
        if rest == 10:  # no last digit makes it divisible
            continue
        number = "".join(map(str, head)) + str(rest)
        if bsn_valid(number) and number not in out:
            out.append(number)
    return out


BSNS = make_bsns(ROWS)
EMAILS = [f"bewoner.{i:03d}@voorbeeld-gemeente.nl" for i in range(ROWS)]


def cases_csv():
    """The table as a municipality exports it: ``;`` between values, decimal commas, latin-1."""
    rng = random.Random(5)
    lines = ["bsn;email;geslacht;leeftijdsgroep;wijk;risicoscore;toegekend"]
    for i in range(ROWS):
        # Every combination of the descriptive columns occurs 10 times: no small group.
        sex = "MV"[i % 2]
        age = ["18-29", "30-49", "50+"][(i // 2) % 3]
        district = ["Noord", "Zuid", "Oost", "Centrum"][(i // 6) % 4]
        score = rng.choice([10, 25, 40, 55, 70, 85])
        granted = int(rng.random() < (0.75 if sex == "V" else 0.6))
        lines.append(f"{BSNS[i]};{EMAILS[i]};{sex};{age};{district};0,{score:02d};{granted}")
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


ROLES = {
    "bsn": "identifier",
    "email": "excluded",
    "geslacht": "protected:sex",
    "leeftijdsgroep": "protected:age",
    "wijk": "legitimate",
    "risicoscore": "score",
    "toegekend": "target",
}


def run_assessment_notebook(hub, usecase_id, notebook_path):
    """INTEGRATION HOOK: run the generated notebook in team t1's workspace, as a member would.

    Every code cell of ``notebook_path`` runs, in order, in a kernel of the team
    workspace's server (started by the member's token, in the notebook's folder);
    the last cell saves the results to the use case with the notebook's sha256.
    Returns True when every cell ran; the test then cites figures picked from the
    saved results and checks them shown inline. Return False to skip the run:
    the test then checks that the page says there are no results yet.
    """
    token = person(hub, MEMBER)
    workspace = f"team-{TEAM}"
    nb = json.loads(read_file(hub, token, workspace, notebook_path))
    # A session as JupyterLab opens it: the kernel runs in the notebook's folder and knows
    # the notebook (JPY_SESSION_NAME), whose sha256 goes with the results.
    base = f"{hub.url}/user/{workspace}"
    headers = {"Authorization": f"token {token}"}
    r = requests.post(
        f"{base}/api/sessions",
        json={"path": notebook_path, "type": "notebook", "kernel": {"name": "python3"}},
        headers=headers,
        timeout=60,
    )
    r.raise_for_status()
    kernel = hubtest.Kernel.__new__(hubtest.Kernel)
    kernel.base, kernel.headers, kernel.id = base, headers, r.json()["kernel"]["id"]
    kernel.ws = kernel._connect()
    try:
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            out = kernel.execute(source, timeout=900)
            assert out["status"] == "ok", f"cell failed:\n{source}\n{out['stderr'][-3000:]}"
    finally:
        kernel.shutdown()
        requests.delete(f"{base}/api/sessions/{r.json()['id']}", headers=headers, timeout=30)
    return True


def no_identifier(text, where):
    """Fail if ``text`` holds an e-mail address or a BSN of the table."""
    emails = EMAIL.findall(text)
    assert not emails, f"{where}: e-mail addresses {emails[:3]}"
    leaked = [b for b in BSNS if b in text]
    assert not leaked, f"{where}: BSNs of the table {leaked[:3]}"


def test_the_identifier_check_finds_the_tables_identifiers():
    """The export check below can fail: it finds the table's e-mails and BSNs in the raw file."""
    raw = cases_csv().decode("latin-1")
    with pytest.raises(AssertionError, match="e-mail addresses"):
        no_identifier(raw, "the uploaded file")
    with pytest.raises(AssertionError, match="BSNs of the table"):
        no_identifier(EMAIL.sub("", raw), "the uploaded file without e-mails")
    assert all(bsn_valid(b) for b in BSNS) and len(set(BSNS)) == ROWS
    assert not bsn_valid("123456780") and bsn_valid("111222333")


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
def page(browser, hub):
    context = watch(browser.new_context(viewport={"width": 1280, "height": 1000}))
    context.set_default_timeout(60_000)
    page = context.new_page()
    target = COURSE + "usecases"
    page.goto(f"{hub.url}/hub/login?next={quote(target)}")
    page.fill("#username_input", MEMBER)
    page.fill("#password_input", ROSTER[MEMBER][2])
    page.click("#login_submit")
    page.wait_for_url(re.compile(re.escape(target) + r"(\?.*)?$"))
    yield page
    context.close()


@pytest.fixture(scope="module")
def state():
    return {}


def _done(page, where, ok, timeout=60_000):
    """Wait until ``ok`` or an error alert shows inside ``where``; fail with the page's message."""
    page.wait_for_selector(f"{where} {ok}, {where} .alert-danger", timeout=timeout)
    error = page.locator(f"{where} .alert-danger")
    if error.count():
        pytest.fail(f"the page says: {error.first.inner_text()}")
    return page.locator(f"{where} {ok}")


def _dataset(page):
    return page.locator('section.usecase-dataset[data-dataset="main"]')


def test_register_a_use_case(page, state, artifacts):
    page.wait_for_selector("#usecase-list:not([aria-busy])")
    assert page.locator('nav a[aria-current="page"]').inner_text() == "Use cases"
    page.fill("#uc-title", TITLE)
    page.fill("#uc-administration", "Gemeente Voorbeeld, afdeling Werk en Inkomen")
    page.fill("#uc-decision", "Whether an application for housing benefit is checked by hand.")
    page.fill("#uc-affected", "People who apply for housing benefit, about 9,000 a year.")
    page.fill("#uc-legal-basis", "Participatiewet, art. 53a (checking eligibility).")
    page.select_option("#uc-area", "5a")
    assert page.locator("#uc-reason-group").is_hidden()
    page.select_option("#uc-area", "not-high-risk")
    assert page.locator("#uc-reason-group").is_visible()  # a reason is asked for
    page.select_option("#uc-area", "5a")
    assert page.locator("#uc-team").input_value() == TEAM
    page.click("#register-submit")
    page.wait_for_selector("#usecase-view:not([hidden])")
    page.wait_for_selector('#usecase-view[data-usecase]:not([data-usecase=""])')
    state["id"] = page.locator("#usecase-view").get_attribute("data-usecase")
    assert page.locator("#usecase-view-title").inner_text() == TITLE
    assert "5(a)" in page.locator("#usecase-summary").inner_text()
    page.locator(f'#usecase-list li[data-usecase="{state["id"]}"]').wait_for()
    assert page.url.endswith(f"/usecases/{state['id']}")
    # A change of the description is a new version; the earlier one is kept.
    page.click("details.usecase-edit > summary")
    page.fill("#edit-usecase-decision", "Whether an application for housing benefit is checked.")
    page.click("#edit-usecase button[type=submit]")
    page.locator("#usecase-summary", has_text="Version 2").wait_for()
    assert "is checked." in page.locator("#usecase-summary .usecase-fields").inner_text()
    page.click("details.usecase-versions-of-fields > summary")
    versions = page.locator("details.usecase-versions-of-fields li")
    versions.nth(1).wait_for()
    assert versions.count() == 2 and f"Version 1 by {MEMBER}" in versions.nth(1).inner_text()
    page.screenshot(path=str(artifacts / "usecase-registered.png"), full_page=True)


def test_upload_confirm_and_roles(page, state, artifacts, tmp_path):
    assert state.get("id"), "the use case was not registered"
    csv = tmp_path / "aanvragen.csv"
    csv.write_bytes(cases_csv())
    page.fill("#dataset-name", "main")
    page.set_input_files("#dataset-file", str(csv))
    page.click("#dataset-upload")
    ds = _dataset(page)
    ds.locator("form.usecase-format").wait_for()
    # The progress bar ran to the end.
    assert page.locator("#dataset-progress").get_attribute("value") == "100"
    # Detected: ";" between values, decimal comma; shown for confirmation.
    assert ds.locator("select[id$='-separator']").input_value() == ";"
    assert ds.locator("select[id$='-decimal']").input_value() == ","
    assert f"{ROWS} rows" in ds.locator(".usecase-detected").inner_text()
    assert ds.locator(".usecase-preview th").count() == 7
    page.screenshot(path=str(artifacts / "usecase-detected.png"), full_page=True)
    ds.locator("button.usecase-format-confirm").click()
    ds.locator("form.usecase-roles").wait_for()
    for column, role in ROLES.items():
        role, _, kind = role.partition(":")
        ds.locator(f'select.usecase-role[data-column="{column}"]').select_option(role)
        if kind:
            ds.locator(f'select.usecase-kind[data-column="{column}"]').select_option(kind)
    ds.locator("button.usecase-roles-save").click()
    ds.locator(".usecase-findings").wait_for()


def test_blocked_until_both_findings_are_resolved(page, state, artifacts):
    ds = _dataset(page)
    assert ds.locator(".usecase-blocked").is_visible()
    findings = {
        ds.locator(".usecase-finding").nth(i).get_attribute("data-column"): ds.locator(
            ".usecase-finding"
        )
        .nth(i)
        .get_attribute("data-kind")
        for i in range(ds.locator(".usecase-finding").count())
    }
    assert findings.get("bsn", "").startswith("national_id"), findings
    assert findings.get("email") == "email", findings
    text = ds.locator(".usecase-findings").inner_text()
    assert "national identity numbers" in text and "e-mail addresses" in text
    no_identifier(text, "the findings shown on the page")  # examples are masked
    assert ds.locator(".usecase-datasheet-form").count() == 0  # nothing usable yet
    page.screenshot(path=str(artifacts / "usecase-blocked.png"), full_page=True)

    for column, action in (("bsn", "pseudonymise"), ("email", "drop")):
        finding = ds.locator(f'.usecase-finding[data-column="{column}"]')
        finding.locator(f'input[type="radio"][value="{action}"]').check()
        finding.locator("button.usecase-resolve").click()
        _done(page, f'.usecase-finding[data-column="{column}"]', ".usecase-resolution")
        ds.locator(f'.usecase-finding.usecase-resolved[data-column="{column}"]').wait_for()
    ds.locator(".usecase-unblocked").wait_for()
    resolved = ds.locator(".usecase-findings").inner_text()
    assert "Replaced by codes" in resolved and "Removed" in resolved


def test_datasheet_is_shown_and_saved(page, state, artifacts):
    ds = _dataset(page)
    form = ds.locator("form.usecase-datasheet-form")
    form.wait_for()
    no_identifier(form.inner_text(), "the datasheet")
    texts = form.locator("textarea")
    assert texts.count() > 0, "the datasheet has no text to complete"
    first = texts.first
    first.fill("Written by the browser test: the applications of 2024 of one municipality.")
    form.locator("button.usecase-datasheet-save").click()
    form.locator(".alert-success").wait_for()
    page.screenshot(path=str(artifacts / "usecase-datasheet.png"), full_page=True)


def test_model_pickle_refused_and_onnx_kept(page, state, artifacts, tmp_path):
    """A .pkl is refused with the reason shown; an ONNX model is kept and listed."""
    import numpy as np
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(pickle.dumps({"not": "opened"}))
    page.fill("#model-name", "old-model")
    page.set_input_files("#model-file", str(pkl))
    with expect_errors(r"status of 400"):  # the refusal, provoked on purpose
        page.click("#model-upload")
        refusal = page.locator("#model-result .alert-danger")
        refusal.wait_for()
    assert "can run any program" in refusal.inner_text() and "skops" in refusal.inner_text()
    assert page.locator("#models .usecase-model").count() == 0

    x = np.array([[0.1, 1], [0.4, 0], [0.55, 1], [0.85, 0]] * 5, dtype=np.float32)
    model = LogisticRegression().fit(x, [0, 0, 1, 1] * 5)
    onnx_file = tmp_path / "risk-model.onnx"
    onnx_file.write_bytes(to_onnx(model, x[:1]).SerializeToString())
    page.fill("#model-name", "risk-model")
    page.set_input_files("#model-file", str(onnx_file))
    page.click("#model-upload")
    page.locator('#models .usecase-model[data-model="risk-model"]').wait_for()
    assert page.locator("#model-result .alert-danger").count() == 0
    kept = page.locator('#models .usecase-model[data-model="risk-model"]')
    assert "ONNX model" in kept.inner_text()
    assert page.locator("#model-progress").get_attribute("value") == "100"


def test_generate_the_assessment_notebook(page, state, hub, artifacts):
    # The notebook goes into the team workspace: when it is not running, the page says how to
    # start it; the test starts it as a member would from the hub's home page, then retries.
    with expect_errors(r"status of 409"):  # the refused request, provoked on purpose
        page.click("#notebook-generate")
        page.wait_for_selector("#notebook-result .alert")
    if page.locator("#notebook-result .alert-danger").count():
        assert "start it from the hub's home page" in page.locator("#notebook-result").inner_text()
        assert page.locator("#notebook-result a[href$='/hub/home']").count() == 1
        hubtest.spawn(hub, f"team-{TEAM}")
        page.click("#notebook-generate")
    link = _done(page, "#notebook-result", "a.usecase-notebook-link", timeout=180_000)
    href = link.get_attribute("href")
    assert re.search(rf"/user/[^/]*team-{TEAM}/lab/tree/.+\.ipynb$", href), href
    state["notebook"] = re.sub(r"^.*/lab/tree/", "", href)
    state["ran"] = run_assessment_notebook(hub, state["id"], state["notebook"])
    page.reload()
    page.wait_for_selector("#questionnaire:not([aria-busy]) .usecase-question")
    if not state["ran"]:
        # The page says why there is nothing to cite yet.
        assert "no results yet" in page.locator("#results").inner_text()
    else:
        assert page.locator("#results .usecase-figure").count() > 0
    page.screenshot(path=str(artifacts / "usecase-notebook.png"), full_page=True)


def test_answer_two_questions_citing_a_figure(page, state, artifacts):
    questions = page.locator(".usecase-question")
    assert questions.count() >= 2
    for i, answer in enumerate(ANSWERS):
        q = page.locator(".usecase-question").nth(i)
        qid = q.get_attribute("data-question")
        q.locator("textarea.usecase-answer").fill(answer)
        if not state.get("ran"):
            # Nothing to cite: the page says why (the notebook has not run), and the answer
            # is kept without a citation.
            assert "no results to cite yet" in q.inner_text()
            q.locator("button.usecase-answer-save").click()
            _done(page, f'.usecase-question[data-question="{qid}"]', ".alert-success")
            continue
        # A figure: the suggested ones are in view, the others behind "More results".
        box = q.locator('input.usecase-cite[data-kind="figure"]').first
        if not box.is_visible():
            q.locator("details.usecase-more-results > summary").click()
        cited = box.get_attribute("value")
        box.check()
        q.locator("button.usecase-answer-save").click()
        _done(page, f'.usecase-question[data-question="{qid}"]', ".alert-success")
        q = page.locator(f'.usecase-question[data-question="{qid}"]')
        shown = q.locator(f'.usecase-cited [data-result="{cited}"]')
        shown.wait_for()
        assert shown.locator("img").count() == 1  # the cited figure, inline
        assert f"by {MEMBER}" in q.locator(".usecase-current-answer").inner_text()
        state.setdefault("answered", []).append(qid)
    page.screenshot(path=str(artifacts / "usecase-answers.png"), full_page=True)


def test_instructor_comments_and_member_reads(page, state, browser, hub, artifacts):
    """The trainer sees the team's answers and comments one; the member sees the comment."""
    if not state.get("answered"):
        pytest.skip("no answer was saved (the notebook did not run)")
    qid = state["answered"][0]
    context = watch(browser.new_context(viewport={"width": 1280, "height": 1000}))
    context.set_default_timeout(60_000)
    try:
        tina = context.new_page()
        target = f"{COURSE}usecases/{state['id']}"
        tina.goto(f"{hub.url}/hub/login?next={quote(target)}")
        tina.fill("#username_input", INSTRUCTOR)
        tina.fill("#password_input", ROSTER[INSTRUCTOR][2])
        tina.click("#login_submit")
        tina.wait_for_url(re.compile(re.escape(target) + r"(\?.*)?$"))
        q = tina.locator(f'.usecase-question[data-question="{qid}"]')
        q.locator(".usecase-cited img").wait_for()  # the team's answer, its figure inline
        q.locator("textarea.usecase-comment-text").fill(COMMENT)
        q.locator("button.usecase-comment-save").click()
        _done(tina, f'.usecase-question[data-question="{qid}"]', ".usecase-comment")
        tina.screenshot(path=str(artifacts / "usecase-instructor.png"), full_page=True)
    finally:
        context.close()
    page.reload()
    q = page.locator(f'.usecase-question[data-question="{qid}"]')
    comment = q.locator(".usecase-comment")
    comment.wait_for()
    assert COMMENT in comment.inner_text() and INSTRUCTOR in comment.inner_text()
    assert q.locator("textarea.usecase-comment-text").count() == 0  # members do not comment


def test_dossier_holds_no_identifier(page, state, artifacts, tmp_path):
    with page.expect_download(timeout=180_000) as info:
        page.click("#download-export")
        _done(page, "#dossier-result", ".alert-success", timeout=180_000)
    zipped = tmp_path / "dossier.zip"
    info.value.save_as(zipped)
    texts = []
    with zipfile.ZipFile(zipped) as z:
        names = z.namelist()
        assert names, "the dossier is empty"
        for name in names:
            data = z.read(name)
            if name.endswith(".zip"):
                inner = zipfile.ZipFile(io.BytesIO(data))
                data = b"".join(inner.read(n) for n in inner.namelist())
            no_identifier(data.decode("latin-1"), f"{name} in the dossier")
            texts.append(data.decode("utf-8", "replace"))
    # The team's work is in it: the answers, and the figures as PNG files.
    everything = re.sub(r"\s+", " ", " ".join(texts))
    if state.get("answered"):
        assert ANSWERS[0] in everything, "the first answer is not in the dossier"
    assert any(n.endswith(".png") for n in names) == bool(state.get("ran")), names
    with page.expect_download(timeout=180_000) as info:
        page.click("#download-report")
        _done(page, "#dossier-result", ".alert-success", timeout=180_000)
    report = tmp_path / "report.html"
    info.value.save_as(report)
    text = report.read_text(encoding="utf-8")
    assert TITLE in text
    if state.get("answered"):
        assert ANSWERS[0] in re.sub(r"\s+", " ", text) and "data:image/png;base64," in text
    no_identifier(text, "report.html")
    page.screenshot(path=str(artifacts / "usecase-dossier.png"), full_page=True)
