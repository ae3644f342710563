"""Every lab in ``labs/``: valid, rubrics for its manual items, wrong answers score zero.

- ``ai4scale lab validate``'s check: the reference solution gets every
  autograded point and the blank learner version none.
- Every manually graded item has a rubric (levels and points) for the
  course service's grading page.
- Each deliberately wrong but plausible answer in ``tests/lab_fixtures/<lab>.yaml``
  scores 0 on the items it names (see the format at the top of
  ``example-intro.yaml``).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from ai4scale.grading.labformat import (
    autograde_locally,
    find_labs,
    lab_items,
    load_lab,
    read_lab_notebooks,
    validate_lab,
)

REPO = Path(__file__).resolve().parents[1]
LABS = find_labs(REPO / "labs")
FIXTURES = Path(__file__).parent / "lab_fixtures"


def wrong_answers():
    cases = []
    for path in sorted(FIXTURES.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text()) or []:
            cases.append(pytest.param(path.stem, case, id=f"{path.stem}: {case['name']}"))
    return cases


@pytest.mark.parametrize("lab_dir", LABS, ids=lambda p: p.name)
def test_lab_validates(lab_dir):
    assert validate_lab(lab_dir, timeout=120) == []


@pytest.mark.parametrize("lab_dir", LABS, ids=lambda p: p.name)
def test_manual_items_have_rubrics_and_wrong_answer_fixtures(lab_dir):
    lab = load_lab(lab_dir)
    items = lab_items(read_lab_notebooks(lab))
    manual = {i["grade_id"] for i in items if i["kind"] in ("manual", "task")}
    assert manual <= set(lab.rubrics), f"manual items without a rubric: {manual - set(lab.rubrics)}"
    auto = {i["grade_id"] for i in items if i["kind"] == "auto"}
    fixture = FIXTURES / f"{lab.id}.yaml"
    assert fixture.is_file(), f"no wrong-answer fixtures for {lab.id} in {fixture}"
    covered = {gid for case in yaml.safe_load(fixture.read_text()) for gid in case["zero"]}
    assert auto <= covered, f"autograded items without a wrong answer: {auto - covered}"


@pytest.mark.parametrize("lab_id, case", wrong_answers())
def test_wrong_answer_scores_zero(lab_id, case):
    lab = load_lab(REPO / "labs" / lab_id)
    source = read_lab_notebooks(lab)[case["notebook"]]
    submission = copy.deepcopy(source)
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in submission.cells}
    for grade_id, code in case["replace"].items():
        cell = by_id.get(grade_id)
        assert cell is not None and cell.metadata.nbgrader["solution"], (
            f"{grade_id!r} is not a solution cell of {case['notebook']}"
        )
        cell.source = code
    results = autograde_locally(
        source, submission, name=case["notebook"], resources_dir=lab.path, timeout=120
    )
    scores = {r.grade_id: r for r in results}
    for grade_id in case["zero"]:
        assert scores[grade_id].kind == "auto", f"{grade_id!r} is not an autograded item"
        assert scores[grade_id].score == 0, (
            f"{case['name']!r}: {grade_id} scored {scores[grade_id].score}/"
            f"{scores[grade_id].max_score} ({scores[grade_id].status})"
        )
    # the mistake costs only what it should: other autograded items keep full marks
    for r in results:
        if r.kind == "auto" and r.grade_id not in case["zero"]:
            assert r.score == r.max_score, f"{r.grade_id} also lost points: {r.status} {r.message}"
