"""The grading pipeline: parse -> sanitise -> canaries -> execute -> check -> score -> record."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ai4scale.grading.labformat import lab_items, load_lab, read_lab_notebooks

from ._canary import check_canaries, insert_canaries
from ._execute import default_executor
from ._guard import LYING_VALUES
from ._parse import SubmissionError, check_name, parse_notebook
from ._preload import lab_preload
from ._sanitise import sanitise
from ._score import score_run, zero_autograded
from ._setup import find_setup_failure, mark_setup_failed

__all__ = [
    "GradedSubmission",
    "GradingLab",
    "find_submissions",
    "grade_batch",
    "gradebook_items",
    "grade_submission",
    "open_lab",
]


@dataclass
class GradingLab:
    """A lab ready for grading: its lab.toml, source notebooks and resource files."""

    lab: object
    sources: dict
    resources: dict

    @property
    def id(self):
        """The lab id."""
        return self.lab.id


def open_lab(lab_dir):
    """Read a lab for grading (:class:`GradingLab`); raises ``LabError`` when invalid."""
    lab = load_lab(lab_dir)
    resources = {}
    for path in sorted(Path(lab.path).rglob("*")):
        rel = path.relative_to(lab.path)
        if any(p.startswith(".") or p == "__pycache__" for p in rel.parts):
            continue
        if path.is_file() and path.suffix != ".ipynb" and str(rel) != "lab.toml":
            resources[str(rel)] = path
    return GradingLab(lab, read_lab_notebooks(lab), resources)


@dataclass
class GradedSubmission:
    """What grading one learner's submission gave.

    ``status``: ``"graded"``, ``"rejected"`` (malformed or unsafe; ``message``
    says why) or ``"error"`` (a fault of the grader; left for ``--resume``).
    ``flags`` holds the sanitiser's edits per notebook, ``tampered`` (why),
    ``run`` (per notebook: how the run ended when it did not complete) and
    ``setup_failed`` (per notebook: the lab's setup cell that failed, a
    :class:`~._setup.SetupFailure` as a dict; its items are not scored).
    ``executor`` names what ran the notebooks (``"sandbox"``, ``"local"``).
    ``timings`` holds the seconds of each phase, summed over the notebooks,
    for the grader's reports (never shown to learners): ``prepare`` (parse,
    sanitise, canaries), the run's phases (see
    :attr:`~ai4scale.grading.sandbox.RunResult.timings`: ``queue``,
    ``setup``, ``fork``, ``kernel_start``, ``teardown``...), ``checks``
    (the grader's guard, probe and canary cells), ``cells`` (the learner's
    and the lab's other cells), ``tests`` (the test cells, hidden tests
    included), ``score`` (scoring and the tampering checks) and
    ``record`` (the gradebook write, set by :func:`grade_batch`).
    """

    learner: str
    status: str
    results: list = field(default_factory=list)
    flags: dict = field(default_factory=dict)
    message: str = ""
    submission_id: int | None = None
    seconds: float = 0.0
    executor: str = ""
    timings: dict = field(default_factory=dict)

    @property
    def total(self):
        """Sum of the scored items (None when none is scored)."""
        scored = [r.score for r in self.results if r.score is not None]
        return sum(scored) if scored else None

    def to_dict(self):
        """Plain JSON-serialisable data."""
        data = asdict(self)
        data["total"] = self.total
        return data


def grade_submission(glab, files, *, learner, executor, rng=None, on_run=None):
    """Grade one learner's notebooks.

    Parameters
    ----------
    glab : GradingLab
    files : dict
        Notebook name -> submitted file (notebooks the lab lacks are ignored;
        missing ones score zero).
    learner : str
    executor : LocalExecutor or SandboxExecutor
        Anything with ``run(nb, *, workdir_files) -> RunResult``.
    rng : random.Random, optional
        For the canaries.
    on_run : callable, optional
        Called as ``on_run(name, nb, run, ours)`` after each notebook's run:
        the notebook executed, its RunResult and the indices of the grader's
        own cells (for reports such as :func:`selfcheck`'s).

    Returns
    -------
    GradedSubmission
    """
    started = time.monotonic()
    out = GradedSubmission(learner=learner, status="graded")
    out.executor = getattr(executor, "name", type(executor).__name__)
    try:
        check_name(learner, what="learner name")
        parsed = {}
        for name in files:
            check_name(name, what="notebook name")
            if name in glab.sources:
                parsed[name] = parse_notebook(files[name])
    except SubmissionError as e:
        out.status, out.message = "rejected", str(e)
        out.seconds = time.monotonic() - started
        return out
    tampered = []
    timings = out.timings

    def add(phase, seconds):
        timings[phase] = timings.get(phase, 0.0) + seconds

    for name, source in glab.sources.items():
        step = time.monotonic()
        if name not in parsed:
            out.flags.setdefault("missing_notebooks", []).append(name)
            results = score_run(source, source.__class__(cells=[]), _empty_run(), name=name)
            out.results += [_missing(r) for r in results]
            continue
        nb, edits = sanitise(source, parsed[name], name=name)
        if edits:
            out.flags.setdefault("edits", {})[name] = edits
        nb, canaries = insert_canaries(nb, rng=rng)
        add("prepare", time.monotonic() - step)
        run = executor.run(nb, workdir_files=glab.resources)
        step = time.monotonic()
        _add_run_timings(add, nb, run, {c.index for c in canaries})
        if run.outcome != "completed":
            out.flags.setdefault("run", {})[name] = f"{run.outcome}: {run.reason}"
        results = score_run(source, nb, run, name=name)
        ours = {c.index for c in canaries}
        if on_run is not None:
            on_run(name, nb, run, ours)
        failure = find_setup_failure(nb, run, name=name, ours=ours)
        if failure is not None:
            out.flags.setdefault("setup_failed", {})[name] = failure.to_dict()
            results = mark_setup_failed(results, failure)
        notes = []
        why = check_canaries(run, canaries, notes=notes)
        if notes and not why:
            out.flags.setdefault("review", {})[name] = "; ".join(notes)
        if why:
            tampered.append(f"{name}: {why}")
            if LYING_VALUES in why:
                out.flags["lying_values"] = True
            results = zero_autograded(results, "tampering with failure reporting: " + why)
        out.results += results
        add("score", time.monotonic() - step)
    if tampered:
        out.flags["tampered"] = "; ".join(tampered)
    out.seconds = time.monotonic() - started
    return out


def _add_run_timings(add, nb, run, ours):
    """Add the run's phases, and its cells' seconds by kind, with ``add(phase, seconds)``."""
    for phase, seconds in getattr(run, "timings", {}).items():
        add(phase, seconds)
    kinds = {"checks": 0.0, "cells": 0.0, "tests": 0.0}
    for cell in run.cells:
        if cell.index in ours:
            kinds["checks"] += cell.seconds
        elif cell.index < len(nb.cells) and _is_test(nb.cells[cell.index]):
            kinds["tests"] += cell.seconds
        else:
            kinds["cells"] += cell.seconds
    for kind, seconds in kinds.items():
        add(kind, seconds)


def _is_test(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def _empty_run():
    from ai4scale.grading.sandbox import RunResult

    return RunResult("completed", "")


def _missing(r):
    from ai4scale.grading.labformat import ItemResult

    return ItemResult(r.notebook, r.grade_id, r.kind, 0.0, r.max_score, "missing", "no notebook")


def find_submissions(submissions_dir):
    """Return ``[(learner, {notebook name: path})]`` of ``SUBMISSIONS_DIR/<learner>/*.ipynb``.

    Entries are sorted by learner; names are not checked here (the pipeline
    rejects unsafe ones per submission).
    """
    found = []
    for entry in sorted(Path(submissions_dir).iterdir()):
        if entry.name == ".ipynb_checkpoints":
            continue
        if entry.is_dir() or entry.is_symlink():
            files = {}
            if entry.is_dir() and not entry.is_symlink():
                files = {p.name: p for p in sorted(entry.iterdir()) if p.name.endswith(".ipynb")}
            found.append((entry.name, files))
    return found


def gradebook_items(glab):
    """Return the lab's items as :meth:`Gradebook.upsert_lab` takes them (notebook -> items)."""
    notebooks = {name: [] for name in glab.sources}
    for item in lab_items(glab.sources):
        notebooks[item["notebook"]].append(
            {
                "grade_id": item["grade_id"],
                "points": item["points"],
                "kind": "auto" if item["kind"] == "auto" else "manual",
                "task": item["kind"] == "task",
            }
        )
    return notebooks


def _record(gb, sub_id, graded):
    from ai4scale.grading.gradebook import ItemResult

    # The gradebook keeps which executor graded (the pipeline's flags stay problems only).
    sub_flags = {**graded.flags, "executor": graded.executor} if graded.executor else graded.flags
    if graded.status == "rejected":
        gb.record_results(sub_id, [], flags=sub_flags, status="rejected", message=graded.message)
        return
    rows = []
    for r in graded.results:
        flags = {"status": r.status}
        edits = graded.flags.get("edits", {}).get(r.notebook, {})
        flags.update({k: True for k, ids in edits.items() if r.grade_id in ids})
        rows.append(ItemResult(r.grade_id, r.score, r.notebook, r.max_score, flags, r.message))
    gb.record_results(sub_id, rows, flags=sub_flags, status="graded", message=graded.message)


def grade_batch(
    glab,
    submissions_dir,
    *,
    gradebook=None,
    executor=None,
    workers=None,
    resume=False,
    progress=False,
    rng=None,
    submission_ids=None,
    on_graded=None,
):
    """Grade every submission in ``submissions_dir`` in parallel, recording each as it ends.

    Parameters
    ----------
    glab : GradingLab
        From :func:`open_lab`.
    submissions_dir : str or Path
        ``<learner>/<notebook>.ipynb`` inside.
    gradebook : ai4scale.grading.gradebook.Gradebook, optional
        Where results go (upgraded; the lab is upserted). Each submission is
        recorded in its own transaction as soon as it is graded.
    executor : optional
        Default :func:`default_executor` (the sandbox, or an error saying why it cannot run).
    workers : int, optional
        Submissions graded at once (default: number of cores).
    resume : bool
        Skip submissions the gradebook already holds as graded or rejected
        (same files, same learner: same submission), except those whose
        lab setup failed (graded again).
    progress : bool
        Show a rich progress bar on stderr.
    rng : random.Random, optional
    submission_ids : Mapping[str, int], optional
        Folder name -> id of a submission already in the gradebook (the course
        service stores each submission as it arrives, for learners and teams
        alike): those folders are graded as that submission, none is added.
        Folders not named here are left out.
    on_graded : callable, optional
        Called as ``on_graded(graded, total=n)`` with each
        :class:`GradedSubmission` once it is recorded, and first with
        ``graded=None`` once the ``n`` submissions to grade are known (for
        progress reports).

    Returns
    -------
    list of GradedSubmission
        Those graded in this call (skipped ones are not included), by learner.
    """
    executor = executor or default_executor()
    workers = workers or os.cpu_count() or 1
    todo = []
    done = _done(gradebook, glab.id) if (gradebook and resume) else set()
    if gradebook is not None:
        gradebook.upsert_lab(glab.id, notebooks=gradebook_items(glab), title=glab.lab.title)
    for learner, files in find_submissions(submissions_dir):
        sub_id = None
        if submission_ids is not None:
            if learner not in submission_ids:
                continue
            sub_id = submission_ids[learner]
            if sub_id in done:
                continue
        elif gradebook is not None:
            try:
                check_name(learner, what="learner name")
            except SubmissionError:
                pass  # rejected below; an unsafe name is not stored
            else:
                safe = {n: p for n, p in files.items() if p.is_file() and not p.is_symlink()}
                sub_id = gradebook.add_submission(
                    glab.id, files=safe, learner=learner, dedupe=True
                ).id
                if sub_id in done:
                    continue
        todo.append((learner, files, sub_id))
    finished = []
    if on_graded is not None:
        on_graded(None, total=len(todo))
    # Kernels started ahead with the lab's imports done (each still used once).
    preload = lab_preload(glab.sources) if todo and hasattr(executor, "open_pool") else ""
    if preload:
        executor.open_pool(
            preload=preload,
            size=workers,
            limit=len(todo) * len(glab.sources),
            workdir_files=glab.resources,
        )
    try:
        _run_all(glab, todo, executor, workers, rng, gradebook, finished, progress, on_graded)
    finally:
        if preload:
            executor.close_pool()
    return sorted(finished, key=lambda g: g.learner)


def _done(gradebook, lab):
    """Ids needing no grading: graded or rejected, and the lab's setup did not fail."""
    done = gradebook.graded_submission_ids(lab)
    return {i for i in done if not gradebook.submission_state(i)[1].get("setup_failed")}


def _run_all(glab, todo, executor, workers, rng, gradebook, finished, progress, on_graded):
    from rich.progress import Progress

    with (
        Progress(disable=not progress, transient=False) as bar,
        ThreadPoolExecutor(max_workers=workers) as pool,
    ):
        task = bar.add_task(f"grading {glab.id}", total=len(todo))
        futures = {
            pool.submit(_safe_grade, glab, files, learner, executor, rng): sub_id
            for learner, files, sub_id in todo
        }
        for future in as_completed(futures):
            graded = future.result()
            graded.submission_id = futures[future]
            if gradebook is not None and graded.submission_id is not None:
                if graded.status != "error":
                    step = time.monotonic()
                    _record(gradebook, graded.submission_id, graded)
                    graded.timings["record"] = time.monotonic() - step
            finished.append(graded)
            bar.advance(task)
            if on_graded is not None:
                on_graded(graded, total=len(todo))


def _safe_grade(glab, files, learner, executor, rng):
    try:
        return grade_submission(glab, files, learner=learner, executor=executor, rng=rng)
    except Exception as e:  # a fault of ours must not stop the batch
        name = getattr(executor, "name", "")
        return GradedSubmission(learner, "error", message=f"{type(e).__name__}: {e}", executor=name)
