"""Self-check: grade the lab's reference solution before grading learners.

The lab's source notebooks (solutions and hidden tests) are graded as one
more submission, with the executor and settings the learners' submissions
get. Anything short of full autograded marks with no flags means the
environment cannot grade this lab (a setup cell that cannot import a
module in the sandbox, a data file that is not there, a timeout too
short): grading then refuses, and the report names the first failing cell
with its output and traceback -- not the test items' ``NameError`` s that
follow from it.

A passing check is remembered in ``cache_dir`` under a key made of the
lab's files, the executor's kind and settings, and the installed
``ai4scale`` (where and which version), so repeated batches do not pay for
it again; anything that changes one of those checks again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ._pipeline import grade_submission
from ._preload import lab_preload
from ._setup import SetupFailure, cell_report

__all__ = ["SelfCheck", "SelfCheckFailed", "reference_notebook", "selfcheck", "selfcheck_key"]

log = logging.getLogger("ai4scale.grading.selfcheck")

#: The learner name the reference solution is graded under.
REFERENCE = "reference-solution"


@dataclass
class SelfCheck:
    """What grading the lab's reference solution gave.

    ``passed``: full autograded marks and no flags. ``cached``: a passing
    result remembered from an earlier check with the same key (``seconds``
    is then that check's). ``problems`` says in words what fell short;
    ``failure`` is the first failing cell (None when none failed, e.g. a
    test that wrote to stderr is named in ``problems``).
    """

    lab: str
    executor: str
    passed: bool
    seconds: float
    score: float = 0.0
    max_score: float = 0.0
    cached: bool = False
    problems: list = field(default_factory=list)
    failure: SetupFailure | None = None
    key: str = ""

    def to_dict(self):
        """Plain JSON-serialisable data."""
        data = asdict(self)
        data["failure"] = self.failure.to_dict() if self.failure else None
        return data

    def message(self):
        """Return the check's outcome for instructors: one line, or the refusal and traceback."""
        if self.passed:
            how = "remembered from an earlier check" if self.cached else "checked"
            return (
                f"lab {self.lab}: the reference solution gets full marks with the "
                f"{self.executor} executor ({how}, {self.seconds:.1f} s)"
            )
        lines = [
            f"lab {self.lab}: grading refused, nothing recorded. The lab's reference solution "
            f"scored {self.score:g} of {self.max_score:g} autograded points with the "
            f"{self.executor} executor, so learners' answers cannot be graded fairly here.",
        ]
        if self.failure is not None:
            lines.append("First failing cell: " + self.failure.describe())
        lines += [f"- {p}" for p in self.problems[:10]]
        return "\n".join(lines)


class SelfCheckFailed(Exception):
    """Grading refused: the reference solution did not get full marks.

    ``check`` is the :class:`SelfCheck`; the message is its :meth:`~SelfCheck.message`.
    """

    def __init__(self, check):
        super().__init__(check.message())
        self.check = check


def _lab_files(glab):
    root = Path(glab.lab.path)
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(p.startswith(".") or p == "__pycache__" for p in rel.parts):
            continue
        if path.is_file():
            yield str(rel), path


def _installed():
    import ai4scale

    try:
        from importlib.metadata import version

        ver = version("ai4scale")
    except Exception:  # noqa: BLE001 - not installed as a distribution: the path says enough
        ver = ""
    return {"python": sys.executable, "ai4scale": str(Path(ai4scale.__file__).parent), "v": ver}


def selfcheck_key(glab, executor):
    """Return the cache key: sha256 of the lab's files, the executor's kind and settings."""
    h = hashlib.sha256()
    for rel, path in _lab_files(glab):
        h.update(rel.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    settings = executor.settings() if hasattr(executor, "settings") else {}
    about = {"executor": getattr(executor, "name", ""), "settings": settings, **_installed()}
    h.update(json.dumps(about, sort_keys=True, default=str).encode())
    return h.hexdigest()


def _cached(cache_dir, key):
    if cache_dir is None:
        return None
    try:
        data = json.loads((Path(cache_dir) / f"{key}.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("passed") is True else None


def _remember(cache_dir, key, check):
    folder = Path(cache_dir)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = {
        "passed": True,
        "lab": check.lab,
        "executor": check.executor,
        "seconds": check.seconds,
        "score": check.score,
        "checked_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".selfcheck-")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.replace(tmp, folder / f"{key}.json")


def selfcheck(glab, *, executor, cache_dir=None, rng=None):
    """Grade the lab's reference solution with ``executor``; return a :class:`SelfCheck`.

    Parameters
    ----------
    glab : GradingLab
        The lab, from :func:`open_lab` (its source notebooks are the reference).
    executor : SandboxExecutor or LocalExecutor
        The executor the learners' submissions get, with the same settings.
        With a pool open (:func:`start_early`) the check uses it; otherwise a
        pool like :func:`grade_batch`'s is opened for the check and closed.
    cache_dir : str or Path, optional
        Where passing checks are remembered (by :func:`selfcheck_key`); None:
        always check.
    rng : random.Random, optional
        For the canaries.

    Returns
    -------
    SelfCheck
        Callers refuse to grade when ``passed`` is False (raise
        :class:`SelfCheckFailed`).

    Examples
    --------
    >>> check = selfcheck(open_lab("labs/example-intro"), executor=ex)  # doctest: +SKIP
    >>> check.passed, check.seconds  # doctest: +SKIP
    (True, 4.2)
    """
    name = getattr(executor, "name", type(executor).__name__)
    key = selfcheck_key(glab, executor)
    hit = _cached(cache_dir, key)
    if hit is not None:
        check = SelfCheck(glab.id, name, True, float(hit.get("seconds", 0.0)), cached=True, key=key)
        check.score = check.max_score = float(hit.get("score", 0.0))
        log.info("%s", check.message())
        return check
    started = time.monotonic()
    runs = {}
    folder = tempfile.TemporaryDirectory(prefix="ai4scale-selfcheck-")
    files = _reference_files(glab, Path(folder.name))
    opened = _open_pool(glab, executor)
    try:
        graded = grade_submission(
            glab,
            files,
            learner=REFERENCE,
            executor=executor,
            rng=rng,
            on_run=lambda nb_name, nb, run, ours: runs.__setitem__(nb_name, (nb, run, ours)),
        )
    finally:
        folder.cleanup()
        if opened:
            executor.close_pool()
    check = _judge(glab, name, graded, runs)
    check.seconds, check.key = time.monotonic() - started, key
    if check.passed:
        if cache_dir is not None:
            try:
                _remember(cache_dir, key, check)
            except OSError as e:  # not remembered: checked again next time
                log.warning("self-check result not remembered in %s: %s", cache_dir, e)
        log.info("%s", check.message())
    else:
        log.error("%s", check.message())
    return check


def reference_notebook(source_nb, *, name="notebook"):
    """Return the learner version of ``source_nb`` with the reference answers typed in.

    What a learner with perfect answers hands in: the sanitiser sees no edit
    (the source notebook itself differs from the release by its hidden tests).
    """
    import copy

    from ai4scale.grading.labformat import is_solution, learner_version

    answers = {c.metadata.nbgrader["grade_id"]: c.source for c in source_nb.cells if is_solution(c)}
    nb = learner_version(copy.deepcopy(source_nb), name=name)
    for cell in nb.cells:
        if is_solution(cell) and cell.metadata.nbgrader.get("grade_id") in answers:
            cell.source = answers[cell.metadata.nbgrader["grade_id"]]
    return nb


def _reference_files(glab, folder):
    import nbformat

    files = {}
    for name, source in glab.sources.items():
        files[name] = folder / name
        nbformat.write(reference_notebook(source, name=name), files[name])
    return files


def _open_pool(glab, executor):
    """Open a pool as :func:`grade_batch` would, unless one is open; return whether opened."""
    if not hasattr(executor, "open_pool") or getattr(executor, "pool", None) is not None:
        return False
    preload = lab_preload(glab.sources)
    if not preload:
        return False
    n = len(glab.sources)
    executor.open_pool(preload=preload, size=1, limit=n, workdir_files=glab.resources)
    return True


def _judge(glab, name, graded, runs):
    auto = [r for r in graded.results if r.kind == "auto"]
    check = SelfCheck(glab.id, name, False, 0.0)
    check.max_score = float(sum(r.max_score for r in auto))
    check.score = float(sum(r.score or 0.0 for r in auto))
    problems = []
    if graded.status != "graded":
        problems.append(f"the reference was not graded ({graded.status}): {graded.message}")
    short = [r for r in auto if r.score is None or r.score < r.max_score]
    for r in short:
        problems.append(f"{r.notebook} {r.grade_id}: {r.status}, {r.message:.300}")
    for kind, value in sorted(graded.flags.items()):
        if kind != "setup_failed":
            problems.append(f"flagged {kind}: {str(value):.300}")
    setup = graded.flags.get("setup_failed") or {}
    if setup:
        first = next(iter(setup.values()))
        check.failure = SetupFailure(**first)
    elif short or graded.flags:
        nb_name = short[0].notebook if short else next(iter(runs), None)
        check.failure = _first_failing(runs, nb_name, short[0].grade_id if short else None)
    check.problems = problems
    check.passed = not problems and graded.status == "graded"
    return check


def _first_failing(runs, nb_name, grade_id):
    """Return the first cell of ``nb_name``'s run (not the grader's) that did not end ``ok``.

    Else the failed item's own cell (a test that passed its reply but wrote
    to stderr), else None.
    """
    if nb_name not in runs:
        return None
    nb, run, ours = runs[nb_name]
    for c in sorted(run.cells, key=lambda c: c.index):
        if c.index not in ours and c.status not in ("ok", "not_run"):
            return cell_report(nb, run, c.index, name=nb_name, ours=ours)
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader")
        if isinstance(meta, dict) and grade_id and meta.get("grade_id") == grade_id:
            return cell_report(nb, run, i, name=nb_name, ours=ours)
    return None
