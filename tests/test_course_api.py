"""The course cycle through the service's REST API, on a real hub with real servers and kernels.

release -> fetch -> check -> submit -> collect -> autograde -> manual grade ->
feedback release -> export, for one learner and for a team. Notebooks reach
the service only through the learners' servers' contents API: the service's
directory is root-only and no learner's server could read it (checked from a
learner's kernel), so the same service runs where nothing is shared.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import pwd
import stat
from pathlib import Path

import pytest
from conftest import TEST_USER_PREFIX
from coursetest import (
    ANSWERS,
    DISCUSS,
    answered,
    api,
    conforms,
    make_lab,
    person,
    put_file,
    read_file,
    wait_job,
)
from hubtest import Kernel, spawn

pytestmark = pytest.mark.hub

LAB = "course-intro"
TEAM_LAB = "team-intro"
NB = "approval-rates.ipynb"


def course_dir(hub):
    return Path(hub.settings["paths"]["state_dir"]) / "course"


@pytest.fixture(scope="module")
def lab(hub):
    return make_lab(hub, LAB)


@pytest.fixture(scope="module")
def released(hub, lab):
    tina = api(hub, "tina")
    r = tina.post("/instructor/releases", json={"lab": lab, "due": "2099-01-01T17:00:00+01:00"})
    assert r.status_code == 201, r.text
    assert r.json()["due"] == "2099-01-01T16:00:00+00:00"
    assert r.json()["released_by"] == "tina"
    return lab


def test_openapi_document_is_served_and_names_every_route(hub):
    import requests
    import yaml

    r = requests.get(f"{hub.url}/services/course/api/openapi.yaml", timeout=30)
    assert r.status_code == 200
    doc = yaml.safe_load(r.text)
    assert doc["openapi"].startswith("3.1")
    for path in (
        "/labs/{lab}/submit",
        "/instructor/labs/{lab}/autograde",
        "/instructor/gradebook.csv",
    ):
        assert path in doc["paths"]


def test_individual_cycle(hub, released):
    lab = released
    tina, tom = api(hub, "tina"), api(hub, "tom", server=True)
    token = person(hub, "tom")

    # The learner sees the lab, with its due date.
    labs = {x["id"]: x for x in conforms(tom.get("/labs").json(), ["LearnerLab"])}
    assert labs[lab]["status"] == "new" and labs[lab]["due"].startswith("2099-01-01T16:00")

    # Fetch: the learner version arrives in ~/<lab>/, written by the learner's own server.
    r = tom.post(f"/labs/{lab}/fetch")
    assert r.status_code == 200, r.text
    assert conforms(r.json(), "FetchResult")["written"] == [f"{lab}/{NB}"]
    assert r.json()["kept"] == []
    fetched = read_file(hub, token, "tom", f"{lab}/{NB}")
    assert b"BEGIN HIDDEN TESTS" not in fetched and b"BEGIN SOLUTION" not in fetched
    home = Path(pwd.getpwnam(f"{TEST_USER_PREFIX}tom").pw_dir)
    assert (home / lab / NB).stat().st_uid == pwd.getpwnam(f"{TEST_USER_PREFIX}tom").pw_uid

    # Fetching again never overwrites the learner's work.
    mine = answered(fetched)
    put_file(hub, token, "tom", f"{lab}/{NB}", mine)
    r = tom.post(f"/labs/{lab}/fetch")
    assert r.json() == {"written": [], "kept": [f"{lab}/{NB}"], "server_url": "/user/tom/"}
    assert read_file(hub, token, "tom", f"{lab}/{NB}") == mine
    assert {x["id"]: x for x in tom.get("/labs").json()}[lab]["status"] == "fetched"

    # Check my work: visible tests only. The first answer fools the visible test
    # (it passes here) but not the hidden ones (it scores 0 after autograding).
    r = tom.post(f"/labs/{lab}/check")
    assert r.status_code == 200, r.text
    check = {i["grade_id"]: i for i in conforms(r.json(), "CheckResult")["items"]}
    assert check["test_approval_rates"]["passed"] is True
    assert check["test_disparity_ratio"]["points"] == 2.0
    assert "other = pd.DataFrame" not in r.text and "hidden" not in r.text.lower()

    # Submit twice: both kept, versioned, with the sha256 of what the server holds.
    first = tom.post(f"/labs/{lab}/submit")
    assert first.status_code == 201, first.text
    second = tom.post(f"/labs/{lab}/submit")
    assert second.status_code == 201
    a, b = conforms(first.json(), "SubmissionReceipt"), second.json()
    assert (a["version"], b["version"]) == (1, 2) and a["id"] != b["id"]
    assert a["late"] is False
    assert a["files"] == [{"path": NB, "sha256": hashlib.sha256(mine).hexdigest()}]
    digest = hashlib.sha256(f"{hashlib.sha256(mine).hexdigest()}  {NB}\n".encode()).hexdigest()
    assert a["sha256"] == digest
    listed = tom.get(f"/labs/{lab}/submissions").json()
    assert [s["id"] for s in listed] == [a["id"], b["id"]]
    for s in listed:
        stored = course_dir(hub) / "submissions" / lab / str(s["id"]) / NB
        assert stored.read_bytes() == mine

    # Feedback is not there before it is released.
    assert tom.get(f"/labs/{lab}/feedback").status_code == 404
    assert tom.get(f"/labs/{lab}/feedback.html").status_code == 404

    # The instructor sees who fetched and submitted.
    status = conforms(tina.get(f"/instructor/labs/{lab}/status").json(), ["OwnerStatus"])
    rows = {r["owner"]: r for r in status}
    assert rows["tom"]["submissions"] == 2 and rows["tom"]["fetched_at"]
    assert rows["theo"]["submissions"] == 0  # released to learners: every learner listed

    # Collect and autograde (grading engine, sandboxed), following the job.
    r = tina.post(f"/instructor/labs/{lab}/collect")
    assert r.status_code == 200 and "tom" in r.json()["owners"]
    r = tina.post(f"/instructor/labs/{lab}/autograde")
    assert r.status_code == 202, r.text
    conforms(r.json(), "Job")
    job = conforms(wait_job(tina, r.json()["job"]), "Job")
    assert job["state"] == "done" and job["done"] == job["total"] >= 1, job
    sub = conforms(tina.get(f"/instructor/labs/{lab}/submissions/tom").json(), "OwnerSubmission")
    items = {i["grade_id"]: i for i in sub["items"]}
    assert sub["submission"]["id"] == b["id"] and sub["status"] == "graded"
    assert items["test_approval_rates"]["score"] == 0.0  # the hidden tests caught it
    assert items["test_disparity_ratio"]["score"] == 2.0
    assert items["gap_meaning"]["rubric"]["levels"][2]["label"] == "Complete"
    assert "COURSE-TEST-ANSWER" in items["gap_meaning"]["source"]
    # The discussion answer, written in a new cell below the task as the lab asks, is kept.
    assert items["discuss_groups"]["source"] == DISCUSS

    # Manual grading: one item across every learner, then one learner's items.
    view = {
        i["grade_id"]: i
        for i in conforms(tina.get(f"/instructor/labs/{lab}/items").json(), ["Item"])
    }
    assert view["gap_meaning"]["kind"] == "manual" and view["gap_meaning"]["ungraded"] >= 1
    assert view["discuss_groups"]["task"] is True
    answers = tina.get(f"/instructor/labs/{lab}/items/gap_meaning/answers").json()
    conforms(answers, "ItemAnswers")
    tom_answer = next(x for x in answers["answers"] if x["owner"] == "tom")
    assert ANSWERS["gap_meaning"] in tom_answer["source"]
    answers = tina.get(f"/instructor/labs/{lab}/items/discuss_groups/answers").json()
    tom_answer = next(x for x in answers["answers"] if x["owner"] == "tom")
    assert tom_answer["source"] == DISCUSS
    r = tina.put(
        f"/instructor/labs/{lab}/grades/tom/gap_meaning",
        json={"level": 2, "comment": "A clear answer."},
    )
    assert r.status_code == 200, r.text
    assert (
        conforms(r.json(), "Grade")["points"] == 2.0
        and r.json()["level"] == 2
        and r.json()["grader"] == "tina"
    )
    r = tina.put(
        f"/instructor/labs/{lab}/grades/tom/discuss_groups",
        json={"points": 1, "level": 1, "comment": "Good choice."},
    )
    assert r.status_code == 200, r.text
    view = {i["grade_id"]: i for i in tina.get(f"/instructor/labs/{lab}/items").json()}
    assert view["gap_meaning"]["graded"] >= 1

    # Feedback release: the learner reads score, comments and the page.
    r = tina.post(f"/instructor/labs/{lab}/feedback/release")
    assert r.status_code == 200 and "tom" in conforms(r.json(), "FeedbackReleaseResult")["owners"]
    fb = tom.get(f"/labs/{lab}/feedback")
    assert fb.status_code == 200, fb.text
    data = conforms(fb.json(), "Feedback")
    assert data["score"] == 5.0 and data["max_score"] == 7.0
    got = {i["grade_id"]: i for i in data["items"]}
    assert got["gap_meaning"]["level"] == "Complete"
    assert got["gap_meaning"]["comment"] == "A clear answer."
    assert "other = pd.DataFrame" not in fb.text
    page = tom.get(f"/labs/{lab}/feedback.html")
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert "A clear answer." in page.text and "Total: 5 / 7" in page.text
    assert "HIDDEN" not in page.text and "other = pd.DataFrame" not in page.text
    assert {x["id"]: x for x in tom.get("/labs").json()}[lab]["status"] == "feedback"

    # Gradebook export, and the dashboard's data.
    table = conforms(
        tina.get("/instructor/gradebook", params={"lab": lab}).json(), "GradebookTable"
    )
    row = next(r for r in table["rows"] if r["username"] == "tom")
    assert row[f"{lab}:total"] == 5.0 and row[f"{lab}:gap_meaning"] == 2.0
    assert row["full_name"]  # from the roster, not an empty column
    assert table["headers"]["username"] == "Learner" and table["headers"][f"{lab}:total"] == "Total"
    assert "gap_meaning" in table["headers"][f"{lab}:gap_meaning"]  # the title, then the id
    assert not table["headers"][f"{lab}:gap_meaning"].startswith("gap_meaning")
    # Archive a learner (a test account): gone from the views, kept with its grades; restore.
    assert api(hub, "tom").post("/instructor/archive", json={"learner": "tom"}).status_code == 403
    archived = conforms(
        tina.post("/instructor/archive", json={"learner": "tom"}).json(), "Archived"
    )
    assert archived["learners"] == ["tom"]
    shown = tina.get("/instructor/gradebook", params={"lab": lab}).json()["rows"]
    assert "tom" not in {r["username"] for r in shown}
    everyone = tina.get("/instructor/gradebook", params={"lab": lab, "archived": "1"}).json()
    kept = next(r for r in everyone["rows"] if r["username"] == "tom")
    assert kept[f"{lab}:total"] == 5.0
    assert "tom," not in tina.get("/instructor/gradebook.csv", params={"lab": lab}).text
    tina.post("/instructor/archive", json={"learner": "tom", "archived": False})
    assert tina.get("/instructor/archive").json() == {"labs": [], "learners": []}
    bad = tina.post("/instructor/archive", json={"learner": "nobody-here"})
    assert bad.status_code == 404
    assert tina.post("/instructor/archive", json={}).status_code == 400
    text = tina.get("/instructor/gradebook.csv", params={"lab": lab}).text
    rows = {r["username"]: r for r in csv.DictReader(io.StringIO(text))}
    assert rows["tom"][f"{lab}:total"] == "5"
    dash = conforms(tina.get(f"/instructor/labs/{lab}/dashboard").json(), "Dashboard")
    conforms(tina.get("/instructor/labs").json(), ["InstructorLab"])
    conforms(tina.get("/instructor/releases").json(), ["Release"])
    conforms(tom.get("/me").json(), "Me")
    assert dash["submitted"] >= 1 and sum(dash["score_distribution"]["counts"]) >= 1
    means = {m["grade_id"]: m for m in dash["mean_per_item"]}
    assert means["test_approval_rates"]["mean"] == 0.0
    assert dash["submissions_over_time"][0]["submitted"] == 1


def test_a_release_names_its_track(hub):
    """Guided by default; a release to the master's students can give the analyst version."""
    tina, tom = api(hub, "tina"), api(hub, "tom", server=True)
    token = person(hub, "tom")
    default = make_lab(hub, "guided-track")
    r = tina.post("/instructor/releases", json={"lab": default})
    assert r.status_code == 201 and r.json()["track"] == "guided"
    assert tom.post(f"/labs/{default}/fetch").status_code == 200
    guided = read_file(hub, token, "tom", f"{default}/{NB}")
    assert b"return df.groupby(...)" in guided and b"raise NotImplementedError()" not in guided
    assert b"# A worked example" in guided
    lab = make_lab(hub, "analyst-track")
    bad = tina.post("/instructor/releases", json={"lab": lab, "track": "expert"})
    assert bad.status_code == 400 and "unknown track" in bad.json()["error"]
    r = tina.post("/instructor/releases", json={"lab": lab, "track": "analyst"})
    assert r.status_code == 201 and conforms(r.json(), "Release")["track"] == "analyst"
    assert tom.post(f"/labs/{lab}/fetch").status_code == 200
    fetched = read_file(hub, token, "tom", f"{lab}/{NB}")
    assert b"raise NotImplementedError()" in fetched and b"return df.groupby(...)" not in fetched
    assert b"# A worked example" not in fetched  # the guided track's examples stay there


def test_service_directory_is_not_shared_with_learners(hub, released):
    """The service keeps its files root-only: learners' servers cannot even list them."""
    folder = course_dir(hub)
    info = folder.stat()
    assert info.st_uid == 0 and stat.S_IMODE(info.st_mode) == 0o700
    token = person(hub, "tom", server=True)
    kernel = Kernel(hub, "tom", token)
    try:
        code = f"import os\ntry:\n    os.listdir({str(folder)!r})\n"
        out = kernel.execute(code + "except Exception as e:\n    print(type(e).__name__)")
    finally:
        kernel.shutdown()
    assert out["stdout"].strip() == "PermissionError", out


@pytest.fixture(scope="module")
def team_lab(hub):
    lab = make_lab(hub, TEAM_LAB, team=True)
    r = api(hub, "tina").post("/instructor/releases", json={"lab": lab})
    assert r.status_code == 201, r.text
    return lab


def test_team_cycle(hub, team_lab):
    """A team lab goes to the team's workspace; one submission grades every member."""
    lab = team_lab
    tina, tom, tara = api(hub, "tina"), api(hub, "tom"), api(hub, "tara")
    spawn(hub, "team-t1")  # the team's shared server (members may start it too)

    listed = {x["id"]: x for x in tara.get("/labs").json()}[lab]
    assert listed["team"] is True and listed["team_name"] == "t1"
    # A learner in no team is not offered the team lab (she could neither get nor submit it).
    assert lab not in {x["id"] for x in api(hub, "theo").get("/labs").json()}
    r = tom.post(f"/labs/{lab}/fetch")
    assert r.status_code == 200, r.text
    assert r.json()["server_url"] == "/user/team-t1/" and r.json()["written"]

    # Tara edits the shared notebook through the workspace server, then submits for the team.
    token = person(hub, "tara")
    mine = answered(read_file(hub, token, "team-t1", f"{lab}/{NB}"))
    put_file(hub, token, "team-t1", f"{lab}/{NB}", mine)
    r = tara.post(f"/labs/{lab}/submit")
    assert r.status_code == 201, r.text
    assert r.json()["submitted_by"] == "tara"
    assert [s["id"] for s in tom.get(f"/labs/{lab}/submissions").json()] == [r.json()["id"]]

    rows = {r["owner"]: r for r in tina.get(f"/instructor/labs/{lab}/status").json()}
    assert rows["t1"]["kind"] == "team" and rows["t1"]["members"] == ["tara", "tom"]
    assert tina.post(f"/instructor/labs/{lab}/collect").json()["owners"] == ["t1"]
    job = wait_job(tina, tina.post(f"/instructor/labs/{lab}/autograde").json()["job"])
    assert job["state"] == "done" and job["done"] == 1, job
    r = tina.put(f"/instructor/labs/{lab}/grades/t1/gap_meaning", json={"level": 1})
    assert r.status_code == 200 and r.json()["points"] == 1.0
    assert tina.post(f"/instructor/labs/{lab}/feedback/release").json()["owners"] == ["t1"]

    # Both members read the team's feedback; the export gives both the score.
    for member in (tom, tara):
        fb = member.get(f"/labs/{lab}/feedback").json()
        assert fb["score"] == 3.0, fb
        assert member.get(f"/labs/{lab}/feedback.html").status_code == 200
    r = api(hub, "theo").get(f"/labs/{lab}/feedback")  # theo is in no team
    assert r.status_code == 409 and "you are not in a team" in r.json()["error"], r.text
    table = tina.get("/instructor/gradebook", params={"lab": lab}).json()
    totals = {r["username"]: r[f"{lab}:total"] for r in table["rows"]}
    assert totals["tom"] == totals["tara"] == 3.0


def test_course_files_are_root_only_on_disk(hub, released):
    """Everything the service stored is under its 0700 directory, owned by root."""
    for path in course_dir(hub).rglob("*"):
        assert path.stat().st_uid == 0, path
    assert os.stat(course_dir(hub)).st_mode & 0o077 == 0
