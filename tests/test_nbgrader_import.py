"""Import nbgrader's own corpus; compare learner versions and scores with nbgrader's."""

import argparse
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import nbgrader  # a pinned test dependency: if it is missing, these tests fail
import pytest
from ai4scale.grading import cli_lab
from ai4scale.grading.labformat import (
    autograde_locally,
    build_lab,
    read_source_notebook,
    validate_lab,
)

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


# ---- the whole pipeline (sanitise, canaries, guard, scoring) against nbgrader -------------

#: nbgrader's submissions of its test notebook (source: submitted-unchanged.ipynb).
SUBMITTED = {p.stem.removeprefix("submitted-"): p for p in sorted(FILES.glob("submitted-*.ipynb"))}


def _nbgrader_update(course, path):
    """``nbgrader update`` (metadata of older schemas to the current one; takes no --force)."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    subprocess.run(
        [Path(sys.executable).parent / "nbgrader", "update", str(path)],
        cwd=course,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


def _nbgrader_autograde(course, submissions, *args, update=False):
    """Put ``{learner: {notebook: path}}`` in ``course``'s submitted/ and autograde ps1.

    Returns ``{learner: {notebook stem: {grade_id: auto_score}}}``.
    """
    from nbgrader.api import Gradebook

    if update:
        for src in sorted((course / "source" / "ps1").glob("*.ipynb")):
            _nbgrader_update(course, src.relative_to(course))
    nbgrader_cmd(course, "generate_assignment", "ps1", "--create")
    for learner, notebooks in submissions.items():
        folder = course / "submitted" / learner / "ps1"
        folder.mkdir(parents=True)
        for name, path in notebooks.items():
            shutil.copyfile(path, folder / name)
            if update:
                _nbgrader_update(course, (folder / name).relative_to(course))
    nbgrader_cmd(course, "autograde", "ps1", *args)
    out = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for learner, notebooks in submissions.items():
            out[learner] = {
                Path(name).stem: {
                    g.name: g.auto_score
                    for g in gb.find_submission_notebook(Path(name).stem, "ps1", learner).grades
                }
                for name in notebooks
            }
    return out


def _ours(tmp_path, sources, submissions, *, cell_timeout=10):
    """Import ``sources`` as a lab and grade ``{learner: {notebook: path}}`` with the pipeline.

    Returns ``{learner: GradedSubmission}``.
    """
    from ai4scale.grading.autograde import LocalExecutor, grade_batch, open_lab

    labs, subs = tmp_path / "labs", tmp_path / "subs"
    assert lab_cli("import-nbgrader", *sources, "--lab", "diff", "--labs", labs) == 0
    for learner, notebooks in submissions.items():
        (subs / learner).mkdir(parents=True)
        for name, path in notebooks.items():
            shutil.copyfile(path, subs / learner / name)
    executor = LocalExecutor(cell_timeout=cell_timeout, notebook_timeout=120)
    graded = grade_batch(open_lab(labs / "diff"), subs, executor=executor, workers=2)
    return {g.learner: g for g in graded}


def _scores(graded, notebook):
    return {r.grade_id: r.score for r in graded.results if r.notebook == notebook}


def _edits(graded, notebook):
    return graded.flags.get("edits", {}).get(notebook, {})


def test_submitted_corpus_against_nbgrader(tmp_path):
    """Every submitted-* file of nbgrader's tests, through both graders.

    Honest ones, and those whose test or read-only cells were edited, score
    item by item as nbgrader scores them (both put the instructor's cells
    back; we also flag the edit). The cheat attempts replace IPython's
    ``InteractiveShell.showtraceback``: nbgrader still counts the cell that
    only prints; we flag the submission as tampered and zero its autograded
    items, since no test result of a notebook that rewires failure reporting
    can be trusted.
    """
    assert set(SUBMITTED) == {
        "unchanged",
        "changed",
        "cheat-attempt",
        "cheat-attempt-alternative",
        "grade-cell-changed",
        "locked-cell-changed",
    }
    source = tmp_path / "p1.ipynb"
    shutil.copyfile(FILES / "submitted-unchanged.ipynb", source)
    course = tmp_path / "course"
    make_course(course, "ps1", {"p1.ipynb": source})
    submissions = {learner: {"p1.ipynb": path} for learner, path in SUBMITTED.items()}
    theirs = {k: v["p1"] for k, v in _nbgrader_autograde(course, submissions).items()}
    ours = _ours(tmp_path, [source], submissions)

    honest = ["unchanged", "changed", "grade-cell-changed", "locked-cell-changed"]
    for learner in honest:
        assert _scores(ours[learner], "p1.ipynb") == theirs[learner], learner
        assert "tampered" not in ours[learner].flags, learner
    assert theirs["changed"]["bar"] == 1.0 and theirs["unchanged"]["bar"] == 0.0  # not vacuous
    assert _edits(ours["unchanged"], "p1.ipynb") == {}
    assert _edits(ours["changed"], "p1.ipynb") == {}
    assert _edits(ours["grade-cell-changed"], "p1.ipynb") == {"edited_cells": ["bar"]}
    assert _edits(ours["locked-cell-changed"], "p1.ipynb") == {"edited_cells": ["ro1", "ro2"]}

    for learner in ("cheat-attempt", "cheat-attempt-alternative"):
        assert theirs[learner] == {"foo": 1.0, "bar": 0.0, "baz": None, "quux": None}
        mine = ours[learner]
        # the first check cell after the patch shows it (its traceback is not shown)
        assert "check cell" in mine.flags["tampered"], learner
        auto = {r.grade_id: (r.score, r.status) for r in mine.results if r.kind == "auto"}
        assert auto == {"foo": (0.0, "tampered"), "bar": (0.0, "tampered")}, learner
        # the manually graded answers are left to the trainer, as nbgrader leaves them
        assert _scores(mine, "p1.ipynb")["baz"] is None
        assert _scores(mine, "p1.ipynb")["quux"] is None


def test_ps1_learners_against_nbgrader(tmp_path):
    """The user guide's ps1 and its two submitted learners, bitdiddle and hacker."""
    submitted = NBG / "docs" / "source" / "user_guide" / "submitted"
    sources = sorted(PS1.glob("*.ipynb"))
    learners = sorted(p.name for p in submitted.iterdir() if (p / "ps1").is_dir())
    assert learners == ["bitdiddle", "hacker"]
    submissions = {
        learner: {s.name: submitted / learner / "ps1" / s.name for s in sources}
        for learner in learners
    }
    course = tmp_path / "course"
    make_course(course, "ps1", {s.name: s for s in sources})
    shutil.copyfile(PS1 / "jupyter.png", course / "source" / "ps1" / "jupyter.png")
    theirs = _nbgrader_autograde(course, submissions)
    ours = _ours(tmp_path, sources, submissions)
    compared = 0
    for learner in learners:
        assert "tampered" not in ours[learner].flags
        for src in sources:
            mine = _scores(ours[learner], src.name)
            assert mine == theirs[learner][src.stem], (learner, src.name)
            compared += sum(v is not None for v in mine.values())
    assert compared >= 8
    totals = {
        learner: sum(v or 0 for nb in theirs[learner].values() for v in nb.values())
        for learner in learners
    }
    assert totals["bitdiddle"] != totals["hacker"]  # the learners really differ


def test_schema_versions_and_hidden_tests_against_nbgrader(tmp_path):
    """test-v0/v1/v2 (nbgrader needs ``nbgrader update`` first; we read them as they are),
    test.ipynb (v3) and test-hidden-tests.ipynb, each graded as its own submission."""
    names = ["test-v0", "test-v1", "test-v2", "test", "test-hidden-tests"]
    sources = []
    for name in names:
        sources.append(tmp_path / "src" / f"{name.replace('-', '_')}.ipynb")
        sources[-1].parent.mkdir(exist_ok=True)
        shutil.copyfile(FILES / f"{name}.ipynb", sources[-1])
    submissions = {"foo": {s.name: s for s in sources}}
    course = tmp_path / "course"
    make_course(course, "ps1", {s.name: s for s in sources})
    theirs = _nbgrader_autograde(course, submissions, update=True)["foo"]
    ours = _ours(tmp_path, sources, submissions)["foo"]
    assert "tampered" not in ours.flags
    for src in sources:
        assert _scores(ours, src.name) == theirs[src.stem], src.name
        # older metadata in the submission reads as the release's: no edit flagged ...
        if src.stem != "test_hidden_tests":
            assert _edits(ours, src.name) == {}, src.name
    # ... but a submission carrying the hidden tests differs from what was released
    hidden = theirs["test_hidden_tests"]
    assert hidden["correct_squares"] == 0.0 and hidden["squares_invalid_input"] == 1.0
    assert _edits(ours, "test_hidden_tests.ipynb") == {
        "edited_cells": ["correct_squares", "correct_sum_of_squares"]
    }


def test_timeout_and_infinite_loop_against_nbgrader(tmp_path):
    """A test calling a 5 s function under a 2 s cell limit, and a notebook that never ends."""
    sources = []
    for name in ("timeout", "infinite-loop"):
        sources.append(tmp_path / "src" / f"{name.replace('-', '_')}.ipynb")
        sources[-1].parent.mkdir(exist_ok=True)
        shutil.copyfile(FILES / f"{name}.ipynb", sources[-1])
    submissions = {"foo": {s.name: s for s in sources}}
    course = tmp_path / "course"
    make_course(course, "ps1", {s.name: s for s in sources})
    theirs = _nbgrader_autograde(course, submissions, "--Execute.timeout=2")["foo"]
    ours = _ours(tmp_path, sources, submissions, cell_timeout=2)["foo"]
    assert theirs == {"timeout": {"correct_squares": 0.0}, "infinite_loop": {}}
    assert _scores(ours, "timeout.ipynb") == theirs["timeout"]
    assert _scores(ours, "infinite_loop.ipynb") == {}
    runs = ours.flags["run"]
    assert runs["timeout.ipynb"].startswith("cell_timeout")
    assert runs["infinite_loop.ipynb"].startswith("cell_timeout")
    assert "tampered" not in ours.flags
