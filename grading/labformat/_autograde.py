"""Local autograding with nbgrader's scoring rules (used by ``lab validate``).

This is the reference scorer, not the sandboxed grader: notebooks run with
nbclient as the current user. The executor is a parameter so the grading
engine can pass its sandboxed one instead.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ._learner import compute_checksum, learner_version
from ._metadata import is_grade, is_locked, is_solution, is_task

__all__ = [
    "ItemResult",
    "autograde_locally",
    "execute_locally",
    "iter_items",
    "prepare_submission",
    "score_cell",
]


@dataclass(frozen=True)
class ItemResult:
    """The score of one graded item (a grade or task cell) of one notebook.

    ``status`` is one of ``"passed"`` (full points), ``"partial"`` (a numeric
    execute_result), ``"failed"`` (an error or stderr output), ``"unanswered"``
    (a manually graded answer left as the placeholder: 0, as nbgrader gives),
    ``"manual"`` (needs a person; ``score`` is None) or ``"missing"`` (the cell
    was deleted from the submission).
    """

    notebook: str
    grade_id: str
    kind: str  # "auto" | "manual" | "task"
    score: float | None
    max_score: float
    status: str
    message: str = ""


def execute_locally(nb, *, cwd, timeout=60):
    """Run every cell with nbclient in ``cwd`` as the current user; return the notebook.

    Errors do not stop execution (``allow_errors``), as in nbgrader's Execute.
    """
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()
    return nb


def prepare_submission(source_nb, submission_nb):
    """Return the notebook to execute: the submission with source cells restored.

    Grade (test) and locked cells get the source's text back, hidden tests
    included; every nbgrader cell gets the source's metadata with the learner
    version's checksum (as nbgrader's OverwriteCells does from its database);
    outputs are cleared. Cells whose grade_id the source lacks lose their
    nbgrader metadata.
    """
    released = {
        c.metadata.nbgrader["grade_id"]: c
        for c in learner_version(source_nb).cells
        if "nbgrader" in c.metadata and "grade_id" in c.metadata.nbgrader
    }
    originals = {
        c.metadata.nbgrader["grade_id"]: c
        for c in source_nb.cells
        if "nbgrader" in c.metadata and "grade_id" in c.metadata.nbgrader
    }
    nb = copy.deepcopy(submission_nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        meta = cell.get("metadata", {}).get("nbgrader")
        gid = meta.get("grade_id") if isinstance(meta, dict) else None
        if gid not in released:
            cell.metadata.pop("nbgrader", None)
            continue
        original, release = originals[gid], released[gid]
        if cell.cell_type != original.cell_type:
            cell.cell_type = original.cell_type
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
            else:
                cell.pop("outputs", None)
                cell.pop("execution_count", None)
        cell.metadata["nbgrader"] = copy.deepcopy(release.metadata.nbgrader)
        if is_locked(original) or is_task(original):
            cell.source = original.source
    return nb


def _partial(output, max_score):
    text = output.get("data", {}).get("text/plain", "")
    if isinstance(text, list):
        if len(text) > 1:
            return max_score
        text = text[0] if text else ""
    try:
        value = float(text)
    except ValueError:
        return max_score
    if value < 0:
        return max_score
    if value > max_score:
        raise ValueError(f"partial credit {value} exceeds the {max_score} points of the cell")
    return value


def score_cell(cell):
    """Score one executed grade cell by nbgrader's ``determine_grade`` rule.

    Returns
    -------
    tuple
        ``(score or None, max_score, status, message)``.
    """
    max_score = float(cell.metadata.nbgrader["points"])
    if is_solution(cell):
        if cell.metadata.nbgrader.get("checksum") == compute_checksum(cell):
            return 0.0, max_score, "unanswered", "answer left as the placeholder"
        return None, max_score, "manual", ""
    if cell.cell_type != "code":
        return None, max_score, "manual", ""
    for output in cell.outputs:
        if output.output_type == "error":
            return 0.0, max_score, "failed", f"{output.ename}: {output.evalue}"
        if output.output_type == "stream" and output.name == "stderr":
            return 0.0, max_score, "failed", "output on stderr: " + output.text[:200]
        if output.output_type == "execute_result":
            score = _partial(output, max_score)
            return score, max_score, "passed" if score == max_score else "partial", ""
    return max_score, max_score, "passed", ""


def iter_items(source_nb):
    """Yield ``(grade_id, kind, max_score)`` for each item of a source notebook.

    ``kind`` is ``"auto"`` (a code test cell), ``"manual"`` (an answer cell, or
    a graded Markdown cell) or ``"task"``, as nbgrader grades them.

    Parameters
    ----------
    source_nb : nbformat.NotebookNode
        The instructor's source notebook.

    Yields
    ------
    tuple of (str, str, float)
    """
    for cell in source_nb.cells:
        if not (is_grade(cell) or is_task(cell)):
            continue
        kind = "task" if is_task(cell) else "manual" if is_solution(cell) else "auto"
        if cell.cell_type != "code" and kind == "auto":
            kind = "manual"
        yield cell.metadata.nbgrader["grade_id"], kind, float(cell.metadata.nbgrader["points"])


def autograde_locally(
    source_nb, submission_nb, *, name="notebook", resources_dir=None, executor=None, timeout=60
):
    """Grade one submission against its source notebook; return one result per item.

    Parameters
    ----------
    source_nb : nbformat.NotebookNode
        The validated source notebook (solutions and hidden tests).
    submission_nb : nbformat.NotebookNode
        The learner's notebook (or the source itself, or its learner version).
    name : str
        The notebook's name, recorded in the results.
    resources_dir : str or Path, optional
        A folder whose files are copied next to the notebook (the lab folder).
    executor : callable, optional
        ``executor(nb, *, cwd, timeout) -> nb``; default :func:`execute_locally`.
    timeout : int
        Per-cell timeout in seconds.

    Returns
    -------
    list of ItemResult
        In source order: grade cells then task cells as they appear.
    """
    executor = executor or execute_locally
    nb = prepare_submission(source_nb, submission_nb)
    with tempfile.TemporaryDirectory(prefix="ai4scale-grade-") as tmp:
        if resources_dir is not None:
            shutil.copytree(
                resources_dir,
                tmp,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints"),
            )
        nb = executor(nb, cwd=Path(tmp), timeout=timeout)
    graded = {c.metadata.nbgrader["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}
    results = []
    for gid, kind, max_score in iter_items(source_nb):
        if gid not in graded:
            results.append(ItemResult(name, gid, kind, 0.0, max_score, "missing", "cell deleted"))
        elif kind == "task":
            results.append(ItemResult(name, gid, kind, None, max_score, "manual"))
        else:
            score, max_score, status, message = score_cell(graded[gid])
            results.append(ItemResult(name, gid, kind, score, max_score, status, message))
    return results
