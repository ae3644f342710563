"""Import nbgrader's own corpus; compare learner versions and scores with nbgrader's."""

import argparse
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
from ai4scale.grading import cli_lab
from ai4scale.grading.labformat import (
    autograde_locally,
    build_lab,
    read_source_notebook,
    validate_lab,
)

nbgrader = pytest.importorskip("nbgrader")
NBG = Path(nbgrader.__file__).parent
PS1 = NBG / "docs" / "source" / "user_guide" / "source" / "ps1"
FILES = NBG / "tests" / "apps" / "files"


def lab_cli(*argv):
    parser = argparse.ArgumentParser()
    cli_lab.register(parser.add_subparsers())
    args = parser.parse_args(["lab", *map(str, argv)])
    return args.func(args)


def nbgrader_cmd(course, *argv):
    """Run nbgrader's CLI in a course folder (its commands call alembic: venv bin on PATH)."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    subprocess.run(
        [Path(sys.executable).parent / "nbgrader", *argv, "--force"],
        cwd=course,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


def make_course(root, assignment, notebooks):
    (root / "source" / assignment).mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(root)!r}\n"
        "c.CourseDirectory.course_id = 'course'\n"
    )
    for name, path in notebooks.items():
        shutil.copyfile(path, root / "source" / assignment / name)


def test_import_build_validate_ps1_and_match_generate_assignment(tmp_path, capsys):
    labs, out = tmp_path / "labs", tmp_path / "notebooks"
    sources = sorted(PS1.glob("*.ipynb"))
    assert lab_cli("import-nbgrader", *sources, "--lab", "ps1", "--labs", labs) == 0
    lab_dir = labs / "ps1"
    meta = tomllib.loads((lab_dir / "lab.toml").read_text())
    assert meta["notebooks"] == ["problem1.ipynb", "problem2.ipynb"]
    assert meta["format_version"] == 2 and meta["id"] == "ps1"
    for src in sources:  # taken as they are
        assert (lab_dir / src.name).read_bytes() == src.read_bytes()
    assert (lab_dir / "jupyter.png").is_file()

    report = build_lab(lab_dir, out)
    assert sorted(p.name for p in report.changed) == [
        "jupyter.png",
        "problem1.ipynb",
        "problem2.ipynb",
    ]
    assert validate_lab(lab_dir) == []

    course = tmp_path / "course"
    make_course(course, "ps1", {s.name: s for s in sources})
    nbgrader_cmd(course, "generate_assignment", "ps1", "--create")
    for src in sources:
        ours = nbformat.read(out / "ps1" / src.name, 4)
        theirs = nbformat.read(course / "release" / "ps1" / src.name, 4)
        assert len(ours.cells) == len(theirs.cells)
        for a, b in zip(ours.cells, theirs.cells, strict=True):
            assert a.source == b.source
            assert a.cell_type == b.cell_type
            assert a.metadata.get("nbgrader") == b.metadata.get("nbgrader")  # checksums included
            assert a.metadata.get("editable") == b.metadata.get("editable")
            assert a.metadata.get("deletable") == b.metadata.get("deletable")
            assert a.get("outputs", []) == b.get("outputs", [])


def test_import_refuses_existing_lab_and_bad_id(tmp_path):
    from ai4scale.hub._errors import UserError

    src = PS1 / "problem1.ipynb"
    assert lab_cli("import-nbgrader", src, "--lab", "one", "--labs", tmp_path) == 0
    with pytest.raises(UserError, match="already exists"):
        lab_cli("import-nbgrader", src, "--lab", "one", "--labs", tmp_path)
    with pytest.raises(UserError, match="must match"):
        lab_cli("import-nbgrader", src, "--lab", "Bad_ID", "--labs", tmp_path)
    assert not (tmp_path / "Bad_ID").exists()


def test_scores_equal_nbgrader_autograde_on_honest_submissions(tmp_path):
    """nbgrader's own test files: source submitted-unchanged, two learners."""
    from nbgrader.api import Gradebook

    source = FILES / "submitted-unchanged.ipynb"
    submissions = {"changed": FILES / "submitted-changed.ipynb", "unchanged": source}
    course = tmp_path / "course"
    make_course(course, "ps1", {"p1.ipynb": source})
    nbgrader_cmd(course, "generate_assignment", "ps1", "--create")
    for learner, path in submissions.items():
        (course / "submitted" / learner / "ps1").mkdir(parents=True)
        shutil.copyfile(path, course / "submitted" / learner / "ps1" / "p1.ipynb")
    nbgrader_cmd(course, "autograde", "ps1")

    source_nb = read_source_notebook(source)
    compared, seen = 0, {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for learner, path in submissions.items():
            theirs = {
                g.name: g.auto_score
                for g in gb.find_submission_notebook("p1", "ps1", learner).grades
            }
            ours = autograde_locally(source_nb, read_source_notebook(path), name="p1.ipynb")
            assert {r.grade_id: r.score for r in ours} == theirs, learner
            compared += len(ours)
            seen[learner] = theirs
    assert compared == 8
    # the two learners really score differently: the comparison is not vacuous
    assert seen["changed"]["bar"] == 1.0 and seen["unchanged"]["bar"] == 0.0
