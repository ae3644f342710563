"""Lab format: lab.toml schema, nbgrader metadata v0-v3, markers, checksums, scoring rules."""

import copy
import tomllib
from pathlib import Path

import nbformat
import nbgrader  # a pinned test dependency: if it is missing, these tests fail
import pytest
from ai4scale.grading.labformat import (
    LabError,
    MetadataError,
    compute_checksum,
    dump_lab_toml,
    learner_version,
    load_lab,
    read_source_notebook,
    score_cell,
    validate_notebook_metadata,
)
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

FILES = Path(nbgrader.__file__).parent / "tests" / "apps" / "files"
PS1 = Path(nbgrader.__file__).parent / "docs" / "source" / "user_guide" / "source" / "ps1"
REPO = Path(__file__).resolve().parents[1]


def meta(gid, **flags):
    m = {"grade": False, "solution": False, "locked": False, "grade_id": gid, "schema_version": 3}
    m.update(flags)
    return {"nbgrader": m}


def write_lab(tmp_path, lab_id="demo", **overrides):
    lab = tmp_path / lab_id
    lab.mkdir()
    cells = [
        new_code_cell(
            "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
            metadata=meta("f", solution=True),
        ),
        new_code_cell("assert f() == 1", metadata=meta("t", grade=True, points=2)),
    ]
    nbformat.write(new_notebook(cells=cells), lab / "a.ipynb")
    data = {
        "id": lab_id,
        "title": "Demo",
        "summary": "A demo.",
        "learning_objectives": ["x"],
        "datasets": [],
        "estimated_minutes": 5,
        "points": 2,
        "notebooks": ["a.ipynb"],
    }
    data.update(overrides)
    (lab / "lab.toml").write_text(dump_lab_toml(data))
    return lab


# --- lab.toml ------------------------------------------------------------------


def test_example_lab_toml_reads():
    lab = load_lab(REPO / "labs" / "example-intro")
    assert lab.id == "example-intro"
    assert lab.points == 7
    assert lab.notebooks == ["approval-rates.ipynb"]
    assert lab.learning_objectives and lab.datasets == []


def test_unknown_key_refused_naming_file_and_key(tmp_path):
    lab = write_lab(tmp_path)
    (lab / "lab.toml").write_text((lab / "lab.toml").read_text() + 'teacher = "me"\n')
    with pytest.raises(LabError, match=r"lab\.toml: unknown key 'teacher'"):
        load_lab(lab)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"points": -1}, "points"),
        ({"notebooks": []}, "notebooks"),
        ({"notebooks": ["missing.ipynb"]}, "'missing.ipynb' not found"),
        ({"estimated_minutes": "ten"}, "estimated_minutes"),
        ({"learning_objectives": "one"}, "learning_objectives"),
    ],
)
def test_bad_values_refused(tmp_path, change, message):
    lab = write_lab(tmp_path, **change)
    with pytest.raises(LabError, match=message):
        load_lab(lab)


def test_id_must_match_folder_and_newer_format_refused(tmp_path):
    lab = write_lab(tmp_path)
    lab.rename(tmp_path / "other")
    with pytest.raises(LabError, match="differs from the folder name"):
        load_lab(tmp_path / "other")
    lab = write_lab(tmp_path)
    text = (lab / "lab.toml").read_text().replace("format_version = 2", "format_version = 3")
    (lab / "lab.toml").write_text(text)
    with pytest.raises(LabError, match="format_version 3 is newer"):
        load_lab(lab)


def test_format_version_1_is_upgraded(tmp_path):
    lab = write_lab(tmp_path)
    text = (lab / "lab.toml").read_text().replace("format_version = 2", "format_version = 1")
    text = text.replace("team = false\n", "")
    (lab / "lab.toml").write_text(text)
    loaded = load_lab(lab)
    assert loaded.team is False and loaded.rubrics == {}


def write_manual_lab(tmp_path, rubric_levels, grade_id="memo"):
    lab = write_lab(tmp_path, points=5)
    nb = nbformat.read(lab / "a.ipynb", 4)
    answer = "### BEGIN SOLUTION\nA gap is a signal.\n### END SOLUTION"
    nb.cells.append(
        nbformat.v4.new_markdown_cell(
            answer, metadata=meta("memo", solution=True, grade=True, points=3)
        )
    )
    nbformat.write(nb, lab / "a.ipynb")
    levels = ", ".join(
        f'{{ points = {p}, label = "L{p}", description = "level {p}" }}' for p in rubric_levels
    )
    with open(lab / "lab.toml", "a") as f:
        f.write(f'\n[rubrics.{grade_id}]\nlevels = [{levels}]\ncomments = ["Say why."]\n')
    return lab


def test_rubric_read_with_levels_and_comments(tmp_path):
    from ai4scale.grading.labformat import read_lab_notebooks

    lab = load_lab(write_manual_lab(tmp_path, [0, 1.5, 3]))
    read_lab_notebooks(lab)
    rubric = lab.rubrics["memo"]
    assert [lv.points for lv in rubric.levels] == [0, 1.5, 3]
    assert rubric.max_points == 3 and rubric.comments == ("Say why.",)
    assert rubric.as_dict()["levels"][1] == {
        "points": 1.5,
        "label": "L1.5",
        "description": "level 1.5",
    }
    # dump_lab_toml writes rubrics back in a form load_lab reads unchanged
    data = tomllib.loads((lab.path / "lab.toml").read_text())
    data.pop("format_version")
    (lab.path / "lab.toml").write_text(dump_lab_toml(data))
    assert load_lab(lab.path).rubrics == lab.rubrics


@pytest.mark.parametrize(
    "levels, grade_id, message",
    [
        ([0, 2], "memo", "highest level gives 2 points but the item is worth 3"),
        ([0, 3], "t", "no manually graded item has this grade_id"),
        ([0, 3], "nothing", "no manually graded item has this grade_id"),
        ([3, 0], "memo", "lowest first"),
        ([1, 3], "memo", "lowest level must give 0 points"),
        ([3], "memo", "levels"),
    ],
)
def test_bad_rubrics_refused(tmp_path, levels, grade_id, message):
    from ai4scale.grading.labformat import read_lab_notebooks

    lab = write_manual_lab(tmp_path, levels, grade_id=grade_id)
    with pytest.raises(LabError, match=message):
        read_lab_notebooks(load_lab(lab))


def test_points_total_checked_against_items(tmp_path):
    from ai4scale.grading.labformat import read_lab_notebooks

    lab = write_lab(tmp_path, points=5)
    with pytest.raises(LabError, match="points = 5 but the notebooks' items add up to 2"):
        read_lab_notebooks(load_lab(lab))


# --- nbgrader metadata schema versions -------------------------------------------


@pytest.mark.parametrize("name", ["test-v0.ipynb", "test-v1.ipynb", "test-v2.ipynb", "test.ipynb"])
def test_upgrade_matches_nbgrader(name):
    from nbgrader.nbgraderformat import MetadataValidator

    ours = read_source_notebook(FILES / name)
    theirs = MetadataValidator().upgrade_notebook_metadata(nbformat.read(FILES / name, 4))
    assert [c.metadata.get("nbgrader") for c in ours.cells] == [
        c.metadata.get("nbgrader") for c in theirs.cells
    ]
    assert all(
        c.metadata.nbgrader["schema_version"] == 3 for c in ours.cells if "nbgrader" in c.metadata
    )
    original = nbformat.read(FILES / name, 4)
    versions = {
        c.metadata["nbgrader"].get("schema_version", 0)
        for c in original.cells
        if "nbgrader" in c.metadata
    }
    assert versions  # the corpus file really carries nbgrader metadata


@pytest.mark.parametrize(
    "cell, message",
    [
        (new_code_cell("x", metadata={"nbgrader": "yes"}), "not a mapping"),
        (
            new_code_cell("x", metadata=meta("g", grade=True, points="many", schema_version=0)),
            "invalid points",
        ),
        (new_code_cell("x", metadata=meta("g", grade=True)), "has no points"),
        (new_code_cell("x", metadata=meta("", solution=True)), "no grade_id"),
        (new_code_cell("x", metadata=meta("bad id", locked=True)), "grade_id"),
        (new_code_cell("x", metadata=meta("g", schema_version=4, locked=True)), "newer than"),
        (new_markdown_cell("x", metadata=meta("g", grade=True, points=1)), "Markdown answer cell"),
        (
            new_code_cell("x", metadata=meta("g", task=True, points=1, locked=True)),
            "task cells must be Markdown",
        ),
    ],
)
def test_malformed_metadata_names_notebook_and_cell(cell, message):
    nb = new_notebook(cells=[new_markdown_cell("intro"), cell])
    with pytest.raises(MetadataError, match=message) as e:
        validate_notebook_metadata(nb, name="lab/x.ipynb")
    assert str(e.value).startswith("lab/x.ipynb: cell 1")


def test_duplicate_grade_id_refused():
    nb = new_notebook(
        cells=[
            new_code_cell("a", metadata=meta("same", locked=True)),
            new_code_cell("b", metadata=meta("same", locked=True)),
        ]
    )
    with pytest.raises(MetadataError, match="cell 1 .*duplicate grade_id 'same'"):
        validate_notebook_metadata(nb, name="x.ipynb")


# --- markers and the learner version ---------------------------------------------


def test_markers_in_code_and_markdown():
    nb = new_notebook(
        metadata={"kernelspec": {"language": "python", "name": "python3", "display_name": "P"}},
        cells=[
            new_code_cell(
                "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    return x + y\n"
                "    ### END SOLUTION\n# after",
                metadata=meta("f", solution=True),
            ),
            new_code_cell("whole = 1", metadata=meta("whole", solution=True)),
            new_markdown_cell(
                "Intro\n### BEGIN SOLUTION\nsecret\n### END SOLUTION\nOutro",
                metadata=meta("md", solution=True, grade=True, points=1),
            ),
            new_code_cell(
                "assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(2) == 3\n### END HIDDEN TESTS",
                metadata=meta("t", grade=True, points=1),
            ),
            new_markdown_cell(
                "Task\n### BEGIN MARK SCHEME\n1 point if…\n### END MARK SCHEME",
                metadata=meta("task", task=True, locked=True, points=1),
            ),
        ],
    )
    nb.cells[0].outputs = [new_output("stream", text="hi")]
    nb.cells[0].execution_count = 3
    validate_notebook_metadata(nb)
    out = learner_version(nb)
    assert out.cells[0].source == (
        "def f(x):\n    y = 1\n    # YOUR CODE HERE\n    raise NotImplementedError()\n# after"
    )
    assert out.cells[0].outputs == [] and out.cells[0].execution_count is None
    assert out.cells[1].source == "# YOUR CODE HERE\nraise NotImplementedError()"
    assert out.cells[2].source == "Intro\nYOUR ANSWER HERE\nOutro"
    assert out.cells[3].source == "assert f(1) == 2"
    assert out.cells[4].source == "Task"
    assert (
        out.cells[3].metadata["editable"] is False and out.cells[0].metadata["deletable"] is False
    )
    for cell in out.cells:
        assert cell.metadata.nbgrader["checksum"] == compute_checksum(cell)
    assert "secret" not in nbformat.writes(out) and "f(2)" not in nbformat.writes(out)
    assert nb.cells[0].execution_count == 3  # the source is left untouched


@pytest.mark.parametrize(
    "source, flags, message",
    [
        ("### BEGIN SOLUTION\nx = 1", {"solution": True}, "no matching"),
        ("x\n### END SOLUTION", {"solution": True}, "without"),
        ("### BEGIN SOLUTION\nx\n### END SOLUTION", {"locked": True}, "not marked as a solution"),
        (
            "### BEGIN HIDDEN TESTS\nx\n### END HIDDEN TESTS",
            {"locked": True},
            "not marked as a grade",
        ),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", {"solution": True}, "nested"),
    ],
)
def test_bad_markers_refused(source, flags, message):
    nb = new_notebook(cells=[new_code_cell(source, metadata=meta("c", **flags))])
    with pytest.raises(MetadataError, match=message):
        learner_version(validate_notebook_metadata(nb, name="n.ipynb"), name="n.ipynb")


def test_checksums_equal_nbgrader_on_corpus():
    from nbgrader.utils import compute_checksum as theirs

    checked = 0
    for path in [*FILES.glob("submitted-*.ipynb"), *PS1.glob("*.ipynb")]:
        for cell in read_source_notebook(path).cells:
            if "grade_id" in cell.metadata.get("nbgrader", {}):
                assert compute_checksum(cell) == theirs(cell), (path.name, cell.source)
                checked += 1
    assert checked > 20


# --- nbgrader's scoring rule ------------------------------------------------------


def graded(outputs, points=3, **flags):
    cell = new_code_cell("x", metadata=meta("g", grade=True, points=points, **flags))
    cell.outputs = outputs
    return cell


@pytest.mark.parametrize(
    "outputs, score, status",
    [
        ([], 3.0, "passed"),
        ([new_output("stream", name="stdout", text="ok")], 3.0, "passed"),
        (
            [new_output("execute_result", data={"text/plain": "1.5"}, execution_count=1)],
            1.5,
            "partial",
        ),
        (
            [new_output("execute_result", data={"text/plain": "0.0"}, execution_count=1)],
            0.0,
            "partial",
        ),
        (
            [new_output("execute_result", data={"text/plain": "'text'"}, execution_count=1)],
            3.0,
            "passed",
        ),
        (
            [new_output("execute_result", data={"text/plain": "-1"}, execution_count=1)],
            3.0,
            "passed",
        ),
        ([new_output("stream", name="stderr", text="warn")], 0.0, "failed"),
        ([new_output("error", ename="AssertionError", evalue="", traceback=[])], 0.0, "failed"),
    ],
)
def test_partial_credit_rule_matches_nbgrader(outputs, score, status):
    from nbgrader.utils import determine_grade

    cell = graded(outputs)
    assert score_cell(cell)[0] == score
    assert score_cell(cell)[2] == status
    assert determine_grade(copy.deepcopy(cell))[0] == score


def test_partial_credit_above_points_is_an_error():
    with pytest.raises(ValueError, match="exceeds"):
        score_cell(
            graded([new_output("execute_result", data={"text/plain": "4"}, execution_count=1)])
        )
