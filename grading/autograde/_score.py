"""Step 4: decide each item from the kernel's evidence, never from printed text."""

from __future__ import annotations

import copy

import nbformat
from ai4scale.grading.labformat import ItemResult, iter_items, score_cell

__all__ = ["score_run", "zero_autograded"]

_OK = "ok"


def _decide(cell, evidence, run):
    """Score one test cell from its execute_reply status, then nbgrader's output rule."""
    max_score = float(cell.metadata.nbgrader["points"])
    if evidence is None or evidence.status == "not_run":
        return 0.0, max_score, "failed", f"not run: {run.reason}"
    if evidence.status != _OK:
        if evidence.status == "error":
            return 0.0, max_score, "failed", f"{evidence.ename}: {evidence.evalue}"
        return 0.0, max_score, "failed", f"{evidence.status}: {run.reason}"
    executed = copy.deepcopy(cell)
    executed.outputs = [nbformat.from_dict(copy.deepcopy(o)) for o in evidence.outputs]
    try:
        return score_cell(executed)
    except ValueError as e:  # partial credit above the points
        return 0.0, max_score, "failed", str(e)


def score_run(source_nb, nb, run, *, name="notebook"):
    """Return one :class:`labformat.ItemResult` per item of the source notebook.

    A test cell passes only if the kernel's execute_reply said ``ok`` and its
    outputs hold no error and nothing on stderr (nbgrader's rule); its score
    is then the points or, for a numeric result, nbgrader's partial credit.

    Parameters
    ----------
    source_nb : nbformat.NotebookNode
        The source notebook (items, points).
    nb : nbformat.NotebookNode
        The notebook that was executed (sanitised, with canaries).
    run : RunResult
        The evidence.
    name : str
        The notebook's name.

    Returns
    -------
    list of ItemResult
    """
    evidence = {c.index: c for c in run.cells}
    graded = {}
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader")
        if isinstance(meta, dict) and "grade_id" in meta:
            graded.setdefault(meta["grade_id"], (i, cell))
    results = []
    for gid, kind, max_score in iter_items(source_nb):
        if gid not in graded:
            results.append(ItemResult(name, gid, kind, 0.0, max_score, "missing", "cell deleted"))
            continue
        index, executed = graded[gid]
        if kind == "task":
            results.append(ItemResult(name, gid, kind, None, max_score, "manual"))
        elif kind == "manual":
            score, max_score, status, message = score_cell(executed)
            results.append(ItemResult(name, gid, kind, score, max_score, status, message))
        else:
            score, max_score, status, message = _decide(executed, evidence.get(index), run)
            results.append(ItemResult(name, gid, kind, score, max_score, status, message))
    return results


def zero_autograded(results, reason):
    """Return ``results`` with every autograded item at zero (a tampered run)."""
    out = []
    for r in results:
        if r.kind == "auto":
            r = ItemResult(r.notebook, r.grade_id, r.kind, 0.0, r.max_score, "tampered", reason)
        out.append(r)
    return out
