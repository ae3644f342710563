"""Cell builders for writing nbgrader source notebooks with exact metadata (authoring only).

Used by the lab authoring scripts in this folder; learners never see this folder
(it has no lab.toml, so ``ai4scale lab build`` ignores it).
"""

from __future__ import annotations

import textwrap

import nbformat


def _meta(grade_id, *, grade=False, solution=False, locked=False, points=None, task=False):
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
    }
    if task:
        meta["task"] = True
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def _src(text):
    return textwrap.dedent(text).strip("\n")


def md(text, grade_id=None):
    """A Markdown cell; locked (read-only) when it has a grade_id."""
    cell = nbformat.v4.new_markdown_cell(_src(text))
    if grade_id:
        cell.metadata = _meta(grade_id, locked=True)
    return cell


def code(text, grade_id=None):
    """A code cell; locked when it has a grade_id, free (learner may edit) otherwise."""
    cell = nbformat.v4.new_code_cell(_src(text))
    if grade_id:
        cell.metadata = _meta(grade_id, locked=True)
    return cell


def solution(text, grade_id, *, guided=None, title=None):
    """A code cell the learner writes (solution region replaced by the placeholder).

    ``guided``: the guided track's version of the cell: the reference code with at
    most three lines left as blanks (``...``) for the learner to complete.
    ``title``: the exercise's name when the heading before it does not say it.
    """
    cell = nbformat.v4.new_code_cell(_src(text), metadata=_meta(grade_id, solution=True))
    extra = {}
    if guided is not None:
        extra["guided"] = _src(guided)
    if title:
        extra["title"] = title
    if extra:
        cell.metadata["ai4scale"] = extra
    return cell


def example(text, *, markdown=False, track="guided"):
    """A cell shown in one track only (a worked example before an exercise); never graded."""
    make = nbformat.v4.new_markdown_cell if markdown else nbformat.v4.new_code_cell
    return make(_src(text), metadata={"ai4scale": {"track": track}})


def test(text, grade_id, points):
    """An autograded test cell (visible tests, hidden tests between the markers)."""
    cell = nbformat.v4.new_code_cell(_src(text))
    cell.metadata = _meta(grade_id, grade=True, points=points)
    return cell


def answer(text, grade_id, points):
    """A Markdown answer graded by a person (the model answer between solution markers)."""
    body = "### BEGIN SOLUTION\n" + _src(text) + "\n### END SOLUTION"
    cell = nbformat.v4.new_markdown_cell(body)
    cell.metadata = _meta(grade_id, grade=True, solution=True, points=points)
    return cell


def task(text, grade_id, points):
    """A task cell graded by a person (mark scheme between its markers)."""
    cell = nbformat.v4.new_markdown_cell(_src(text))
    cell.metadata = _meta(grade_id, locked=True, points=points, task=True)
    return cell


def notebook(cells, path):
    """Write the source notebook with deterministic cell ids and a python3 kernelspec."""
    for i, cell in enumerate(cells):
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        cell.id = gid or f"cell-{i:02d}"
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    nbformat.validate(nb)
    with open(path, "w", encoding="utf-8") as f:
        nbformat.write(nb, f)
