"""Feedback pages: scores, failure messages, the learner's cells; no hidden tests, escaped."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from ai4scale.grading.autograde import LocalExecutor, grade_batch, open_lab
from ai4scale.grading.feedback import hidden_fragments, safe_message, write_feedback
from ai4scale.grading.gradebook import Gradebook

sys.path.insert(0, str(Path(__file__).parent / "adversarial"))
import corpus  # noqa: E402

LAB_ID = "example-intro"
# A line of the lab's hidden tests (labs/example-intro/approval-rates.ipynb).
HIDDEN = 'other = pd.DataFrame({"district": ["A", "A", "B"], "approved": [0, 1, 1]})'
HOSTILE = (
    "def approval_rates(df):\n"
    '    """</script><script>alert("x")</script> <img src=x onerror=alert(1)> &amp;"""\n'
    '    return df.groupby("district")["approved"].sum()\n'
)
# Learner code that reads the running test cell (hidden part included) and puts it
# in its exception message, hoping to read the hidden tests in the feedback.
EXFILTRATE = (
    "def approval_rates(df):\n"
    "    cell = get_ipython().user_ns['In'][-1]\n"
    "    raise ValueError(cell.replace(chr(10), ' | '))\n"
)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("feedback")
    subs = tmp / "subs"
    corpus.write_honest(subs, "right")
    corpus.write_honest(subs, "wrong", corpus.WRONG)
    corpus.write_honest(subs, "hostile", {**corpus.RIGHT, "approval_rates": HOSTILE})
    corpus.write_honest(subs, "exfiltrate", {**corpus.RIGHT, "approval_rates": EXFILTRATE})
    corpus.ATTACKS["ast-transformer"][0](subs, "ast-transformer")
    corpus.ATTACKS["not-json"][0](subs, "not-json")
    gb = Gradebook(f"sqlite:///{tmp / 'gb.sqlite'}")
    gb.upgrade()
    glab = open_lab(corpus.LAB)
    grade_batch(glab, subs, gradebook=gb, executor=LocalExecutor(cell_timeout=10), workers=2)
    rows = {r["submission"].owner: r["submission"].id for r in gb.scores(LAB_ID)}
    gb.set_manual_score(rows["wrong"], "gap_meaning", 1.0, comments="Good start <b>but</b> short")
    yield tmp, subs, gb, glab
    gb.close()


@pytest.fixture(scope="module")
def pages(graded):
    tmp, subs, gb, glab = graded
    written = write_feedback(gb, glab, tmp / "out", submissions_dir=subs)
    return {owner: path.read_text() for owner, path in written.items()}


def _row(page, gid):
    m = re.search(rf'<tr id="item-{gid}">(.*?)</tr>', page, re.S)
    assert m, gid
    return m.group(1)


def test_pages_written_per_learner(graded, pages):
    tmp = graded[0]
    assert set(pages) == {"right", "wrong", "hostile", "exfiltrate", "ast-transformer", "not-json"}
    assert (tmp / "out" / "right" / f"{LAB_ID}.html").is_file()


def test_scores_and_failure_messages(pages):
    right, wrong = pages["right"], pages["wrong"]
    assert "Total: 4 / 7" in right
    assert re.search(
        r"2 / 2</td>\s*<td class=\"passed\">passed", _row(right, "test_approval_rates")
    )
    assert "2 / 2" in _row(right, "test_disparity_ratio")
    assert "not answered" in _row(right, "gap_meaning")  # corpus leaves the placeholder
    assert "waiting for your trainer" in _row(right, "discuss_groups")
    row = _row(wrong, "test_approval_rates")
    assert "0 / 2" in row and 'class="failed"' in row and "Not yet right" in row
    assert "AssertionError" not in row  # plain words, not Python's
    # Manual score and comments appear, escaped, and who set the score is said once.
    gap = _row(wrong, "gap_meaning")
    assert "1 / 2" in gap and "graded by your trainer" in gap and "waiting" not in gap
    assert "Good start &lt;b&gt;but&lt;/b&gt; short" in gap
    assert "Total: 1 / 7" in wrong


def test_learner_code_shown_escaped(pages):
    right, hostile = pages["right"], pages["hostile"]
    assert "rates.min() / rates.max()" in right
    assert "&lt;/script&gt;&lt;script&gt;alert(" in hostile
    assert "&lt;img src=x onerror=alert(1)&gt; &amp;amp;" in hostile
    assert "<script" not in hostile and "<img" not in hostile
    # The gap_meaning answer (a Markdown solution cell) is shown too; test cells are not.
    assert "YOUR ANSWER HERE" in right
    assert "assert abs(rates[" not in right


def test_no_hidden_tests_or_canaries(graded, pages):
    glab = graded[3]
    frags = hidden_fragments(glab.sources)
    assert " ".join(HIDDEN.split()) in frags
    for owner, page in pages.items():
        flat = " ".join(page.replace("&#34;", '"').replace("&quot;", '"').split())
        assert HIDDEN not in flat and "approval_rates(other)" not in flat, owner
        assert "ai4scale-canary" not in page.lower(), owner
        assert "check cell" not in page, owner
    # The exfiltration attempt failed, and only the exception type is shown.
    row = _row(pages["exfiltrate"], "test_approval_rates")
    assert "details are not shown" in row and "ValueError" not in row
    # The stored failure does hold the hidden line: the page is what cleans it.
    gb = graded[2]
    stored = {r["submission"].owner: r for r in gb.scores(LAB_ID)}
    assert (
        "approval_rates(other)" in stored["exfiltrate"]["items"]["test_approval_rates"]["failure"]
    )


def _visible(page):
    """The page's text as read, without the learner's own code (shown as they wrote it)."""
    page = re.sub(r"<pre.*?</pre>", " ", page, flags=re.S)
    page = re.sub(r"<(style|title)>.*?</\1>", " ", page, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


def test_learners_read_titles_not_ids_hashes_or_exception_names(graded, pages):
    glab = graded[3]
    ids = {
        c.metadata.nbgrader["grade_id"]
        for nb in glab.sources.values()
        for c in nb.cells
        if "nbgrader" in c.metadata
    }
    assert "test_approval_rates" in ids
    for owner in ("right", "wrong", "exfiltrate", "hostile"):
        text = _visible(pages[owner])
        for gid in ids:
            assert not re.search(rf"\b{gid}\b", text), (owner, gid)
        assert not re.search(r"\b[0-9a-f]{40,64}\b", text), owner
        assert not re.search(r"\b[A-Z][A-Za-z]+(Error|Exception)\b", text), (owner, text)
    assert "Approval rates" in _visible(pages["right"])  # the lab's own heading names the item


def test_flags_in_plain_language(pages):
    tampered = pages["ast-transformer"]
    assert "changed how Python reports errors" in tampered
    assert "set to zero" in _row(tampered, "test_approval_rates")
    rejected = pages["not-json"]
    assert "could not be graded" in rejected and "not a JSON notebook" in rejected


def test_safe_message_rules():
    frags = {"assert secret_value(3) == 42"}
    assert safe_message("NameError: name 'x' is not defined", frags) == (
        "NameError: name 'x' is not defined"
    )
    assert safe_message("AssertionError: ", frags) == "AssertionError"
    assert safe_message("ValueError: x assert secret_value(3) == 42", frags).startswith(
        "ValueError (details withheld"
    )
    assert "withheld" in safe_message("KeyError: " + "QUJD" * 20, frags)  # encoded payload
    assert "ai4scale" not in safe_message("AssertionError: ai4scale-canary-0011", frags)
    assert safe_message("x y z: assert secret_value(3) == 42", frags).startswith("the test failed")


def test_cli_without_code_and_unchanged_check(graded, tmp_path, capsys):
    from ai4scale.cli import main

    tmp, subs, gb, glab = graded
    out = tmp_path / "fb"
    labs = str(corpus.LAB.parent)
    assert main(["feedback", LAB_ID, "--db", gb.url, "--output", str(out), "--labs", labs]) == 0
    page = (out / "right" / f"{LAB_ID}.html").read_text()
    assert "Total: 4 / 7" in page and "without the submitted files" in page
    assert "rates.min()" not in page
    # A file changed after grading is not shown as if it were graded.
    changed = tmp_path / "subs"
    corpus.write_honest(changed, "right", corpus.WRONG)
    write_feedback(gb, glab, tmp_path / "fb2", submissions_dir=changed)
    page = (tmp_path / "fb2" / "right" / f"{LAB_ID}.html").read_text()
    assert "changed since grading" in page and ".sum()" not in page
    assert main(["feedback", "no-such-lab", "--db", gb.url, "--labs", labs]) == 2
    assert "no-such-lab" in capsys.readouterr().err


def test_every_flag_and_run_outcome_has_plain_words_for_the_learner():
    import re

    from ai4scale.grading.feedback import _collect
    from ai4scale.grading.sandbox import OUTCOMES

    assert set(OUTCOMES) - {"completed"} <= set(_collect._RUNS)
    repo = Path(__file__).resolve().parents[1]
    sanitiser = (repo / "grading" / "autograde" / "_sanitise.py").read_text()
    kinds = set(re.findall(r'flag\(\s*"([a-z_]+)"', sanitiser))
    kinds |= set(re.findall(r'"([a-z_]+)" if _protected', sanitiser))
    kinds |= set(re.findall(r'else "([a-z_]+)"', sanitiser))
    assert {"missing_cells", "reordered_cells", "deleted_answers", "duplicated_ids"} <= kinds
    assert kinds <= set(_collect._EDITS), kinds - set(_collect._EDITS)
