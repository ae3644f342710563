"""The sanitiser: protected cells restored, put back when deleted or moved, copies demoted."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import nbformat
import pytest
from ai4scale.grading.autograde import LocalExecutor, grade_batch, open_lab, sanitise
from ai4scale.grading.labformat import prepare_submission, read_source_notebook

sys.path.insert(0, str(Path(__file__).parent / "adversarial"))
import corpus  # noqa: E402

SOURCE = read_source_notebook(corpus.LAB / corpus.NOTEBOOK)
#: The sanitised honest notebook, cell by cell: (type, grade_id or None).
LAYOUT = [
    ("markdown", "intro"),
    ("code", "data"),
    ("markdown", None),
    ("code", "approval_rates"),
    ("code", None),
    ("code", "test_approval_rates"),
    ("markdown", None),
    ("code", "disparity_ratio"),
    ("code", "test_disparity_ratio"),
    ("markdown", None),
    ("markdown", "gap_meaning"),
    ("markdown", "discuss_groups"),
]


def _gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _cell(nb, gid):
    return next(c for c in nb.cells if _gid(c) == gid)


def _layout(nb):
    return [(c.cell_type, _gid(c)) for c in nb.cells]


def _source_of(gid):
    return _cell(SOURCE, gid).source


def test_honest_notebook_is_left_as_it_is():
    sub = corpus.answered(corpus.RIGHT)
    nb, flags = sanitise(SOURCE, sub)
    assert flags == {}
    assert _layout(nb) == LAYOUT
    assert nb == prepare_submission(SOURCE, sub)
    assert _cell(nb, "test_approval_rates").source == _source_of("test_approval_rates")


def test_deleted_protected_cells_are_put_back_where_they_were():
    sub = corpus.answered(corpus.RIGHT)
    for gid in ("data", "test_approval_rates", "discuss_groups"):
        sub.cells.remove(_cell(sub, gid))
    nb, flags = sanitise(SOURCE, sub)
    assert flags == {"missing_cells": ["data", "discuss_groups", "test_approval_rates"]}
    assert _layout(nb) == LAYOUT
    for gid in ("data", "test_approval_rates"):  # hidden tests included
        assert _cell(nb, gid).source == _source_of(gid)
    assert "### BEGIN HIDDEN TESTS" in _cell(nb, "test_approval_rates").source


def test_moved_protected_cells_go_back_and_the_learners_cells_stay():
    sub = corpus.answered(corpus.RIGHT)
    test = _cell(sub, "test_approval_rates")
    sub.cells.remove(test)
    sub.cells.insert(0, test)  # before everything: it could only fail there
    data = _cell(sub, "data")
    sub.cells.remove(data)
    sub.cells.append(data)
    extra = nbformat.v4.new_code_cell("x = 1")
    sub.cells.insert(5, extra)
    nb, flags = sanitise(SOURCE, sub)
    assert flags == {"reordered_cells": ["data", "test_approval_rates"]}
    assert _layout(nb) == [*LAYOUT[:5], ("code", None), *LAYOUT[5:]]
    assert nb.cells[5].source == "x = 1"


def test_deleted_answer_cell_is_not_put_back():
    sub = corpus.answered(corpus.RIGHT)
    sub.cells.remove(_cell(sub, "approval_rates"))
    # the learner's code now lives in a new cell of their own, further down
    sub.cells.insert(4, nbformat.v4.new_code_cell(corpus.RIGHT["approval_rates"]))
    nb, flags = sanitise(SOURCE, sub)
    assert flags == {"deleted_answers": ["approval_rates"]}
    assert [g for _, g in _layout(nb)].count("approval_rates") == 0
    assert nb.cells[4].source == corpus.RIGHT["approval_rates"]


def test_duplicated_ids_first_copy_graded_others_demoted_deterministically():
    sub = corpus.answered(corpus.RIGHT)
    test = _cell(sub, "test_approval_rates")
    fake = copy.deepcopy(test)
    fake.source = "pass\n"
    sub.cells.insert(sub.cells.index(test), fake)  # a fake copy just before the real one
    answer = copy.deepcopy(_cell(sub, "disparity_ratio"))
    answer.source = "def disparity_ratio(rates):\n    return 1.0\n"
    sub.cells.append(answer)  # a second answer to the same item, at the end
    first, flags = sanitise(SOURCE, sub)
    again, _ = sanitise(SOURCE, copy.deepcopy(sub))
    assert first == again
    assert flags == {
        "duplicated_ids": ["disparity_ratio", "test_approval_rates"],
        "edited_cells": ["test_approval_rates"],
    }
    # The first copy is the graded one, with the source's text; the others run as plain cells.
    assert [g for _, g in _layout(first)] == [g for _, g in LAYOUT[:6]] + [None] + [
        g for _, g in LAYOUT[6:]
    ] + [None]
    assert _cell(first, "test_approval_rates").source == _source_of("test_approval_rates")
    assert first.cells[6].source == test.source  # the real test, now a plain cell
    assert _cell(first, "disparity_ratio").source == corpus.RIGHT["disparity_ratio"]


@pytest.fixture(scope="module")
def glab():
    return open_lab(corpus.LAB)


def test_restored_cells_are_graded(glab, tmp_path):
    """Deleted tests are put back and run: right answers get the points, wrong ones none."""
    cases = {
        "right-deleted": (corpus.RIGHT, ["test_approval_rates", "test_disparity_ratio", "data"]),
        "wrong-deleted": (corpus.WRONG, ["test_approval_rates", "test_disparity_ratio"]),
        "right-moved": (corpus.RIGHT, []),
    }
    subs = tmp_path / "subs"
    for learner, (answers, deleted) in cases.items():
        nb = corpus.answered(answers)
        for gid in deleted:
            nb.cells.remove(_cell(nb, gid))
        if learner == "right-moved":
            test = _cell(nb, "test_disparity_ratio")
            nb.cells.remove(test)
            nb.cells.insert(1, test)
        (subs / learner).mkdir(parents=True)
        nbformat.write(nb, subs / learner / corpus.NOTEBOOK)
    graded = grade_batch(glab, subs, executor=LocalExecutor(cell_timeout=10), workers=2)
    out = {g.learner: g for g in graded}
    edits = {k: g.flags["edits"][corpus.NOTEBOOK] for k, g in out.items()}
    assert edits["right-deleted"] == {
        "missing_cells": ["data", "test_approval_rates", "test_disparity_ratio"]
    }
    assert edits["right-moved"] == {"reordered_cells": ["test_disparity_ratio"]}
    auto = {k: {r.grade_id: r.score for r in g.results if r.kind == "auto"} for k, g in out.items()}
    assert auto["right-deleted"] == {"test_approval_rates": 2.0, "test_disparity_ratio": 2.0}
    assert auto["right-moved"] == {"test_approval_rates": 2.0, "test_disparity_ratio": 2.0}
    assert auto["wrong-deleted"] == {"test_approval_rates": 0.0, "test_disparity_ratio": 0.0}
    assert all(r.status != "missing" for g in out.values() for r in g.results)
    assert not any("tampered" in g.flags for g in out.values())
