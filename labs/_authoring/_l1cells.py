"""Cell builders for the nbgrader source notebooks of labs 01-03 (exact metadata, v3).

Used by ``01-know-your-data.py``, ``02-disaggregated-audit.py`` and
``03-conditional-disparity.py`` in this folder.
"""

import itertools

import nbformat

_ids = itertools.count(1)


def _meta(grade_id, *, grade=False, solution=False, locked=False, points=None, task=False):
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
    }
    if points is not None:
        meta["points"] = points
    if task:
        meta["task"] = True
    return {"nbgrader": meta}


def md(text, grade_id=None):
    """Return a locked instruction cell."""
    gid = grade_id or f"text_{next(_ids):02d}"
    return nbformat.v4.new_markdown_cell(text.strip(), metadata=_meta(gid, locked=True))


def code(text, grade_id=None, locked=True):
    """Return a read-only code cell, or a free one with ``locked=False``."""
    if not locked:
        return nbformat.v4.new_code_cell(text.strip())
    gid = grade_id or f"code_{next(_ids):02d}"
    return nbformat.v4.new_code_cell(text.strip(), metadata=_meta(gid, locked=True))


def solution(text, grade_id, *, guided=None, title=None):
    """A code cell the learner writes (solution region replaced by the placeholder).

    ``guided``: the guided track's version of the cell: the reference code with at
    most three lines left as blanks (``...``) for the learner to complete.
    ``title``: the exercise's name when the heading before it does not say it.
    """
    cell = nbformat.v4.new_code_cell(text.strip(), metadata=_meta(grade_id, solution=True))
    extra = {}
    if guided is not None:
        extra["guided"] = guided.strip()
    if title:
        extra["title"] = title
    if extra:
        cell.metadata["ai4scale"] = extra
    return cell


def example(text, *, markdown=False, track="guided"):
    """A cell shown in one track only (a worked example before an exercise); never graded."""
    make = nbformat.v4.new_markdown_cell if markdown else nbformat.v4.new_code_cell
    return make(text.strip(), metadata={"ai4scale": {"track": track}})


def test(text, grade_id, points):
    """Return an autograded test cell."""
    meta = _meta(grade_id, grade=True, points=points)
    return nbformat.v4.new_code_cell(text.strip(), metadata=meta)


def answer(text, grade_id, points):
    """Return a Markdown answer cell graded by a person."""
    meta = _meta(grade_id, grade=True, solution=True, points=points)
    return nbformat.v4.new_markdown_cell(text.strip(), metadata=meta)


def write(cells, path):
    """Write the source notebook with deterministic cell ids; validate it first."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    nb.cells = cells
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"  # a rebuild changes no byte
    nbformat.validate(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    print("wrote", path)
