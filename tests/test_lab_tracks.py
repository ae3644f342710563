"""Tracks: the guided and the analyst learner versions of one lab, graded alike."""

import nbformat
import pytest
from ai4scale.grading.labformat import (
    LabError,
    MetadataError,
    build_lab,
    dump_lab_toml,
    exercise_titles,
    guided_changes,
    learner_version,
    read_source_notebook,
    track_dir,
    validate_lab,
)
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REFERENCE = """def approval_rate(table):
    approved = table["approved"].sum()
    ### BEGIN SOLUTION
    total = len(table)
    return approved / total
    ### END SOLUTION"""

GUIDED = """def approval_rate(table):
    approved = table["approved"].sum()
    total = len(table)
    return ...  # divide the approved applications by all applications"""


def meta(gid, **flags):
    m = {"grade": False, "solution": False, "locked": False, "grade_id": gid, "schema_version": 3}
    m.update(flags)
    return {"nbgrader": m}


def write_lab(tmp_path, guided=GUIDED):
    lab = tmp_path / "demo"
    lab.mkdir(parents=True)
    solution = new_code_cell(REFERENCE, metadata=meta("approval_rate", solution=True))
    solution.metadata["ai4scale"] = {"guided": guided}
    cells = [
        new_markdown_cell("# Demo\n\n## 1. Approval rate per office (2 points)\n\nWhy it matters."),
        new_code_cell(
            "# A worked example: 3 of 4 approved\n3 / 4", metadata={"ai4scale": {"track": "guided"}}
        ),
        solution,
        new_code_cell(
            "import pandas as pd\n"
            "assert approval_rate(pd.DataFrame({'approved': [1, 0]})) == 0.5\n"
            "### BEGIN HIDDEN TESTS\n"
            "assert approval_rate(pd.DataFrame({'approved': [1, 1, 1, 0]})) == 0.75\n"
            "### END HIDDEN TESTS",
            metadata=meta("test_approval_rate", grade=True, points=2),
        ),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    nbformat.write(nb, lab / "a.ipynb")
    data = {
        "id": "demo",
        "title": "Demo",
        "summary": "A demo.",
        "learning_objectives": ["x"],
        "datasets": [],
        "estimated_minutes": 5,
        "points": 2,
        "notebooks": ["a.ipynb"],
    }
    (lab / "lab.toml").write_text(dump_lab_toml(data))
    return lab


def answer_cell(nb):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))


def test_each_track_gets_its_own_version(tmp_path):
    lab = write_lab(tmp_path)
    out = tmp_path / "notebooks"
    report = build_lab(lab, out)
    guided = nbformat.read(track_dir(out, "demo", "guided") / "a.ipynb", 4)
    analyst = nbformat.read(track_dir(out, "demo", "analyst") / "a.ipynb", 4)
    assert track_dir(out, "demo", "analyst") == out / "_analyst" / "demo"
    assert len(report.changed) == 2
    g, a = answer_cell(guided), answer_cell(analyst)
    assert g.source.splitlines()[0] == "# Exercise 1: Approval rate per office"
    assert "return ...  # divide" in g.source and "approved / total" not in g.source
    assert "raise NotImplementedError()" in a.source and "return ..." not in a.source
    assert a.source.startswith("# Exercise 1: Approval rate per office\n")
    # the worked example is shown in the guided track only, and never graded
    assert [c.source.startswith("# A worked example") for c in guided.cells].count(True) == 1
    assert not any(c.source.startswith("# A worked example") for c in analyst.cells)
    # nothing of the guided text reaches the analyst version, no metadata of ours either
    for nb in (guided, analyst):
        assert all("ai4scale" not in c.metadata for c in nb.cells)
    # graded cells are the same in both tracks: one autograder, one gradebook
    ids = [
        [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
        for nb in (guided, analyst)
    ]
    assert [i for i in ids[0] if i] == [i for i in ids[1] if i]
    # deterministic: a rebuild changes nothing
    assert build_lab(lab, out).changed == []


def test_guided_may_leave_at_most_three_lines(tmp_path):
    too_much = "def approval_rate(table):\n    ...\n    ...\n    ...\n    return ..."
    lab = write_lab(tmp_path, guided=too_much)
    source = read_source_notebook(lab / "a.ipynb")
    assert guided_changes(answer_cell(source)) == 4
    with pytest.raises(LabError, match="differs from the reference in 4 code lines"):
        build_lab(lab, tmp_path / "out")
    assert (
        guided_changes(answer_cell(read_source_notebook(write_lab(tmp_path / "b") / "a.ipynb")))
        == 1
    )


def test_a_one_track_cell_cannot_be_graded(tmp_path):
    lab = write_lab(tmp_path)
    nb = read_source_notebook(lab / "a.ipynb")
    nb.cells[1].metadata.update(meta("sneaky", locked=True))
    with pytest.raises(MetadataError, match="cannot be graded"):
        learner_version(nb)
    with pytest.raises(MetadataError, match="unknown track"):
        learner_version(read_source_notebook(lab / "a.ipynb"), track="expert")


def test_titles_come_from_the_headings():
    cells = [
        new_markdown_cell("## 2. Error rates per group (3 points)"),
        new_code_cell("x = 1", metadata=meta("error_rates", solution=True)),
        new_code_cell("assert x", metadata=meta("test_error_rates", grade=True, points=1)),
        new_code_cell("assert x", metadata=meta("test_error_rates_2", grade=True, points=1)),
        new_markdown_cell("Text without a heading"),
        new_markdown_cell("### 5a. Discuss (1 point, graded by your trainer)"),
        new_markdown_cell("ok", metadata=meta("discuss", grade=True, solution=True, points=1)),
        new_markdown_cell("ok", metadata=meta("memo_answer", grade=True, solution=True, points=2)),
    ]
    titles = exercise_titles(new_notebook(cells=cells))
    assert titles == {
        "error_rates": "Error rates per group",
        "test_error_rates": "Error rates per group",
        "test_error_rates_2": "Error rates per group (2)",
        "discuss": "Discuss",
        "memo_answer": "Discuss (2)",
    }
    assert exercise_titles(new_notebook(cells=cells[1:2])) == {"error_rates": "Error rates"}


def test_both_blank_versions_score_zero_and_the_reference_full(tmp_path):
    lab = write_lab(tmp_path)
    assert validate_lab(lab) == []
    # a guided blank that lets the test pass without an answer is reported
    given_away = GUIDED.replace("return ...  #", "return approved / total  #")
    lab2 = write_lab(tmp_path / "b", guided=given_away)
    problems = validate_lab(lab2)
    assert any("guided track" in p for p in problems), problems


def test_every_code_exercise_of_our_labs_is_guided():
    """The guided track is whole: each code answer of each lab has blanks to complete."""
    from pathlib import Path

    from ai4scale.grading.labformat import (
        GUIDED_MAX_LINES,
        find_labs,
        guided_source,
        is_solution,
        load_lab,
        read_lab_notebooks,
    )

    labs = find_labs(Path(__file__).resolve().parents[1] / "labs")
    assert len(labs) >= 9
    for lab_dir in labs:
        lab = load_lab(lab_dir)
        for name, nb in read_lab_notebooks(lab).items():
            answers = [c for c in nb.cells if is_solution(c) and c.cell_type == "code"]
            assert answers, f"{lab.id}/{name} has no code exercise"
            for cell in answers:
                gid = cell.metadata["nbgrader"]["grade_id"]
                guided = guided_source(cell)
                assert guided, f"{lab.id}/{name}: {gid} has no guided version"
                assert "..." in guided, f"{lab.id}/{name}: {gid} leaves no blank"
                assert 1 <= guided_changes(cell) <= GUIDED_MAX_LINES, (lab.id, gid)
