"""``ai4scale lab build|validate``: deterministic learner versions, CI staleness check."""

import argparse
import shutil
from pathlib import Path

import nbformat
import pytest
from ai4scale.grading import cli_lab
from ai4scale.grading.labformat import build_lab, dump_lab_toml, validate_lab
from ai4scale.hub._errors import UserError
from nbformat.v4 import new_code_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "labs" / "example-intro"


def lab_cli(*argv):
    parser = argparse.ArgumentParser()
    cli_lab.register(parser.add_subparsers())
    args = parser.parse_args(["lab", *map(str, argv)])
    return args.func(args)


def test_repo_notebooks_are_up_to_date(capsys):
    """The CI check: notebooks/ is what `ai4scale lab build` makes of labs/."""
    rc = lab_cli("build", "--check", "--labs", REPO / "labs", "--notebooks", REPO / "notebooks")
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "up to date" in out


def test_build_twice_is_byte_identical(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    report = build_lab(EXAMPLE, first)
    guided = first / "example-intro" / "approval-rates.ipynb"
    analyst = first / "_analyst" / "example-intro" / "approval-rates.ipynb"
    assert sorted(map(str, report.changed)) == sorted([str(guided), str(analyst)])
    build_lab(EXAMPLE, second)
    for path in (guided, analyst):
        rel = path.relative_to(first)
        data = path.read_bytes()
        assert data == (second / rel).read_bytes()
        # and equals the committed learner version
        assert data == (REPO / "notebooks" / rel).read_bytes()
        text = data.decode()
        assert (
            "BEGIN SOLUTION" not in text
            and "HIDDEN" not in text
            and "other = pd.DataFrame" not in text
        )
        assert "YOUR ANSWER HERE" in text
        nb = nbformat.reads(text, 4)
        assert all(c.get("outputs", []) == [] for c in nb.cells)
    assert build_lab(EXAMPLE, first).changed == []  # a rebuild writes nothing
    # The analyst writes the code; the guided learner completes blanks, exercise by exercise.
    assert "raise NotImplementedError()" in analyst.read_text()
    assert "raise NotImplementedError()" not in guided.read_text()
    assert "# Exercise 1: " in guided.read_text() and "# Exercise 1: " in analyst.read_text()


def test_check_lists_stale_and_orphaned_files(tmp_path, capsys):
    labs, notebooks = tmp_path / "labs", tmp_path / "notebooks"
    shutil.copytree(EXAMPLE, labs / "example-intro")
    assert lab_cli("build", "--labs", labs, "--notebooks", notebooks) == 0
    target = notebooks / "example-intro" / "approval-rates.ipynb"
    target.write_bytes(target.read_bytes().replace(b"YOUR ANSWER HERE", b"my edit", 1))
    (notebooks / "example-intro" / "leftover.ipynb").write_text("{}")
    (notebooks / "removed-lab").mkdir()
    capsys.readouterr()
    assert lab_cli("build", "--check", "--labs", labs, "--notebooks", notebooks) == 1
    out = capsys.readouterr().out
    assert "3 stale file(s)" in out
    assert str(target) in out and "leftover.ipynb" in out and "removed-lab" in out
    assert b"my edit" in target.read_bytes()  # --check writes nothing
    assert lab_cli("build", "--labs", labs, "--notebooks", notebooks) == 0
    assert b"my edit" not in target.read_bytes()
    assert not (notebooks / "example-intro" / "leftover.ipynb").exists()


def test_unknown_lab_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no lab 'nope'"):
        lab_cli("build", "nope", "--labs", REPO / "labs", "--notebooks", tmp_path)


def test_validate_example_lab(capsys):
    assert lab_cli("validate", "example-intro", "--labs", REPO / "labs") == 0
    assert "example-intro: ok" in capsys.readouterr().out


def test_validate_names_the_failing_items(tmp_path):
    lab = tmp_path / "weak"
    lab.mkdir()
    sol = {
        "nbgrader": {
            "grade": False,
            "solution": True,
            "locked": False,
            "grade_id": "f",
            "schema_version": 3,
        }
    }

    def test_meta(gid):
        return {
            "nbgrader": {
                "grade": True,
                "solution": False,
                "locked": False,
                "grade_id": gid,
                "points": 1,
                "schema_version": 3,
            }
        }

    cells = [
        new_code_cell(
            "def f():\n    ### BEGIN SOLUTION\n    return 2\n    ### END SOLUTION", metadata=sol
        ),
        new_code_cell("assert f() == 2", metadata=test_meta("good")),
        new_code_cell("assert True  # passes without an answer", metadata=test_meta("always")),
        new_code_cell("assert f() == 3  # the reference fails", metadata=test_meta("wrong")),
    ]
    nbformat.write(new_notebook(cells=cells), lab / "n.ipynb")
    (lab / "lab.toml").write_text(
        dump_lab_toml(
            {
                "id": "weak",
                "title": "W",
                "summary": "S",
                "learning_objectives": [],
                "datasets": [],
                "estimated_minutes": 1,
                "points": 3,
                "notebooks": ["n.ipynb"],
            }
        )
    )
    problems = validate_lab(lab)
    assert len(problems) == 2, problems
    assert "weak/n.ipynb: item 'wrong': the reference solution scores 0/1" in problems[0]
    assert "AssertionError" in problems[0]
    assert "weak/n.ipynb: item 'always': the blank learner version scores 1/1" in problems[1]
