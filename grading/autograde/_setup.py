"""The lab's setup cells: when they fail, the lab's environment failed, not the learner.

A *setup cell* is a locked code cell of the release (the instructor's, not
an answer and not a test: ``import pandas``, ``from ai4scale import
datasets``, loading the data) that runs before any learner code. The rule,
on the notebook as executed (sanitised, canaries inserted):

- walk the code cells in order, skipping the grader's own cells (guard,
  canaries, probes) and blank cells;
- every locked, non-grade, non-solution cell met before the first other
  code cell is a setup cell;
- the first other code cell (an answer, a learner's own cell, a test) ends
  the setup: a locked cell after it may fail because of the learner's code
  (a variable the learner overwrote), so its failure stays the learner's.

A learner who adds a cell above the setup cells therefore makes them
ordinary locked cells: what runs after learner code is the learner's run.

When a setup cell did not end ``ok`` (an error, a timeout, a dead kernel),
every autograded item of that notebook that did not pass gets the status
``setup-failed`` and no score (None, not a silent zero): the learner's
answers were never checked, and re-grading after the environment is fixed
grades them.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from ai4scale.grading.labformat import ItemResult, is_grade, is_locked, is_solution

__all__ = [
    "SETUP_FAILED",
    "SETUP_FAILED_MESSAGE",
    "SetupFailure",
    "cell_report",
    "find_setup_failure",
    "mark_setup_failed",
    "setup_cells",
]

#: Item status of an autograded item a failing setup cell made fail.
SETUP_FAILED = "setup-failed"

#: What learners read about such items (feedback, "check my work").
SETUP_FAILED_MESSAGE = (
    "The lab's preparation step failed, so your answers could not be checked. "
    "This is not your mistake; your trainer has been told."
)

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: Most characters of a failing cell's output kept in a report.
MAX_REPORT_CHARS = 8000


@dataclass
class SetupFailure:
    """A cell that failed, as instructors read it.

    ``cell`` is its index in the notebook as the learner sees it (the grader's
    own cells not counted), ``grade_id`` its nbgrader id (``""`` for none),
    ``error`` the exception (``"ImportError: ..."``) or how the run ended,
    ``output`` what the cell printed with the traceback, ANSI colours removed.
    """

    notebook: str
    cell: int
    grade_id: str
    source: str
    status: str
    error: str
    output: str

    def to_dict(self):
        """Plain JSON-serialisable data."""
        return asdict(self)

    def describe(self):
        """Return the failure in a few lines: where, what, and the cell's output."""
        gid = f" ({self.grade_id})" if self.grade_id else ""
        head = f"{self.notebook}, cell {self.cell}{gid}: {self.error}"
        return f"{head}\n{self.output.rstrip()}" if self.output.strip() else head


def _is_setup(cell):
    return is_locked(cell) and not is_grade(cell) and not is_solution(cell)


def setup_cells(nb, ours=()):
    """Return the indices of ``nb``'s setup cells (see the module's rule).

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The notebook as executed.
    ours : Iterable[int]
        Indices of the grader's own cells (guard, canaries, probes).
    """
    ours = set(ours)
    found = []
    for i, cell in enumerate(nb.cells):
        if i in ours or cell.cell_type != "code" or not cell.source.strip():
            continue
        if not _is_setup(cell):
            break
        found.append(i)
    return found


def cell_report(nb, run, index, *, name, ours=()):
    """Return the :class:`SetupFailure` report of executed cell ``index``."""
    ours = set(ours)
    cell = nb.cells[index]
    evidence = next((c for c in run.cells if c.index == index), None)
    status = evidence.status if evidence is not None else "not_run"
    if evidence is not None and status == "error":
        error = f"{evidence.ename}: {evidence.evalue}"
    elif status == "ok":
        error = "wrote to stderr"
    else:
        error = f"{status}: {run.reason}"
    parts = []
    for out in evidence.outputs if evidence is not None else []:
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif out.get("output_type") == "error":
            # nbclient keeps the traceback in the output; the sandbox in the evidence.
            tb = out.get("traceback") or (evidence.traceback if evidence else None)
            parts.append("\n".join(tb or [f"{out.get('ename')}: {out.get('evalue')}"]))
    if evidence is not None and status == "error":
        if not any(o.get("output_type") == "error" for o in evidence.outputs):
            parts.append("\n".join(evidence.traceback or [error]))
    output = _ANSI.sub("", "\n".join(p.rstrip("\n") for p in parts if p))
    if len(output) > MAX_REPORT_CHARS:
        output = "[...]\n" + output[-MAX_REPORT_CHARS:]
    meta = cell.get("metadata", {}).get("nbgrader")
    gid = meta.get("grade_id", "") if isinstance(meta, dict) else ""
    shown = sum(1 for j in range(index) if j not in ours)
    return SetupFailure(name, shown, gid, cell.source, status, error, output)


def find_setup_failure(nb, run, *, name, ours=()):
    """Return the :class:`SetupFailure` of the first setup cell that did not end ``ok``.

    Returns None when every setup cell ran cleanly, or when the run ended
    before reaching them (``not_run``: the run's own outcome says why).
    """
    statuses = {c.index: c.status for c in run.cells}
    for i in setup_cells(nb, ours):
        if statuses.get(i, "not_run") not in ("ok", "not_run"):
            return cell_report(nb, run, i, name=name, ours=ours)
    return None


def mark_setup_failed(results, failure):
    """Return ``results`` with the failed autograded items of ``failure.notebook`` not scored.

    Passed items keep their points; the others get :data:`SETUP_FAILED`,
    score None and a message naming the setup cell.
    """
    out = []
    why = f"not checked: the lab's setup cell {failure.cell} failed ({failure.error:.200})"
    for r in results:
        if r.kind == "auto" and r.notebook == failure.notebook and r.status != "passed":
            r = ItemResult(r.notebook, r.grade_id, r.kind, None, r.max_score, SETUP_FAILED, why)
        out.append(r)
    return out
