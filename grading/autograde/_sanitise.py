"""Step 2: restore every non-solution cell from the source; record learner edits as flags.

The learner's notebook is aligned with the released one: cells with a
``grade_id`` by that id, other cells by unchanged text. Protected cells
(locked, tests with their hidden part, tasks) must be graded as the
instructor wrote them, where the instructor put them:

- edited ones get the source's text and metadata back;
- deleted ones are put back, just before the next cell of the release that
  the learner kept in order (or at the end);
- moved ones go back to that place too: the cells that stay are the longest
  run the learner kept in the release's order, so a moved cell is put back
  and a learner who moved nothing has nothing moved;
- of several cells with one ``grade_id`` the first keeps it; the copies lose
  their grading metadata and run as the learner's own cells.

The learner's own cells (answers and new cells) stay where the learner put
them; a deleted answer cell is not put back (the learner may have moved its
code elsewhere), its item scores as missing.
"""

from __future__ import annotations

import bisect
import copy

from ai4scale.grading.labformat import (
    MetadataError,
    is_locked,
    is_task,
    learner_version,
    prepare_submission,
    upgrade_cell_metadata,
)

__all__ = ["sanitise"]

_KEYS = ("solution", "grade", "locked", "task")


def _grade_id(cell):
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta.get("grade_id") if isinstance(meta, dict) else None


def _protected(cell):
    return is_locked(cell) or is_task(cell)


def sanitise(source_nb, submission_nb, *, name="notebook"):
    """Return the notebook to execute and the learner's edits to protected cells.

    Parameters
    ----------
    source_nb : nbformat.NotebookNode
        The validated source notebook.
    submission_nb : nbformat.NotebookNode
        The parsed submission (not modified).
    name : str
        The notebook's name, for the flags.

    Returns
    -------
    tuple
        ``(notebook, flags)``; ``flags`` maps a kind of edit to the sorted
        ``grade_id`` s concerned; kinds without edits are left out:
        ``edited_cells``, ``changed_points``, ``changed_metadata``,
        ``changed_cell_type``, ``unknown_grade_ids``, ``duplicated_ids``,
        ``missing_cells`` (protected cells deleted, put back),
        ``reordered_cells`` (protected cells moved, put back),
        ``deleted_answers`` (answer cells deleted, not put back).
    """
    release = learner_version(source_nb, name=name)
    released = {_grade_id(c): c for c in release.cells}
    released.pop(None, None)
    originals = {_grade_id(c): c for c in source_nb.cells}
    sub = copy.deepcopy(submission_nb)
    flags = {}

    def flag(kind, gid):
        flags.setdefault(kind, set()).add(str(gid))

    seen = set()
    for i, cell in enumerate(sub.cells):
        try:  # metadata of an older nbgrader schema reads as the release's
            upgrade_cell_metadata(cell, where=f"cell {i}")
        except MetadataError:
            pass  # compared as it is: flagged below if it differs
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
        want_cell = released.get(gid)
        if want_cell is None:
            flag("unknown_grade_ids", gid)
            continue
        meta, want = cell.metadata.nbgrader, want_cell.metadata.nbgrader
        if meta.get("points", 0) != want.get("points", 0) and (
            want.get("grade") or want.get("task")
        ):
            flag("changed_points", gid)
        if any(bool(meta.get(k, False)) != bool(want.get(k, False)) for k in _KEYS):
            flag("changed_metadata", gid)
        if cell.cell_type != want_cell.cell_type:
            flag("changed_cell_type", gid)
        if _protected(originals[gid]) and cell.source != want_cell.source:
            flag("edited_cells", gid)
    for gid in released.keys() - seen:
        flag("missing_cells" if _protected(originals[gid]) else "deleted_answers", gid)
    sub.cells = _realign(release.cells, sub.cells, originals, flag)
    nb = prepare_submission(source_nb, sub)
    return nb, {k: sorted(v) for k, v in sorted(flags.items())}


def _match(release_cells, cells):
    """Map each learner cell (by position) to the index of its released cell, or None.

    Cells with a known ``grade_id`` match by id (duplicates were stripped
    before); other cells match an unused released cell without ``grade_id``
    of the same type and text, first come first served.
    """
    by_gid = {}
    plain = {}
    for i, cell in enumerate(release_cells):
        gid = _grade_id(cell)
        if gid is not None:
            by_gid[gid] = i
        else:
            plain.setdefault((cell.cell_type, cell.source), []).append(i)
    used = set()
    out = []
    for cell in cells:
        gid = _grade_id(cell)
        if gid is not None:
            out.append(by_gid.get(gid))
            continue
        spots = [i for i in plain.get((cell.cell_type, cell.source), ()) if i not in used]
        out.append(spots[0] if spots else None)
        if spots:
            used.add(spots[0])
    return out


def _longest_increasing(positions):
    """Return the indices of one longest strictly increasing run of ``positions``."""
    tails, tail_at, parent = [], [], [None] * len(positions)
    for k, value in enumerate(positions):
        j = bisect.bisect_left(tails, value)
        if j == len(tails):
            tails.append(value)
            tail_at.append(k)
        else:
            tails[j], tail_at[j] = value, k
        parent[k] = tail_at[j - 1] if j else None
    out, k = [], tail_at[-1] if tail_at else None
    while k is not None:
        out.append(k)
        k = parent[k]
    return out[::-1]


def _realign(release_cells, cells, originals, flag):
    """Put protected cells back where the release has them; return the new cell list."""
    matched = _match(release_cells, cells)
    anchors = [k for k, r in enumerate(matched) if r is not None]
    kept = {anchors[k] for k in _longest_increasing([matched[a] for a in anchors])}
    out, moved = [], []  # moved: (release index, cell) of protected cells to put back
    for k, cell in enumerate(cells):
        r = matched[k]
        gid = _grade_id(cell)
        if r is not None and k not in kept and gid is not None and _protected(originals[gid]):
            flag("reordered_cells", gid)
            moved.append((r, cell))
        else:
            out.append((r if k in kept else None, cell))
    present = {_grade_id(c) for c in cells}
    for r, cell in enumerate(release_cells):
        gid = _grade_id(cell)
        if gid is not None and gid not in present and _protected(originals[gid]):
            moved.append((r, copy.deepcopy(cell)))
    for r, cell in sorted(moved, key=lambda m: m[0]):
        # Just before the first cell kept in order that comes later in the release.
        at = next((i for i, (q, _) in enumerate(out) if q is not None and q > r), len(out))
        out.insert(at, (r, cell))
    return [cell for _, cell in out]
