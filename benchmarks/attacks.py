"""Grading under attack: how long the attack corpus and the sandbox's limits take; prints figures.

- the attack batch of ``tests/adversarial/corpus.py`` (every attack and one
  honest submission) graded with the local executor (nbclient) and, as root
  with cgroup v1, with kernels forked in the sandbox: wall time in all and per
  submission, against the goal of 4 s (local) and 7 s (sandbox) per
  submission on two cores (each submission starts a kernel; no run may hang
  the batch);
- in the sandbox: how long an infinite loop takes to be stopped with a 2 s
  cell timeout, and a fork bomb with a 4 s cell timeout and 32 processes at
  most (the goals: 30 s and 60 s, the run and its clean-up included).

The tests (``tests/test_autograde.py``, ``tests/test_grading_sandbox.py``)
check what happens; this script says how fast.

Usage (as root for the sandbox figures)::

    /opt/ai4scale/venv/bin/python benchmarks/attacks.py [--no-sandbox]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ai4scale.grading.autograde import (
    LocalExecutor,
    SandboxExecutor,
    grade_batch,
    open_lab,
    sandbox_available,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "adversarial"))
import corpus  # noqa: E402

#: Goal: seconds per submission of the attack batch, by executor.
BATCH_GOAL = {"local": 4.0, "sandbox": 7.0}
#: Goal: seconds until the sandbox has stopped (and cleaned up) a run.
LOOP_GOAL, FORK_BOMB_GOAL = 30.0, 60.0

_PREFIX = "ai4b-"
_CGROUP = "ai4scale-bench"


@contextlib.contextmanager
def grading_account():
    """A grading account, runs folder and cgroup parent of the benchmark's own; removed after."""
    from ai4scale.grading.sandbox import remove_grader_account

    user = f"{_PREFIX}grader"
    runs = Path(f"/srv/{_PREFIX}runs-{secrets.token_hex(4)}")
    try:
        yield user, runs
    finally:
        remove_grader_account(user)
        shutil.rmtree(runs, ignore_errors=True)
        for ctrl in ("memory", "cpu", "pids"):
            with contextlib.suppress(OSError):
                os.rmdir(f"/sys/fs/cgroup/{ctrl}/{_CGROUP}")


def attack_batch(executor, *, sandboxed, work):
    """Grade the attack corpus with ``executor``; return (submissions, seconds)."""
    attacks = {**corpus.ATTACKS, **(corpus.SANDBOX_ATTACKS if sandboxed else {})}
    subs = work / f"subs-{'sandbox' if sandboxed else 'local'}"
    for learner, (build, _) in attacks.items():
        build(subs, learner)
    corpus.write_honest(subs, "honest")
    glab = open_lab(corpus.LAB)
    start = time.perf_counter()
    graded = grade_batch(glab, subs, executor=executor)
    seconds = time.perf_counter() - start
    return len(graded), seconds


def report_batch(name, n, seconds):
    per = seconds / n
    verdict = "met" if per <= BATCH_GOAL[name] else "missed"
    print(
        f"attack batch, {name + ':':<9}{n:>3} submissions in {seconds:6.1f} s, "
        f"{per:4.1f} s each (goal {BATCH_GOAL[name]:.0f} s: {verdict})"
    )


def sandbox_limits(user, runs):
    """Return seconds to stop an infinite loop and a fork bomb in the sandbox."""
    from ai4scale.grading.sandbox import Sandbox
    from nbformat.v4 import new_code_cell, new_notebook

    def nb(*sources):
        return new_notebook(cells=[new_code_cell(s) for s in sources])

    box = Sandbox(
        user=user,
        runs_dir=str(runs),
        cgroup_parent=_CGROUP,
        cell_timeout=2,
        notebook_timeout=30,
        memory="300M",
        max_pids=64,
    )
    start = time.perf_counter()
    result = box.run(nb("x = 1", "while True:\n    pass", "print('never')"))
    loop = time.perf_counter() - start
    assert result.outcome == "cell_timeout", result.reason
    box.cell_timeout, box.max_pids = 4, 32
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    start = time.perf_counter()
    result = box.run(nb(bomb))
    fork_bomb = time.perf_counter() - start
    assert result.outcome in ("cell_timeout", "kernel_died"), result.reason
    return loop, fork_bomb


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-sandbox", action="store_true", help="the local executor only")
    args = parser.parse_args(argv)
    sandbox = not args.no_sandbox and sandbox_available()
    work = Path(tempfile.mkdtemp(prefix="ai4scale-bench-attacks-"))
    try:
        executor = LocalExecutor(cell_timeout=5, notebook_timeout=60)
        report_batch("local", *attack_batch(executor, sandboxed=False, work=work))
        if not sandbox:
            print("sandbox figures skipped: they need root and cgroup v1")
            return 0
        with grading_account() as (user, runs):
            executor = SandboxExecutor(
                fork=True,
                user=user,
                runs_dir=str(runs),
                cgroup_parent=_CGROUP,
                cell_timeout=10,
                notebook_timeout=60,
            )
            report_batch("sandbox", *attack_batch(executor, sandboxed=True, work=work))
            loop, bomb = sandbox_limits(user, runs)
        for what, seconds, goal in (
            ("infinite loop (2 s cell timeout) stopped in", loop, LOOP_GOAL),
            ("fork bomb (4 s cell timeout, 32 pids) stopped in", bomb, FORK_BOMB_GOAL),
        ):
            verdict = "met" if seconds <= goal else "missed"
            print(f"{what} {seconds:5.1f} s (goal {goal:.0f} s: {verdict})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
