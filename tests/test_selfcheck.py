"""Grading trusts its environment only after checking it (issue 10, points 3 and 5).

- The self-check grades a lab's reference solution with the learners' executor
  and settings before a batch: a lab whose setup cell fails in the sandbox is
  refused, with the failing cell and its traceback, and nothing is recorded.
- A failing setup cell in a learner's run is the lab's failure (``setup-failed``,
  not scored), unless the learner's own code ran before it.
- No silent fallback: without the sandbox's capabilities (here: a real
  non-root account, through ``setpriv``), grading refuses and says why.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from ai4scale.grading.autograde import (
    SETUP_FAILED,
    SETUP_FAILED_MESSAGE,
    LocalExecutor,
    grade_batch,
    grade_submission,
    open_lab,
    sandbox_available,
    selfcheck,
)
from ai4scale.grading.autograde._selfcheck import reference_notebook
from ai4scale.grading.feedback import write_feedback
from ai4scale.grading.gradebook import Gradebook

ROOT = Path(__file__).resolve().parents[1]
LAB = "example-intro"
NB = "approval-rates.ipynb"
needs_sandbox = pytest.mark.skipif(not sandbox_available(), reason="needs root and cgroup v1")


def broken_copy(root, *, setup_line, lab_id="broken-intro"):
    """Copy example-intro to ``root/lab_id`` with ``setup_line`` first in its setup cell."""
    target = root / lab_id
    shutil.copytree(ROOT / "labs" / LAB, target)
    toml = target / "lab.toml"
    toml.write_text(toml.read_text().replace(f'id = "{LAB}"', f'id = "{lab_id}"'))
    nb = nbformat.read(target / NB, as_version=4)
    setup = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "data")
    setup.source = setup_line + "\n" + setup.source
    nbformat.write(nb, target / NB)
    return target


def hidden_from_sandbox(tmp_path):
    """A line that reads a file of the grader's /tmp: there for root, not in the sandbox.

    The sandbox mounts a private /tmp, as it did for the checkout under /tmp
    of issue 10.
    """
    marker = tmp_path / "marker.txt"
    marker.write_text("prepared\n")
    return f"assert open({str(marker)!r}).read() == 'prepared\\n'"


def reference_files(glab, folder):
    folder.mkdir(parents=True, exist_ok=True)
    for name, src in glab.sources.items():
        nbformat.write(reference_notebook(src, name=name), folder / name)
    return {name: folder / name for name in glab.sources}


# -- setup cells in a learner's run -------------------------------------------------------


def test_failing_setup_cell_is_the_labs_failure_not_the_learners(tmp_path):
    lab = broken_copy(tmp_path, setup_line="import ai4scale_module_that_is_not_there")
    glab = open_lab(lab)
    files = reference_files(glab, tmp_path / "sub")
    graded = grade_submission(glab, files, learner="anna", executor=LocalExecutor(cell_timeout=30))
    auto = [r for r in graded.results if r.kind == "auto"]
    assert auto and all(r.status == SETUP_FAILED and r.score is None for r in auto), auto
    failure = graded.flags["setup_failed"][NB]
    assert failure["cell"] == 1 and failure["grade_id"] == "data"
    assert failure["error"].startswith("ModuleNotFoundError")
    assert "ai4scale_module_that_is_not_there" in failure["output"]
    assert "Traceback" in failure["output"] or "---->" in failure["output"]
    assert "NameError" not in json.dumps(failure)
    assert "tampered" not in graded.flags


def test_setup_cell_after_learner_code_is_the_learners_run(tmp_path):
    """A learner's cell above the setup cells makes their failure the learner's run."""
    lab = broken_copy(tmp_path, setup_line="import ai4scale_module_that_is_not_there")
    glab = open_lab(lab)
    files = reference_files(glab, tmp_path / "sub")
    nb = nbformat.read(files[NB], as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell("my_own_note = 'learner code, run first'"))
    nbformat.write(nb, files[NB])
    graded = grade_submission(glab, files, learner="anna", executor=LocalExecutor(cell_timeout=30))
    assert "setup_failed" not in graded.flags, graded.flags
    auto = [r for r in graded.results if r.kind == "auto"]
    assert auto and all(r.status == "failed" and r.score == 0.0 for r in auto), auto


def test_setup_failed_items_are_recorded_unscored_and_graded_again(tmp_path):
    lab = broken_copy(tmp_path, setup_line="import ai4scale_module_that_is_not_there")
    glab = open_lab(lab)
    subs = tmp_path / "subs"
    reference_files(glab, subs / "anna")
    gb = Gradebook(f"sqlite:///{tmp_path / 'gb.sqlite'}")
    gb.upgrade()
    try:
        ex = LocalExecutor(cell_timeout=30)
        (first,) = grade_batch(glab, subs, gradebook=gb, executor=ex, workers=1)
        results = gb.submission_results(first.submission_id)
        auto = [r for r in results.values() if r["grade_id"].startswith("test_")]
        assert auto and all(r["flags"]["status"] == SETUP_FAILED for r in auto), auto
        assert all(r["score"] is None for r in auto)
        _, flags, _, _ = gb.submission_state(first.submission_id)
        assert flags["executor"] == "local" and flags["setup_failed"][NB]["cell"] == 1
        # The learner's feedback says the lab failed, in plain words, without the traceback.
        write_feedback(gb, glab, tmp_path / "feedback", submissions_dir=subs)
        page = (tmp_path / "feedback" / "anna" / f"{glab.id}.html").read_text()
        assert SETUP_FAILED_MESSAGE in html.unescape(page)
        assert "ModuleNotFoundError" not in page and "Traceback" not in page
        # --resume grades it again (the environment may be fixed by now).
        again = grade_batch(glab, subs, gradebook=gb, executor=ex, workers=1, resume=True)
        assert [g.learner for g in again] == ["anna"]
    finally:
        gb.close()


# -- the self-check ---------------------------------------------------------------------


def test_selfcheck_names_the_failing_setup_cell_and_remembers_a_pass(tmp_path):
    ex = LocalExecutor(cell_timeout=60)
    cache = tmp_path / "cache"
    broken = selfcheck(
        open_lab(broken_copy(tmp_path, setup_line="import ai4scale_module_that_is_not_there")),
        executor=ex,
        cache_dir=cache,
    )
    assert not broken.passed and broken.score == 0.0 and broken.max_score == 4.0
    assert broken.failure.cell == 1 and broken.failure.grade_id == "data"
    text = broken.message()
    assert "grading refused" in text and "cell 1 (data)" in text
    assert "ModuleNotFoundError" in text and "NameError" not in text
    assert not cache.exists() or not list(cache.iterdir())  # a failure is not remembered

    good = selfcheck(open_lab(ROOT / "labs" / LAB), executor=ex, cache_dir=cache)
    assert good.passed and not good.cached and good.score == good.max_score == 4.0
    again = selfcheck(open_lab(ROOT / "labs" / LAB), executor=ex, cache_dir=cache)
    assert again.passed and again.cached and again.key == good.key
    # Other settings: checked again.
    other = selfcheck(
        open_lab(ROOT / "labs" / LAB), executor=LocalExecutor(cell_timeout=61), cache_dir=cache
    )
    assert other.passed and not other.cached and other.key != good.key


def _grade_cli(tmp_path, lab, *extra):
    subs = tmp_path / "subs"
    if not subs.exists():
        reference_files(open_lab(lab), subs / "anna")
    settings = tmp_path / "ai4scale.toml"
    settings.write_text(f'[paths]\nstate_dir = "{tmp_path / "state"}"\n')
    db = tmp_path / "gb.sqlite"
    argv = [sys.executable, "-m", "ai4scale", "--config", str(settings), "grade", str(lab)]
    argv += [str(subs), "--db", f"sqlite:///{db}", "--workers", "1", *extra]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    return done, db


def _submissions(db):
    if not db.exists():
        return 0
    with sqlite3.connect(db) as con:
        try:
            return con.execute("select count(*) from submissions").fetchone()[0]
        except sqlite3.OperationalError:  # no table: nothing was ever recorded
            return 0


@needs_sandbox
def test_grade_cli_refuses_a_lab_whose_setup_fails_in_the_sandbox(tmp_path):
    """Issue 10's class graded 0: the setup cell reads what the sandbox cannot see."""
    lab = broken_copy(tmp_path, setup_line=hidden_from_sandbox(tmp_path))
    done, db = _grade_cli(tmp_path, lab)
    assert done.returncode == 3, done.stderr
    assert "grading refused, nothing recorded" in done.stderr
    assert "cell 1 (data)" in done.stderr and "FileNotFoundError" in done.stderr
    assert "marker.txt" in done.stderr
    assert "---->" in done.stderr  # the cell's own traceback, as the sandbox's kernel gave it
    assert "NameError" not in done.stderr.split("First failing cell")[1].split("\n- ")[0]
    assert "the sandbox executor" in done.stderr
    assert _submissions(db) == 0
    # The same lab grades without the sandbox (the file is there): only by name.
    done, db = _grade_cli(tmp_path, lab, "--no-sandbox", "--json", str(tmp_path / "out.json"))
    assert done.returncode == 0, done.stderr
    assert "grading without the sandbox" in done.stderr
    assert json.loads((tmp_path / "out.json").read_text())["executor"] == "local"


@needs_sandbox
def test_grade_cli_checks_the_reference_then_grades_in_the_sandbox(tmp_path):
    lab = tmp_path / LAB
    shutil.copytree(ROOT / "labs" / LAB, lab)
    done, db = _grade_cli(tmp_path, lab, "--json", str(tmp_path / "out.json"))
    assert done.returncode == 0, done.stderr
    assert "the reference solution gets full marks with the sandbox executor (checked" in (
        done.stderr
    )
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["executor"] == "sandbox"
    (anna,) = out["submissions"]
    assert anna["executor"] == "sandbox" and anna["total"] == 4.0 and not anna["flags"]
    assert _submissions(db) == 1
    with sqlite3.connect(db) as con:
        (flags,) = con.execute("select flags from submissions").fetchone()
    assert json.loads(flags)["executor"] == "sandbox"
    # A second batch does not pay for the check again.
    done, _ = _grade_cli(tmp_path, lab, "--resume")
    assert done.returncode == 0 and "remembered from an earlier check" in done.stderr


# -- no silent fallback ------------------------------------------------------------------------


@contextlib.contextmanager
def _nobody_env():
    """Yield an environment in which ``nobody`` imports a readable copy of ``ai4scale``.

    The installed package lets other accounts read only what learners' kernels
    import (:mod:`ai4scale.hub.package_access`); these tests run the grading
    library as a non-root process, as in a developer's own environment. The
    copy is removed afterwards.
    """
    from ai4scale.hub.package_access import package_dir

    folder = Path(tempfile.mkdtemp(prefix="ai4scale-readable-"))
    try:
        skip = shutil.ignore_patterns("__pycache__")
        shutil.copytree(package_dir(), folder / "ai4scale", ignore=skip)
        for p in [folder, *folder.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        yield {**os.environ, "PYTHONPATH": str(folder)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _as_nobody(code):
    """Run Python ``code`` as the unprivileged account ``nobody`` (a real non-root process)."""
    argv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    argv += [sys.executable, "-c", code]
    with _nobody_env() as env:
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd="/", env=env)


def test_without_root_the_default_executor_refuses_and_says_why():
    done = _as_nobody(
        "from ai4scale.grading.autograde import default_executor, SandboxUnavailable\n"
        "try:\n    default_executor()\n"
        "except SandboxUnavailable as e:\n    print('REFUSED', e)\n"
        "else:\n    print('GRADED UNCONFINED')\n"
        "print('EXPLICIT', default_executor(sandbox=False).name)\n"
    )
    assert done.returncode == 0, done.stderr
    assert "GRADED UNCONFINED" not in done.stdout
    assert "REFUSED the grading sandbox cannot run here" in done.stdout
    assert "grading runs as nobody" in done.stdout and "not as root" in done.stdout
    assert "EXPLICIT local" in done.stdout


def test_without_root_the_course_refuses_auto_and_warns_for_none(tmp_path):
    tmp_path.chmod(0o777)
    done = _as_nobody(
        "from ai4scale.hub.course import CourseConfig\n"
        "from ai4scale.hub.course._grading import make_executor, grading_notice\n"
        "from ai4scale.hub.course._errors import Conflict\n"
        f"for mode in ('auto', 'sandbox', 'none', 'local'):\n"
        f"    cfg = CourseConfig(sandbox=mode, course_dir={str(tmp_path)!r})\n"
        "    try:\n        name = make_executor(cfg).name\n"
        "    except Conflict as e:\n        name = f'refused: {e}'\n"
        "    print(mode, '|', name, '|', grading_notice(cfg))\n"
    )
    assert done.returncode == 0, done.stderr
    rows = {line.split(" | ")[0]: line.split(" | ")[1:] for line in done.stdout.splitlines()}
    for mode in ("auto", "sandbox"):
        executor, notice = rows[mode]
        assert executor.startswith("refused: grading refused: the grading sandbox cannot run")
        assert "not as root" in executor
        assert notice.startswith("Grading is refused")
    for mode in ("none", "local"):
        executor, notice = rows[mode]
        assert executor == "local"
        assert notice.startswith("Grading runs without the sandbox: learners' code runs as")


@pytest.fixture
def open_dir():
    """A folder the account ``nobody`` can read (pytest's own tmp_path is root-only)."""
    folder = Path(tempfile.mkdtemp(prefix="ai4scale-selfcheck-"))
    folder.chmod(0o777)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_grade_cli_without_root_refuses_without_no_sandbox(open_dir):
    tmp_path = open_dir
    lab = tmp_path / LAB  # readable by nobody wherever the checkout is
    shutil.copytree(ROOT / "labs" / LAB, lab)
    subs = tmp_path / "subs"
    reference_files(open_lab(lab), subs / "anna")
    for p in [lab, subs, *lab.rglob("*"), *subs.rglob("*")]:
        p.chmod(0o777 if p.is_dir() else 0o666)
    with _nobody_env() as env:
        done = subprocess.run(
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
            + [sys.executable, "-m", "ai4scale", "grade", str(lab), str(subs)]
            + ["--db", f"sqlite:///{tmp_path / 'gb.sqlite'}"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd="/",
            env=env,
        )
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "the grading sandbox cannot run here" in done.stderr
    assert "not as root" in done.stderr and "--no-sandbox" in done.stderr
    assert not (tmp_path / "gb.sqlite").exists()


def test_instructor_pages_show_the_grading_notice():
    from ai4scale.hub.course._pages import _ENV

    page = _ENV.get_template("base.html")
    ctx = dict(
        base_url="/",
        hub_url="/hub/",
        static=lambda p: p,
        xsrf_token="x",
        user="tina",
        brand="B",
        page_id="p",
        page_title="",
        grading_notice="Grading runs without the sandbox: learners' code runs as X.",
    )
    shown = page.render(instructor=True, nav="instructor", **ctx)
    assert 'id="grading-notice"' in shown and "without the sandbox" in shown
    learner = page.render(instructor=False, nav="learner", **ctx)
    assert "grading-notice" not in learner
