"""Step 2: restore every non-solution cell from the source; record learner edits as flags."""

from __future__ import annotations

import copy

from ai4scale.grading.labformat import learner_version, prepare_submission

__all__ = ["sanitise"]

_KEYS = ("solution", "grade", "locked", "task")


def _grade_id(cell):
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta.get("grade_id") if isinstance(meta, dict) else None


def sanitise(source_nb, submission_nb, *, name="notebook"):
    """Return the notebook to execute and the learner's edits to protected cells.

    Locked, grade (test, hidden tests included) and task cells get the
    source's text and metadata back (:func:`labformat.prepare_submission`);
    later copies of a duplicated ``grade_id`` lose their nbgrader metadata
    and run as ordinary learner cells.

    Parameters
    ----------
    source_nb : nbformat.NotebookNode
        The validated source notebook.
    submission_nb : nbformat.NotebookNode
        The parsed submission.
    name : str
        The notebook's name, for the flags.

    Returns
    -------
    tuple
        ``(notebook, flags)``; ``flags`` maps a kind of edit (``edited_cells``,
        ``changed_points``, ``changed_metadata``, ``changed_cell_type``,
        ``unknown_grade_ids``, ``duplicated_ids``, ``missing_cells``) to the
        sorted ``grade_id`` s concerned; kinds without edits are left out.
    """
    released = {_grade_id(c): c for c in learner_version(source_nb, name=name).cells}
    released.pop(None, None)
    sub = copy.deepcopy(submission_nb)
    flags = {}

    def flag(kind, gid):
        flags.setdefault(kind, set()).add(str(gid))

    seen = set()
    for cell in sub.cells:
        gid = _grade_id(cell)
        if gid is None:
            if "nbgrader" in cell.get("metadata", {}):
                flag("changed_metadata", "<no grade_id>")
            continue
        if gid in seen:
            flag("duplicated_ids", gid)
            cell.metadata.pop("nbgrader")
            continue
        seen.add(gid)
        release = released.get(gid)
        if release is None:
            flag("unknown_grade_ids", gid)
            continue
        meta, want = cell.metadata.nbgrader, release.metadata.nbgrader
        if meta.get("points", 0) != want.get("points", 0) and (
            want.get("grade") or want.get("task")
        ):
            flag("changed_points", gid)
        if any(bool(meta.get(k, False)) != bool(want.get(k, False)) for k in _KEYS):
            flag("changed_metadata", gid)
        if cell.cell_type != release.cell_type:
            flag("changed_cell_type", gid)
        protected = (
            want.get("locked")
            or want.get("task")
            or (want.get("grade") and not want.get("solution"))
        )
        if protected and cell.source != release.source:
            flag("edited_cells", gid)
    for gid in released.keys() - seen:
        flag("missing_cells", gid)
    nb = prepare_submission(source_nb, sub)
    return nb, {k: sorted(v) for k, v in sorted(flags.items())}
