"""``ai4scale release``, ``ai4scale collect [--grade]``, ``ai4scale feedback --release``.

The commands call the course service's library on the settings' gradebook and
service directory (no hub needed); grading runs with the local executor here.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest
from ai4scale.hub.course import Course, Owner, source_labs_dir, store_submission
from coursetest import answered

from ai4scale.cli import main

LAB = "example-intro"
NB = "approval-rates.ipynb"


@pytest.fixture
def config(tmp_path):
    labs = tmp_path / "labs"
    shutil.copytree(source_labs_dir() / LAB, labs / LAB)
    path = tmp_path / "ai4scale.toml"
    path.write_text(
        f'[paths]\nstate_dir = "{tmp_path / "state"}"\ndatasets_dir = "{tmp_path}"\n'
        f'[course]\nlabs_dir = "{labs}"\nsandbox = "none"\n'
    )
    return path


def course_of(config):
    from ai4scale.hub import load_settings

    return Course.from_settings(load_settings(config))


def test_release_collect_grade_and_release_feedback(config, capsys, tmp_path):
    assert main(["--config", str(config), "release", LAB, "--due", "2099-03-01T17:00+01:00"]) == 0
    assert capsys.readouterr().out.split("\t")[:2] == [LAB, "released to learners"]

    course = course_of(config)
    try:
        (release,) = course.gradebook.releases(LAB)
        assert release.released_by.endswith("(command line)")
        learner_nb = (Path(course.config.course_dir) / "releases" / LAB / NB).read_bytes()
        info = store_submission(
            course,
            LAB,
            Owner("learner", "ana", "ana", "ana"),
            {NB: answered(learner_nb)},
            releases=[release],
        )
    finally:
        course.close()
    assert info.late is False

    assert main(["--config", str(config), "collect", LAB, "--grade"]) == 0
    out = capsys.readouterr()
    assert out.out.split() == ["ana"] and "1 submission(s) autograded" in out.err

    labs = str(tmp_path / "labs")
    assert main(["--config", str(config), "feedback", LAB, "--labs", labs, "--release"]) == 0
    assert "released to 1" in capsys.readouterr().err
    course = course_of(config)
    try:
        (sub,) = course.gradebook.owner_submissions(LAB, learner="ana")
        assert sub.status == "graded" and sub.feedback_released_at is not None
        page = Path(course.config.course_dir) / "feedback" / LAB / "ana" / f"{LAB}.html"
        assert "Feedback for" in page.read_text()
    finally:
        course.close()

    db = f"sqlite:///{tmp_path / 'state' / 'gradebook.sqlite'}"
    out_file = tmp_path / "grades.csv"
    assert main(["gradebook", "export", "--db", db, "--output", str(out_file)]) == 0
    rows = {r["username"]: r for r in csv.DictReader(io.StringIO(out_file.read_text()))}
    assert rows["ana"][f"{LAB}:test_disparity_ratio"] == "2"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["release", LAB, "--due", "next friday"], "ISO 8601"),
        (["release", LAB, "--due", "2099-03-01T17:00"], "time zone"),
        (["release", "../etc"], "invalid lab id"),
        (["release", "no-such-lab"], "no lab"),
        (["collect", LAB], "not released"),
    ],
)
def test_bad_input_is_a_clear_error(config, capsys, argv, message):
    assert main(["--config", str(config), *argv]) == 2
    assert message in capsys.readouterr().err
