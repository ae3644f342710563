"""Autograding speed: ``nbgrader autograde`` against ``ai4scale grade`` (sandbox on).

Builds a realistic lab on the fly in a temporary folder (an nbgrader source
notebook that imports pandas, scikit-learn, fairlearn and shap, fits a small
model on a seeded synthetic frame, computes fairness metrics with fairlearn's
``MetricFrame`` and ``demographic_parity_difference``, and explains the model
with shap; graded cells with hidden tests), writes ``--n`` honest submissions
with varied answers, and grades the same submissions

1. with real nbgrader (``nbgrader generate_assignment`` then ``nbgrader
   autograde`` in a temporary course directory; one notebook after another);
2. with ``ai4scale grade`` (sandboxed kernels, default workers = cores).

Prints both wall times (the whole command each, start-up included), the ratio,
the CPU time each command and its processes used (kernels included), whether
the totals agree, where each of our submissions' time goes (median and p95
per phase: zygote queue, sandbox set-up, fork, kernel start, the grader's
guard, probe and canary cells, the learner's cells, test cells, teardown,
scoring, gradebook write; see ``GradedSubmission.timings``), and, from
separate runs on ``--memory-n`` submissions done first (polling memory
takes CPU from the command, so the timed runs go without it; these runs
also warm both tools' files and let ours remember the lab's self-check, as
every run after a lab's first does), per-submission peak memory: the kernel's peak resident
set (``VmHWM`` of each kernel process, polled from /proc) and its peak private
memory (``Private_*`` of ``smaps_rollup``: what the kernel does not share with
another process) for both; for ours also the run cgroup's
``memory.max_usage_in_bytes`` (kernel and children, page cache included),
polled until the group is removed, and the zygotes' memory. By default ours
forks each kernel from a zygote per worker (the lab's imports done once per
worker); ``--no-fork`` also times ours with a new interpreter per kernel.

Usage (as root; the sandbox needs it)::

    /opt/ai4scale/venv/bin/python benchmarks/autograde.py [--n 20] [--workers N] [--no-fork]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

VENV_BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
LAB_ID = "bench-fairness"
NOTEBOOK = "fairness.ipynb"
ASSIGNMENT = "ps1"
CGROUP_ROOT = Path("/sys/fs/cgroup/memory/ai4scale-grading")

SETUP = """\
import numpy as np
import pandas as pd
import shap
from fairlearn.metrics import MetricFrame, demographic_parity_difference, selection_rate
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

rng = np.random.default_rng(20240601)
n = 2000
group = rng.choice(["A", "B"], size=n, p=[0.6, 0.4])
income = rng.normal(30 + 6 * (group == "A"), 8, size=n)
years = rng.integers(0, 30, size=n)
debt = rng.gamma(2.0, 3.0, size=n)
score = 0.08 * income + 0.05 * years - 0.15 * debt + rng.normal(0, 1, size=n)
frame = pd.DataFrame(
    {"income": income, "years": years, "debt": debt, "group": group,
     "approved": (score > np.median(score)).astype(int)}
)
X = frame[["income", "years", "debt"]]
y = frame["approved"]
X_train, X_test, y_train, y_test, g_train, g_test = train_test_split(
    X, y, frame["group"], test_size=0.3, random_state=0
)
frame.head()"""

SOLUTIONS = {
    "fit_model": """\
def fit_model(X, y):
    \"\"\"Return a fitted classifier.\"\"\"
    ### BEGIN SOLUTION
    return LogisticRegression(max_iter=1000).fit(X, y)
    ### END SOLUTION""",
    "dp_gap": """\
def dp_gap(model, X, y, groups):
    \"\"\"Return the demographic parity difference of the model's predictions.\"\"\"
    ### BEGIN SOLUTION
    return demographic_parity_difference(y, model.predict(X), sensitive_features=groups)
    ### END SOLUTION""",
    "rates_by_group": """\
def rates_by_group(model, X, y, groups):
    \"\"\"Return a DataFrame indexed by group with columns accuracy and selection_rate.\"\"\"
    ### BEGIN SOLUTION
    mf = MetricFrame(
        metrics={"accuracy": accuracy_score, "selection_rate": selection_rate},
        y_true=y, y_pred=model.predict(X), sensitive_features=groups,
    )
    return mf.by_group
    ### END SOLUTION""",
    "top_feature": """\
def top_feature(model, X):
    \"\"\"Return the feature with the largest mean |SHAP value| (a column name).\"\"\"
    ### BEGIN SOLUTION
    explainer = shap.LinearExplainer(model, X)
    values = explainer.shap_values(X)
    return X.columns[np.abs(values).mean(axis=0).argmax()]
    ### END SOLUTION""",
}

TESTS = {
    "test_fit_model": (
        3,
        """\
model = fit_model(X_train, y_train)
assert accuracy_score(y_test, model.predict(X_test)) > 0.7
### BEGIN HIDDEN TESTS
assert hasattr(model, "predict_proba")
assert accuracy_score(y_train, model.predict(X_train)) > 0.7
### END HIDDEN TESTS""",
    ),
    "test_dp_gap": (
        3,
        """\
gap = dp_gap(model, X_test, y_test, g_test)
assert 0 <= gap <= 1
### BEGIN HIDDEN TESTS
pred = model.predict(X_test)
rates = pd.Series(pred).groupby(g_test.to_numpy()).mean()
assert abs(gap - (rates.max() - rates.min())) < 1e-9
### END HIDDEN TESTS""",
    ),
    "test_rates_by_group": (
        2,
        """\
table = rates_by_group(model, X_test, y_test, g_test)
assert set(table.index) == {"A", "B"}
### BEGIN HIDDEN TESTS
assert abs(table["selection_rate"].max() - table["selection_rate"].min() - gap) < 1e-9
assert (table["accuracy"] > 0.5).all()
### END HIDDEN TESTS""",
    ),
    "test_top_feature": (
        2,
        """\
feature = top_feature(model, X_train)
assert feature in X.columns
### BEGIN HIDDEN TESTS
assert feature == "income"
### END HIDDEN TESTS""",
    ),
}

# Wrong but honest answers, mixed into the submissions.
WRONG = {
    "fit_model": "def fit_model(X, y):\n    from sklearn.dummy import DummyClassifier\n"
    "    return DummyClassifier().fit(X, y)\n",
    "dp_gap": "def dp_gap(model, X, y, groups):\n"
    "    return demographic_parity_difference(y, y, sensitive_features=groups)\n",
    "rates_by_group": "def rates_by_group(model, X, y, groups):\n"
    "    return pd.DataFrame({'accuracy': [1.0], 'selection_rate': [0.5]}, index=['A'])\n",
    "top_feature": "def top_feature(model, X):\n    return X.columns[-1]\n",
}
# Other right answers: same results, different code.
ALTERNATIVE = {
    "fit_model": "def fit_model(X, y):\n    m = LogisticRegression(C=0.5, max_iter=500)\n"
    "    m.fit(X, y)\n    return m\n",
    "dp_gap": "def dp_gap(model, X, y, groups):\n    p = pd.Series(model.predict(X))\n"
    "    r = p.groupby(np.asarray(groups)).mean()\n    return float(r.max() - r.min())\n",
    "top_feature": "def top_feature(model, X):\n    ex = shap.LinearExplainer(model, X)\n"
    "    v = np.abs(ex.shap_values(X)).mean(0)\n    return list(X.columns)[int(v.argmax())]\n",
}


def _meta(gid, *, solution=False, grade=False, locked=False, points=None):
    meta = {
        "grade": grade,
        "grade_id": gid,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
    }
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def source_notebook():
    """The nbgrader source notebook of the benchmark lab."""
    cells = [
        new_markdown_cell(
            "# Fairness of a credit model\n\nFit, measure, explain.",
            metadata=_meta("intro", locked=True),
        ),
        new_code_cell(SETUP, metadata=_meta("setup", locked=True)),
    ]
    pairs = [
        ("fit_model", "test_fit_model"),
        ("dp_gap", "test_dp_gap"),
        ("rates_by_group", "test_rates_by_group"),
        ("top_feature", "test_top_feature"),
    ]
    for sol, test in pairs:
        cells.append(new_markdown_cell(f"## `{sol}`"))
        cells.append(new_code_cell(SOLUTIONS[sol], metadata=_meta(sol, solution=True)))
        points, src = TESTS[test]
        cells.append(new_code_cell(src, metadata=_meta(test, grade=True, points=points)))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def write_lab(labs):
    lab = labs / LAB_ID
    lab.mkdir(parents=True)
    points = sum(p for p, _ in TESTS.values())
    (lab / "lab.toml").write_text(
        f'format_version = 1\nid = "{LAB_ID}"\ntitle = "Fairness of a credit model"\n'
        'summary = "Fit a model, measure demographic parity, explain it with SHAP."\n'
        'learning_objectives = ["Measure demographic parity with fairlearn"]\n'
        f"datasets = []\nestimated_minutes = 30\npoints = {points}\n"
        f'notebooks = ["{NOTEBOOK}"]\n'
    )
    nbformat.write(source_notebook(), lab / NOTEBOOK)
    return lab


def answers_for(i, rng):
    """Varied honest answers: mostly right, some alternatives, some wrong."""
    out = {}
    for gid in SOLUTIONS:
        roll = rng.random() if i else 1.0  # learner00: the reference solution
        if roll < 0.25:
            out[gid] = WRONG[gid]
        elif roll < 0.5 and gid in ALTERNATIVE:
            out[gid] = ALTERNATIVE[gid]
        else:
            out[gid] = (
                SOLUTIONS[gid]
                .replace("    ### BEGIN SOLUTION\n", "")
                .replace("\n    ### END SOLUTION", "")
            )
    return out


def write_submissions(lab, ours, nbg_submitted, n, seed):
    from ai4scale.grading.labformat import learner_version, read_source_notebook

    released = learner_version(read_source_notebook(lab / NOTEBOOK), name=NOTEBOOK)
    rng = random.Random(seed)
    learners = []
    for i in range(n):
        learner = f"learner{i:02d}"
        nb = nbformat.from_dict(json.loads(nbformat.writes(released)))
        answers = answers_for(i, rng)
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in answers:
                cell.source = answers[gid]
        for folder in (ours / learner, nbg_submitted / learner / ASSIGNMENT):
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / NOTEBOOK)
        learners.append(learner)
    return learners


#: Process names (``comm``) of ours: forked kernels and zygotes (see grading/sandbox/_zygote.py).
FORKED_KERNEL, ZYGOTE, REAPER = b"ai4scale-kernel", b"ai4scale-zygote", b"ai4scale-reaper"


def _private_bytes(pid):
    """Private (unshared) resident bytes of ``pid``, from smaps_rollup."""
    total = 0
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            total += int(line.split()[1]) * 1024
    return total


class MemoryPoller:
    """Poll peak memory of kernels below a process, and of the sandbox's run cgroups."""

    def __init__(self, interval=0.2):
        self.interval = interval
        self.root_pid = None
        self.kernel_hwm = {}  # pid -> peak RSS bytes (VmHWM)
        self.kernel_private = {}  # pid -> peak private resident bytes
        self.zygote_hwm = {}  # pid -> peak RSS bytes of our zygotes
        self.cgroup_max = {}  # run cgroup -> memory.max_usage_in_bytes
        self.zygote_cgroup_max = {}  # zygote cgroup -> memory.max_usage_in_bytes
        self.per_submission = []  # seconds, from ours.json
        self.timings = []  # per submission: phase -> seconds, from ours.json
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self, root_pid):
        self.root_pid = root_pid
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _descends(self, pid, parents):
        for _ in range(20):
            if pid == self.root_pid:
                return True
            pid = parents.get(pid)
            if not pid:
                return False
        return False

    def _loop(self):
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def _sample(self):
        parents, kernels, zygotes = {}, [], []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                status = Path(entry.path, "status").read_text()
                cmd = Path(entry.path, "cmdline").read_bytes()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            pid = int(entry.name)
            parents[pid] = int(fields.get("PPid", "0").strip() or 0)
            if "VmHWM" not in fields:
                continue
            hwm = int(fields["VmHWM"].split()[0]) * 1024
            name = fields.get("Name", "").strip().encode()
            argv0 = os.path.basename(cmd.split(b"\0", 1)[0])
            if name == ZYGOTE:
                zygotes.append((pid, hwm))
            elif name == REAPER:
                continue  # a forked kernel's parent (the zygote's code in its command line)
            elif name == FORKED_KERNEL or (b"ipykernel" in cmd and argv0.startswith(b"python")):
                kernels.append((pid, hwm))
        for pid, hwm in kernels:
            if self._descends(pid, parents):
                self.kernel_hwm[pid] = max(hwm, self.kernel_hwm.get(pid, 0))
                private = _private_bytes(pid)
                self.kernel_private[pid] = max(private, self.kernel_private.get(pid, 0))
        for pid, hwm in zygotes:
            if self._descends(pid, parents):
                self.zygote_hwm[pid] = max(hwm, self.zygote_hwm.get(pid, 0))
        if CGROUP_ROOT.is_dir():
            for pattern, peaks in (
                ("run-*", self.cgroup_max),
                ("zygote-*", self.zygote_cgroup_max),
            ):
                for group in CGROUP_ROOT.glob(pattern):
                    try:
                        value = int((group / "memory.max_usage_in_bytes").read_text())
                    except (OSError, ValueError):
                        continue
                    peaks[group.name] = max(value, peaks.get(group.name, 0))


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd, *, cwd, env, poll=False):
    """Run ``cmd``; return wall seconds, its memory poller, stdout and stderr.

    ``poller.cpu_seconds`` is the CPU time of the command and of every
    process below it (each one waited for by its parent, kernels included).
    Memory is polled only with ``poll``: reading every process's
    ``smaps_rollup`` five times a second takes CPU (and the kernels' memory
    map locks) from the command, so timed runs go without it.
    """
    poller = MemoryPoller()
    cpu = _children_cpu()
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    if poll:
        poller.start(proc.pid)
    out, err = proc.communicate()
    seconds = time.monotonic() - started
    poller.cpu_seconds = _children_cpu() - cpu
    poller.stop()
    if proc.returncode != 0:
        sys.exit(f"{cmd[0]} failed ({proc.returncode}):\n{out[-3000:]}\n{err[-3000:]}")
    return seconds, poller, out, err


def run_nbgrader(course, env, *, poll=False):
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.course_id = 'bench'\nc.CourseDirectory.root = {str(course)!r}\n"
        "c.ExecutePreprocessor.timeout = 120\n"
    )
    nbg = [str(VENV_BIN / "nbgrader")]
    subprocess.run(
        [*nbg, "generate_assignment", ASSIGNMENT, "--force"],
        cwd=course,
        env=env,
        check=True,
        capture_output=True,
    )
    seconds, poller, out, err = timed(
        [*nbg, "autograde", ASSIGNMENT, "--force"], cwd=course, env=env, poll=poll
    )
    db = sqlite3.connect(course / "gradebook.db")
    rows = db.execute(
        "SELECT s.student_id, SUM(COALESCE(g.manual_score, g.auto_score, 0)) FROM grade g "
        "JOIN submitted_notebook n ON g.notebook_id = n.id "
        "JOIN submitted_assignment s ON n.assignment_id = s.id GROUP BY s.student_id"
    ).fetchall()
    db.close()
    return seconds, poller, dict(rows)


def run_ours(labs, subs, work, env, workers, *, fork=True, poll=False, tag="ours", extra=()):
    out = work / f"{tag}.json"
    db = work / (f"{tag}.sqlite" if fork else f"{tag}-no-fork.sqlite")
    cmd = [
        str(VENV_BIN / "ai4scale"),
        "grade",
        LAB_ID,
        str(subs),
        "--labs",
        str(labs),
        "--db",
        f"sqlite:///{db}",
        "--json",
        str(out),
        "--cell-timeout",
        "120",
    ]
    if workers:
        cmd += ["--workers", str(workers)]
    if not fork:
        cmd.append("--no-fork")
    cmd += list(extra)
    seconds, poller, _, err = timed(cmd, cwd=work, env=env, poll=poll)
    poller.selfcheck = next(
        (line for line in err.splitlines() if line.startswith("self-check:")), ""
    )
    data = json.loads(out.read_text())
    totals = {s["learner"]: s["total"] for s in data["submissions"]}
    poller.per_submission = [s["seconds"] for s in data["submissions"]]
    poller.timings = [s.get("timings", {}) for s in data["submissions"]]
    flagged = {s["learner"]: s["flags"] for s in data["submissions"] if s["flags"]}
    return seconds, poller, totals, flagged, data["executor"]


def import_seconds(env):
    """Time ``import pandas, sklearn, fairlearn, shap`` in a fresh interpreter (warm cache)."""
    code = (
        "import time; t = time.monotonic(); import numpy, pandas, sklearn.linear_model, "
        "fairlearn.metrics, shap; print(time.monotonic() - t)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    )
    return float(out.stdout.strip().splitlines()[-1])


#: The phases of one submission (``GradedSubmission.timings``), in the order they happen.
PHASES = {
    "queue": "waiting for an idle zygote",
    "prepare": "parse, sanitise, insert check cells",
    "setup": "sandbox set-up (run dir, cgroup, staging)",
    "fork": "fork of the kernel from the zygote",
    "kernel_start": "kernel start until it answers",
    "checks": "guard, probe and canary cells",
    "cells": "the learner's and the lab's cells",
    "tests": "test cells (hidden tests included)",
    "teardown": "kill the run, remove cgroup and dir",
    "score": "scoring and tampering checks",
    "record": "gradebook write",
}


def _p95(values):
    values = sorted(values)
    return values[max(0, -(-len(values) * 95 // 100) - 1)] if values else 0.0


def breakdown(timings, seconds, wall, workers):
    """Print where each submission's time goes: median and p95 per phase, sum vs wall."""
    phases = list(PHASES) + sorted({k for t in timings for k in t} - set(PHASES))
    print(f"per-submission breakdown (ours, n={len(timings)}):")
    print(f"  {'phase':<13} {'median':>8} {'p95':>8} {'total':>8}  what")
    sums = [sum(t.values()) - t.get("record", 0.0) for t in timings]
    for phase in phases:
        values = [t.get(phase, 0.0) for t in timings]
        print(
            f"  {phase:<13} {statistics.median(values) * 1000:6.1f}ms {_p95(values) * 1000:6.1f}ms "
            f"{sum(values):7.2f}s  {PHASES.get(phase, '')}"
        )
    # A submission's seconds cover all but the gradebook write (done by the main thread).
    gaps = [s - t for s, t in zip(seconds, sums, strict=True)]
    print(
        f"  {'unaccounted':<13} {statistics.median(gaps) * 1000:6.1f}ms {_p95(gaps) * 1000:6.1f}ms "
        f"{sum(gaps):7.2f}s  submission wall minus its phases (client-side message handling)"
    )
    busy = sum(seconds) + sum(t.get("record", 0.0) - t.get("queue", 0.0) for t in timings)
    print(
        f"  sum of submissions (queue left out) {busy:.2f} s over {workers} workers = "
        f"{busy / workers:.2f} s; command wall {wall:.2f} s, so {wall - busy / workers:.2f} s "
        "outside them (start-up, imports, zygotes' imports, self-check, shut-down)"
    )


def _subset(work, course, n):
    """Copy the first ``n`` submissions for the memory runs; return the nbgrader course."""
    mem_course = work / "course-mem"
    shutil.copytree(course / "source", mem_course / "source")
    for learner in sorted(p.name for p in (course / "submitted").iterdir())[:n]:
        shutil.copytree(course / "submitted" / learner, mem_course / "submitted" / learner)
        shutil.copytree(work / "subs" / learner, work / "subs-mem" / learner)
    return mem_course


def mib(values):
    values = sorted(values)
    if not values:
        return "n/a"
    return (
        f"median {statistics.median(values) / 2**20:.0f} MiB, "
        f"max {values[-1] / 2**20:.0f} MiB, min {values[0] / 2**20:.0f} MiB (n={len(values)})"
    )


def _report_ours(label, n, seconds, mem, executor, workers, nbg_s):
    print(
        f"{label:<19}: {seconds:7.1f} s  ({seconds / n:.2f} s per submission; "
        f"{executor} executor, {workers} workers; {mem.cpu_seconds:.0f} CPU-s)"
    )
    print(f"ratio nbgrader/ours: {nbg_s / seconds:.2f}x (goal >= 7x)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20, help="submissions (default 20)")
    parser.add_argument("--workers", type=int, default=None, help="ours (default: cores)")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument(
        "--no-fork",
        action="store_true",
        help="also time ours with a new interpreter per kernel (ai4scale grade --no-fork)",
    )
    parser.add_argument(
        "--memory-n",
        type=int,
        default=6,
        help="submissions of the separate runs that poll memory (default 6; 0: none)",
    )
    parser.add_argument(
        "--executor",
        choices=("sandbox", "docker"),
        default="sandbox",
        help="docker: also time ours in grading containers (ai4scale grade --executor docker) "
        "against the local sandbox, with the same submissions and workers",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("run as root: the sandbox needs it")
    work = Path(tempfile.mkdtemp(prefix="ai4scale-bench-ag-"))
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}"}
    workers = args.workers or os.cpu_count()
    try:
        lab = write_lab(work / "labs")
        course = work / "course"
        (course / "source" / ASSIGNMENT).mkdir(parents=True)
        shutil.copy(lab / NOTEBOOK, course / "source" / ASSIGNMENT / NOTEBOOK)
        write_submissions(lab, work / "subs", course / "submitted", args.n, args.seed)
        print(f"lab {LAB_ID}: {args.n} submissions, {os.cpu_count()} cores, in {work}")
        mem_n = min(args.n, args.memory_n)
        if mem_n:
            # Memory first, on a few submissions (the poller would slow the timed runs).
            # It also lets ours remember the lab's self-check, as any later run does.
            mem_course = _subset(work, course, mem_n)
            _, ours_mem, _, _, _ = run_ours(
                work / "labs", work / "subs-mem", work, env, args.workers, poll=True, tag="mem"
            )
            _, nbg_mem, _ = run_nbgrader(mem_course, env, poll=True)
        nbg_s, nbg_cpu, nbg_totals = run_nbgrader(course, env)
        print(
            f"nbgrader autograde : {nbg_s:7.1f} s  ({nbg_s / args.n:.2f} s per submission; "
            f"{nbg_cpu.cpu_seconds:.0f} CPU-s)"
        )
        ours_s, ours, ours_totals, flagged, executor = run_ours(
            work / "labs", work / "subs", work, env, args.workers
        )
        _report_ours("ai4scale grade", args.n, ours_s, ours, executor, workers, nbg_s)
        print(f"  {ours.selfcheck}")
        same = [k for k in nbg_totals if abs((ours_totals.get(k) or 0) - nbg_totals[k]) < 1e-9]
        print(
            f"totals equal       : {len(same)}/{len(nbg_totals)} "
            f"(distribution {sorted(nbg_totals.values())})"
        )
        for k in sorted(set(nbg_totals) - set(same)):
            print(f"  differs: {k} nbgrader {nbg_totals[k]} ours {ours_totals.get(k)}")
        if flagged:
            print(f"  flagged by ours (honest submissions!): {flagged}")
        per = sorted(ours.per_submission)
        print(
            f"ours per submission: median {statistics.median(per):.1f} s, max {per[-1]:.1f} s "
            f"(sanitise + kernel forked from the worker's zygote + cells, in one worker)"
        )
        breakdown(ours.timings, ours.per_submission, ours_s, workers)
        if args.executor == "docker":
            dock_s, dock, dock_totals, _, dock_name = run_ours(
                work / "labs", work / "subs", work, env, args.workers, tag="docker",
                extra=("--executor", "docker"),
            )  # fmt: skip
            _report_ours("  in containers", args.n, dock_s, dock, dock_name, workers, nbg_s)
            print(f"  {dock.selfcheck}")
            print(
                f"docker vs sandbox  : {dock_s:.1f} s vs {ours_s:.1f} s; "
                f"same totals: {dock_totals == ours_totals}"
            )
            breakdown(dock.timings, dock.per_submission, dock_s, workers)
        fresh_mem = None
        if args.no_fork:
            fresh_s, fresh, fresh_totals, _, _ = run_ours(
                work / "labs", work / "subs", work, env, args.workers, fork=False
            )
            _report_ours("  with --no-fork", args.n, fresh_s, fresh, executor, workers, nbg_s)
            print(f"  same totals as forked: {fresh_totals == ours_totals}")
            if mem_n:
                _, fresh_mem, _, _, _ = run_ours(
                    work / "labs",
                    work / "subs-mem",
                    work,
                    env,
                    args.workers,
                    fork=False,
                    poll=True,
                    tag="mem",
                )
        print(
            f"lab imports in a fresh interpreter: {import_seconds(env):.1f} s "
            "(paid once per worker by its zygote; by every kernel with --no-fork and nbgrader)"
        )
        if not mem_n:
            return 0
        print(f"peak memory per submission (separate runs of {mem_n} submissions, polled):")
        print(f"  nbgrader kernel VmHWM     : {mib(nbg_mem.kernel_hwm.values())}")
        print(f"  nbgrader kernel private   : {mib(nbg_mem.kernel_private.values())}")
        print(
            f"  ours kernel VmHWM         : {mib(ours_mem.kernel_hwm.values())} (shared pages too)"
        )
        print(f"  ours kernel private       : {mib(ours_mem.kernel_private.values())}")
        print(f"  ours run cgroup max usage : {mib(ours_mem.cgroup_max.values())}")
        print(f"  ours zygotes (per worker) : VmHWM {mib(ours_mem.zygote_hwm.values())}")
        print(f"                              cgroup {mib(ours_mem.zygote_cgroup_max.values())}")
        if fresh_mem is not None:
            print(f"  --no-fork kernel VmHWM    : {mib(fresh_mem.kernel_hwm.values())}")
            print(f"  --no-fork run cgroup max  : {mib(fresh_mem.cgroup_max.values())}")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
