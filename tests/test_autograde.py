"""Autograding pipeline: honest scores as nbgrader's rule gives, attacks caught, --resume.

Most tests use the local nbclient executor (fast); the attack corpus also runs
in the real sandbox with kernels forked from grading zygotes, and the sandbox
executor test runs with forked and with fresh kernels, when we are root with cgroups.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from ai4scale.grading.autograde import (
    LocalExecutor,
    SandboxExecutor,
    SubmissionError,
    check_name,
    grade_batch,
    open_lab,
    parse_notebook,
    sandbox_available,
)
from ai4scale.grading.gradebook import Gradebook, Submission
from ai4scale.grading.labformat import autograde_locally, read_source_notebook

sys.path.insert(0, str(Path(__file__).parent / "adversarial"))
import corpus  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
_PREFIX = os.environ.get("AI4SCALE_TEST_USER_PREFIX", "ai4t-")
_CGROUP = f"{os.environ.get('AI4SCALE_TEST_CGROUP_PARENT', 'ai4scale-test')}-ag"
needs_sandbox = pytest.mark.skipif(not sandbox_available(), reason="needs root and cgroup v1")


@pytest.fixture(scope="module")
def glab():
    return open_lab(corpus.LAB)


def _executor():
    return LocalExecutor(cell_timeout=5, notebook_timeout=60)


@contextlib.contextmanager
def _sandbox_executor(*, fork, **config):
    """A SandboxExecutor with its own grading account, runs folder and cgroup; removed after."""
    from ai4scale.grading.sandbox import remove_grader_account

    user = f"{_PREFIX}ag-grader"
    runs = Path(f"/srv/{_PREFIX}ag-runs-{secrets.token_hex(4)}")
    try:
        yield SandboxExecutor(
            fork=fork, user=user, runs_dir=str(runs), cgroup_parent=_CGROUP, **config
        )
        assert not runs.exists() or not any(runs.iterdir())  # every run cleaned up
    finally:
        remove_grader_account(user)
        shutil.rmtree(runs, ignore_errors=True)
        for ctrl in ("memory", "cpu", "pids"):
            try:
                os.rmdir(f"/sys/fs/cgroup/{ctrl}/{_CGROUP}")
            except OSError:
                pass


@pytest.fixture(params=["local", pytest.param("fork", marks=needs_sandbox)])
def attack_executor(request):
    """The executor the attack corpus runs with: local (nbclient) or forked sandbox kernels."""
    if request.param == "local":
        yield _executor()
        return
    with _sandbox_executor(fork=True, cell_timeout=10, notebook_timeout=60) as executor:
        yield executor


def _gb(path):
    gb = Gradebook(f"sqlite:///{path}")
    gb.upgrade()
    return gb


def test_check_name_and_parse(tmp_path):
    assert check_name("anna.berg@example.eu") == "anna.berg@example.eu"
    for bad in ["..", "../x", "a/b", ".hidden", "-rf", "a..b", "x\ny", ""]:
        with pytest.raises(SubmissionError):
            check_name(bad)
    (tmp_path / "a.ipynb").write_text('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}}')
    with pytest.raises(SubmissionError, match="no list of cells"):
        parse_notebook(tmp_path / "a.ipynb")


HONEST = {
    "right": corpus.RIGHT,
    "wrong-ratio": {**corpus.RIGHT, "disparity_ratio": corpus.WRONG["disparity_ratio"]},
    "wrong-both": corpus.WRONG,
    "blank": {},
}


def test_honest_submissions_score_as_reference(glab, tmp_path):
    subs = tmp_path / "subs"
    for learner, answers in HONEST.items():
        corpus.write_honest(subs, learner, answers)
    graded = grade_batch(glab, subs, executor=_executor(), workers=2)
    source = read_source_notebook(corpus.LAB / corpus.NOTEBOOK)
    totals = {}
    for g in graded:
        submitted = nbformat.read(subs / g.learner / corpus.NOTEBOOK, as_version=4)
        ref = autograde_locally(source, submitted, name=corpus.NOTEBOOK)
        assert [(r.grade_id, r.score, r.status) for r in g.results] == [
            (r.grade_id, r.score, r.status) for r in ref
        ], g.learner
        assert "tampered" not in g.flags and "edits" not in g.flags
        totals[g.learner] = g.total
    assert totals == {"right": 4.0, "wrong-ratio": 2.0, "wrong-both": 0.0, "blank": 0.0}


@contextlib.contextmanager
def _answer_server():
    """Serve the right answers on the loopback (what a learner's code could fetch)."""
    import http.server
    import threading

    class Answers(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the handler's API
            body = corpus.answers_py()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/answers.py"
    finally:
        server.shutdown()
        server.server_close()


def test_adversarial_corpus(glab, tmp_path, attack_executor):
    sandboxed = attack_executor.name == "sandbox"
    attacks = {**corpus.ATTACKS, **(corpus.SANDBOX_ATTACKS if sandboxed else {})}
    subs = tmp_path / "subs"
    for learner, (build, _) in attacks.items():
        build(subs, learner)
    corpus.write_honest(subs, "honest")
    gb = _gb(tmp_path / "gb.sqlite")
    # (How long the batch takes: benchmarks/attacks.py.)
    with _answer_server() as url:
        corpus.fetch_attack(url)(subs, "network-fetch")
        graded = grade_batch(glab, subs, gradebook=gb, executor=attack_executor)
    graded = {g.learner: g for g in graded}
    assert set(graded) == set(attacks) | {"honest", "network-fetch"}  # the batch completed
    for learner, (_, expect) in attacks.items():
        g = graded[learner]
        if expect == "rejected":
            assert g.status == "rejected" and g.message, learner
            continue
        assert g.status == "graded", (learner, g.message)
        auto = [r for r in g.results if r.kind == "auto"]
        assert auto and all(r.score == 0 for r in auto), (learner, auto)
        if expect == "tampered":
            assert g.flags.get("tampered"), learner
            assert {r.status for r in auto} == {"tampered"}
        elif expect == "starved":
            # Its processes starve the kernel: the run stops in whichever cell the
            # limit hits, a check cell included (then also named as tampering).
            why = g.flags.get("tampered", "")
            assert not why or "did not finish" in why, (learner, g.flags)
        else:
            assert not g.flags.get("tampered"), (learner, g.flags)
        if expect.startswith("flag:"):
            assert expect[5:] in g.flags["edits"][corpus.NOTEBOOK], (learner, g.flags)
    assert graded["honest"].total == 4.0 and not graded["honest"].flags
    for learner, outcome in [
        ("os-exit", "kernel_died"),
        ("segfault", "kernel_died"),
        ("infinite-loop", "cell_timeout"),
        ("big-output", "output_limit"),
        *([("memory-hog", "memory_limit")] if sandboxed else []),
    ]:
        assert outcome in graded[learner].flags["run"][corpus.NOTEBOOK], learner
    # The right answers on a server: fetched without a sandbox, out of reach in it.
    assert graded["network-fetch"].total == (0.0 if sandboxed else 4.0)
    # The gradebook holds every result; unsafe names are not stored.
    rows = {r["submission"].owner: r for r in gb.scores("example-intro")}
    assert "..traversal" not in rows
    assert set(rows) == set(graded) - {"..traversal"}
    assert rows["honest"]["total"] == 4.0
    assert rows["ast-transformer"]["items"]["test_approval_rates"]["score"] == 0.0
    assert rows["ast-transformer"]["items"]["test_approval_rates"]["flags"]["status"] == "tampered"
    assert rows["settrace-locals"]["items"]["test_approval_rates"]["flags"]["status"] == "tampered"
    assert rows["not-json"]["submission"].status == "rejected"
    assert rows["notebook-name"]["submission"].status == "rejected"
    assert rows["changed-points"]["items"]["test_approval_rates"]["max_points"] == 2.0
    assert rows["edited-tests"]["items"]["test_approval_rates"]["flags"]["edited_cells"] is True
    assert rows["deleted-tests"]["items"]["test_approval_rates"]["flags"]["missing_cells"] is True
    assert rows["deleted-tests"]["items"]["test_approval_rates"]["flags"]["status"] == "failed"
    gb.close()


def _cli(*args):
    return [sys.executable, "-m", "ai4scale", "grade", *map(str, args)]


def _graded_at(gb):
    from sqlalchemy import select

    with gb.session() as s:
        return {sub.id: sub.graded_at for sub in s.scalars(select(Submission))}


def test_resume_after_kill(tmp_path):
    subs = tmp_path / "subs"
    for i in range(6):
        corpus.write_honest(subs, f"learner{i}", list(HONEST.values())[i % 4])
    common = ["--no-sandbox", "--workers", "1", "--labs", ROOT / "labs"]
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}
    db = tmp_path / "killed.sqlite"
    proc = subprocess.Popen(
        _cli("example-intro", subs, "--db", f"sqlite:///{db}", *common),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    gb = Gradebook(f"sqlite:///{db}")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if db.exists():
                try:
                    if gb.graded_submission_ids("example-intro"):
                        break
                except Exception:  # schema or lab not there yet
                    pass
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    first = gb.graded_submission_ids("example-intro")
    assert 1 <= len(first) < 6
    before = _graded_at(gb)
    out = tmp_path / "resume.json"
    subprocess.run(
        _cli("example-intro", subs, "--db", f"sqlite:///{db}", "--resume", "--json", out, *common),
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    import json

    regraded = {s["submission_id"] for s in json.loads(out.read_text())["submissions"]}
    assert regraded.isdisjoint(first) and regraded | first == set(range(1, 7))
    after = _graded_at(gb)
    assert all(after[i] == before[i] for i in first)  # not graded twice
    clean = tmp_path / "clean.sqlite"
    subprocess.run(
        _cli("example-intro", subs, "--db", f"sqlite:///{clean}", *common),
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )

    def table(url):
        with Gradebook(url) as g:
            return {
                r["submission"].owner: (r["submission"].version, r["total"], r["submission"].status)
                for r in g.scores("example-intro")
            }

    assert table(f"sqlite:///{db}") == table(f"sqlite:///{clean}")
    assert table(f"sqlite:///{clean}")["learner0"] == (1, 4.0, "graded")
    gb.close()


@needs_sandbox
def test_one_worker_forked_submissions_do_not_leak(glab, tmp_path):
    """A submission that patches pandas and leaves files costs nothing to the next one."""
    subs = tmp_path / "subs"
    patch = (
        "import pandas as pd, builtins, os\n"
        "pd.core.groupby.GroupBy.mean = lambda self, *a, **k: 'patched'\n"
        "pd.Series.min = lambda self, *a, **k: 0.5\n"
        "builtins.leaked = True\n"
        "open('approval-rates-answers.txt', 'w').write('mine')\n"
    )
    nb = corpus.answered(corpus.RIGHT, first=patch)
    (subs / "a-patcher").mkdir(parents=True)
    nbformat.write(nb, subs / "a-patcher" / corpus.NOTEBOOK)
    corpus.write_honest(subs, "b-honest")
    # Sabotages its own answers if it sees the first submission's builtins or files.
    probe = (
        "import builtins, os\n"
        "if hasattr(builtins, 'leaked') or os.listdir('.'):\n"
        "    import pandas as pd\n"
        "    pd.core.groupby.GroupBy.mean = lambda self, *a, **k: None\n"
    )
    (subs / "c-probe").mkdir()
    nbformat.write(corpus.answered(corpus.RIGHT, first=probe), subs / "c-probe" / corpus.NOTEBOOK)
    runs = []
    with _sandbox_executor(fork=True, cell_timeout=10) as executor:
        run = executor.run

        def record(nb, **kw):
            runs.append(run(nb, **kw))
            return runs[-1]

        executor.run = record
        graded = {g.learner: g for g in grade_batch(glab, subs, executor=executor, workers=1)}
    assert [r.forked for r in runs] == [True, True, True]
    assert graded["a-patcher"].total < 4.0  # its own patches broke its own answers
    assert graded["b-honest"].total == 4.0 and not graded["b-honest"].flags
    assert graded["c-probe"].total == 4.0, graded["c-probe"].results


@needs_sandbox
@pytest.mark.parametrize("fork", [True, False], ids=["fork", "fresh"])
def test_sandbox_executor(glab, tmp_path, fork):
    subs = tmp_path / "subs"
    corpus.write_honest(subs, "honest")
    for name in ("ast-transformer", "os-exit"):
        corpus.ATTACKS[name][0](subs, name)
    with _sandbox_executor(fork=fork, cell_timeout=10) as executor:
        graded = {g.learner: g for g in grade_batch(glab, subs, executor=executor, workers=2)}
    assert graded["honest"].total == 4.0 and not graded["honest"].flags
    assert graded["ast-transformer"].flags["tampered"]
    assert "kernel_died" in graded["os-exit"].flags["run"][corpus.NOTEBOOK]
    assert all(r.score == 0 for r in graded["os-exit"].results if r.kind == "auto")


@needs_sandbox
def test_graded_submissions_time_their_phases(glab, tmp_path):
    """Each result says where its seconds went (for the grader's reports, not learners)."""
    subs = tmp_path / "subs"
    corpus.write_honest(subs, "honest")
    gb = _gb(tmp_path / "gb.sqlite")
    with _sandbox_executor(fork=True, cell_timeout=10) as executor:
        (graded,) = grade_batch(glab, subs, gradebook=gb, executor=executor, workers=1)
    gb.close()
    assert graded.total == 4.0
    phases = graded.timings
    run = {"queue", "setup", "fork", "kernel_start", "teardown"}
    assert set(phases) == run | {"prepare", "checks", "cells", "tests", "score", "record"}
    assert all(v >= 0 for v in phases.values()) and phases["checks"] > 0 < phases["tests"]
    # All but the gradebook write happen within the submission's own seconds.
    assert sum(v for k, v in phases.items() if k != "record") <= graded.seconds
    assert graded.to_dict()["timings"] == phases
