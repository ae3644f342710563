"""The guard: what canaries alone miss, what it records, and honest notebooks left alone."""

from __future__ import annotations

import ast
import random
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from ai4scale.grading.autograde import (
    LocalExecutor,
    check_canaries,
    grade_batch,
    insert_canaries,
    open_lab,
    parse_notebook,
    sanitise,
    score_run,
)
from ai4scale.grading.autograde._guard import probe_answer, probe_source, read_guard_key
from ai4scale.grading.labformat import autograde_locally, read_source_notebook

sys.path.insert(0, str(Path(__file__).parent / "adversarial"))
import corpus  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOURCE = read_source_notebook(corpus.LAB / corpus.NOTEBOOK)

#: Attacks that act on test cells only: canaries do not see them.
SELECTIVE = [
    "settrace-locals",
    "setprofile-locals",
    "threading-settrace",
    "settrace-jump",
    "settrace-from-function",
    "builtins-from-function",
    "ast-selective",
    "input-selective",
    "run-cell-selective",
    "post-run-cell",
    "excepthook-selective",
    "kernel-reply",
    "thread",
]

#: Attacks that race the test cells from another thread: on a loaded machine
#: they may also hit a canary, or miss the test cell, without the guard.
RACY = {"thread"}


def _run(nb, *, guard, seed=7):
    """Sanitise, add check cells, execute locally.

    Returns (auto points, tampering reason, the last probe's answer).
    """
    nb, _ = sanitise(SOURCE, nb)
    nb, canaries = insert_canaries(nb, rng=random.Random(seed), guard=guard)
    run = LocalExecutor(cell_timeout=10, notebook_timeout=60).run(nb)
    auto = sum(r.score for r in score_run(SOURCE, nb, run) if r.kind == "auto")
    evidence = {c.index: c for c in run.cells}
    last = evidence[[c.index for c in canaries if c.kind == "probe"][-1]] if guard else None
    shown = [o for o in (last.outputs if last else []) if o["output_type"] == "execute_result"]
    answer = ast.literal_eval(shown[-1]["data"]["text/plain"]) if shown else None
    assert run.outcome == "completed", run.reason
    return auto, check_canaries(run, canaries), answer


def test_probe_answers():
    source, nonce = probe_source("ab" * 16)
    assert nonce == "ab" * 16 and f"ai4scale-probe:{nonce}" in source
    key = bytes(range(32))
    assert probe_answer(key, nonce) != probe_answer(key, "cd" * 16)
    assert probe_answer(key, nonce) != probe_answer(bytes(32), nonce)
    out = [{"output_type": "stream", "name": "stdout", "text": f"ai4scale-guard-key {key.hex()}\n"}]
    assert read_guard_key(out) == key
    assert (
        read_guard_key([{"output_type": "stream", "name": "stderr", "text": out[0]["text"]}])
        is None
    )


def test_selective_attacks_fool_canaries_alone_not_the_guard(tmp_path):
    """Each selective attack gets points past the canaries; with the guard it is caught."""

    def both(name):
        corpus.ATTACKS[name][0](tmp_path, name)
        nb = parse_notebook(tmp_path / name / corpus.NOTEBOOK)
        return name, _run(nb, guard=False)[:2], _run(nb, guard=True)[:2]

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(both, SELECTIVE))
    for name, (points, why), (_, why_guarded) in results:
        if name not in RACY:
            assert points >= 2.0 and why == "", (name, points, why)  # the attack works
        assert why_guarded, name  # and is seen
    reasons = {name: guarded[1] for name, _, guarded in results}
    assert "sys.settrace was called" in reasons["settrace-locals"]
    assert "sys.setprofile was called" in reasons["setprofile-locals"]
    assert "AST transformers were changed" in reasons["ast-selective"]
    assert "the session's send was replaced" in reasons["kernel-reply"]
    assert "builtins.abs was replaced" in reasons["builtins-from-function"]


def test_introspection_and_hooks_are_recorded():
    """One notebook, many findings: every one is in the probes' answer."""
    tricks = (
        "import gc, sys, ctypes, threading\n"
        "gc.get_referrers(sys)\n"
        "sys._current_frames()\n"
        "ctypes.pythonapi.PyEval_SetTrace\n"
        "sys.addaudithook(lambda *a: None)\n"
        "threading.setprofile(lambda *a: None)\n"
        "get_ipython().events.register('post_execute', lambda: None)\n"
        "sys.excepthook = lambda *a: None  # IPython puts its own back: harmless\n"
        "max = lambda *a: 0\n"
    )
    _, why, answer = _run(corpus.answered(corpus.RIGHT, first=tricks), guard=True)
    assert why
    for text in [
        "the object graph was searched",
        "the frames of all threads were read",
        "the interpreter's C API was called through ctypes",
        "an audit hook was added",
        "threading._profile_hook was set",
        "a post_execute callback of the learner's was registered",
        "the learner's code replaced the builtin max",
    ]:
        assert text in answer, (text, answer)
    assert answer.startswith("tampering: cell 2:")  # named as the sanitised notebook numbers cells


HONEST_EXTRAS = (
    "%matplotlib inline\n"
    "import warnings\n"
    "warnings.filterwarnings('ignore')\n"
    "import matplotlib.pyplot as plt\n"
    "plt.plot([1, 2, 3])\n"
    "plt.show()\n"
    "from math import pow, sqrt\n"
    "from numpy import mean\n"
    "import threading\n"
    "threading.Thread(target=print, args=('a thread that ends',)).start()\n"
    "def sum_of(values):\n"
    "    return sum(values)\n"
)


def test_honest_notebooks_are_not_flagged(tmp_path):
    """Plots, magics, nested run_cell, warnings filters, a finished thread: nothing found."""
    nb = corpus.answered(corpus.RIGHT, first=HONEST_EXTRAS)
    nb.cells.insert(3, nbformat.v4.new_code_cell("%%capture\nprint('quiet')\n"))
    nb.cells.insert(4, nbformat.v4.new_code_cell("%time x = sum_of(range(10))\n"))
    nb.cells.insert(5, nbformat.v4.new_code_cell("get_ipython().run_cell('y = 1')\n"))
    points, why, answer = _run(nb, guard=True)
    assert (why, points) == ("", 4.0), answer


@pytest.mark.skipif(not (ROOT / "benchmarks" / "autograde.py").exists(), reason="no benchmark")
def test_realistic_lab_scores_as_reference_unflagged(tmp_path):
    """pandas, scikit-learn, fairlearn, shap: the benchmark lab's honest answers, varied."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import autograde as bench

    lab = bench.write_lab(tmp_path / "labs")
    ours = tmp_path / "ours"
    bench.write_submissions(lab, ours, tmp_path / "nbg", 4, 3)
    graded = grade_batch(open_lab(lab), ours, executor=LocalExecutor(cell_timeout=60), workers=2)
    source = read_source_notebook(lab / bench.NOTEBOOK)
    totals = set()
    for g in graded:
        submitted = nbformat.read(ours / g.learner / bench.NOTEBOOK, as_version=4)
        ref = autograde_locally(source, submitted, name=bench.NOTEBOOK)
        assert [(r.grade_id, r.score) for r in g.results] == [(r.grade_id, r.score) for r in ref]
        assert not g.flags, (g.learner, g.flags)
        totals.add(g.total)
    assert len(totals) > 1  # the answers really differ


@pytest.mark.parametrize(
    "lab_dir",
    sorted(p.parent for p in (ROOT / "labs").glob("*/lab.toml")),
    ids=lambda p: p.name,
)
def test_lab_reference_solutions_are_not_flagged(lab_dir):
    """Each lab's reference solution, graded with the guard: every autograded point, no flag.

    The labs import pandas, scikit-learn, fairlearn, shap, matplotlib and
    the project's own datasets, whose modules and classes the guard checks.
    """
    from ai4scale.grading.autograde import grade_submission

    glab = open_lab(lab_dir)
    files = {name: lab_dir / name for name in glab.sources}
    graded = grade_submission(
        glab, files, learner="reference", executor=LocalExecutor(cell_timeout=120)
    )
    assert "tampered" not in graded.flags and "run" not in graded.flags, graded.flags
    auto = [r for r in graded.results if r.kind == "auto"]
    assert auto and all(r.score == r.max_score for r in auto), auto


def test_blank_cells_and_nested_blank_runs_are_not_tampering():
    """IPython runs post_run_cell without pre_run_cell for a blank cell: not a bypass."""
    nb = corpus.answered(
        corpus.RIGHT, first="get_ipython().run_cell('')\nget_ipython().run_cell('   \\n')\n"
    )
    nb.cells.insert(3, nbformat.v4.new_code_cell(""))
    nb.cells.append(nbformat.v4.new_code_cell(" \t\n"))
    nb.cells.append(nbformat.v4.new_code_cell(""))
    auto, why, answer = _run(nb, guard=True)
    assert (auto, why) == (4.0, "")
    assert not answer.startswith(("tampering", "review")), answer


def _grade(tmp_path, learner, answers):
    from ai4scale.grading.autograde import default_executor

    corpus.write_honest(tmp_path, learner, answers)
    glab = open_lab(corpus.LAB)
    (graded,) = grade_batch(
        glab, tmp_path, executor=default_executor(sandbox=False), workers=1, rng=random.Random(3)
    )
    return graded


def test_hand_written_comparison_is_for_review_and_keeps_the_scores(tmp_path):
    """A plain class with an honest __eq__ of its own: noted for an instructor, not zeroed."""
    answers = dict(corpus.RIGHT)
    answers["approval_rates"] = (
        "class Share:\n"
        "    def __init__(self, value):\n"
        "        self.value = value\n"
        "    def __eq__(self, other):\n"
        "        return isinstance(other, Share) and self.value == other.value\n"
        "assert Share(1) == Share(1) and Share(1) != Share(2)\n" + corpus.RIGHT["approval_rates"]
    )
    graded = _grade(tmp_path, "reviewed", answers)
    assert graded.total == 4.0 and "tampered" not in graded.flags
    review = graded.flags["review"][corpus.NOTEBOOK]
    assert "the learner's class Share defines __eq__" in review


@pytest.mark.parametrize("name", sorted(corpus.LYING))
def test_lying_values_are_flagged_and_zeroed(tmp_path, name):
    """Each lie would pass a check without a type test; the guard names the class."""
    corpus.ATTACKS[name][0](tmp_path, name)
    glab = open_lab(corpus.LAB)
    from ai4scale.grading.autograde import default_executor

    (graded,) = grade_batch(glab, tmp_path, executor=default_executor(sandbox=False), workers=1)
    assert "the learner's class" in graded.flags["tampered"], graded.flags
    assert all(r.score == 0 for r in graded.results if r.kind == "auto")


def test_lies_pass_plain_checks_without_the_guard():
    """The lying attacks work on a visible check that has no type test: the guard is the defence."""
    for name in ("lying-float", "lying-object", "lying-series", "lying-exec"):
        ns = {}
        exec(corpus.LYING[name], ns)  # the learner's code, here only to show the lie works
        import pandas as pd

        rates = ns["approval_rates"](pd.DataFrame({"district": ["A", "B"], "approved": [1, 0]}))
        assert abs(rates["A"] - 0.123) < 1e-9 and rates["B"] == 0.987, name
