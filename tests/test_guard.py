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
