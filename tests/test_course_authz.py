"""Who may do what in the course service: decided on the server from hub groups.

Every instructor endpoint (all of them, read from ``openapi.yaml``) is refused
to a learner; a learner never reaches another learner's submissions,
feedback or files, nor a team's workspace they are not in.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import yaml
from coursetest import answered, api, contents, make_lab, person, put_file, read_file, wait_job

pytestmark = pytest.mark.hub

LAB = "authz-intro"
NB = "approval-rates.ipynb"
OPENAPI = Path(__file__).parents[1] / "hub" / "course" / "openapi.yaml"


def endpoints(prefix):
    """Return (method, path) of every documented endpoint under ``prefix``, params filled."""
    doc = yaml.safe_load(OPENAPI.read_text())
    values = {"{lab}": LAB, "{owner}": "tom", "{grade_id}": "gap_meaning", "{job}": "abc123"}
    out = []
    for path, ops in doc["paths"].items():
        if not path.startswith(prefix):
            continue
        for method in ops:
            if method in ("get", "post", "put", "delete", "patch"):
                for key, value in values.items():
                    path = path.replace(key, value)
                out.append((method.upper(), path))
    return out


INSTRUCTOR = endpoints("/instructor")
LEARNER = endpoints("/labs")


@pytest.fixture(scope="module")
def graded_for_tom(hub):
    """The lab released, tom's submission collected, graded and its feedback released."""
    lab = make_lab(hub, LAB)
    tina, tom = api(hub, "tina"), api(hub, "tom", server=True)
    assert tina.post("/instructor/releases", json={"lab": lab}).status_code == 201
    assert tom.post(f"/labs/{lab}/fetch").status_code == 200
    token = person(hub, "tom")
    put_file(
        hub, token, "tom", f"{lab}/{NB}", answered(read_file(hub, token, "tom", f"{lab}/{NB}"))
    )
    assert tom.post(f"/labs/{lab}/submit").status_code == 201
    assert tina.post(f"/instructor/labs/{lab}/collect").status_code == 200
    job = wait_job(tina, tina.post(f"/instructor/labs/{lab}/autograde").json()["job"])
    assert job["state"] == "done", job
    assert tina.post(f"/instructor/labs/{lab}/feedback/release").status_code == 200
    assert tom.get(f"/labs/{lab}/feedback").status_code == 200
    return lab


def test_instructor_endpoints_are_documented():
    assert len(INSTRUCTOR) >= 15 and len(LEARNER) >= 7


@pytest.mark.parametrize(("method", "path"), INSTRUCTOR)
def test_every_instructor_endpoint_is_refused_to_a_learner(hub, graded_for_tom, method, path):
    theo = api(hub, "theo")
    body = {"lab": LAB} if path.endswith("/releases") else {"points": 1}
    r = theo.call(method, path, json=body if method in ("POST", "PUT") else None)
    assert r.status_code == 403, (method, path, r.status_code, r.text)
    assert r.json()["error"]
    # The instructor is let through: the data, or "not found" for the made-up job id.
    if method == "GET":
        r = api(hub, "tina").call(method, path)
        assert r.status_code == (404 if "/jobs/" in path else 200), (path, r.status_code, r.text)


@pytest.mark.parametrize(("method", "path"), INSTRUCTOR + LEARNER)
def test_every_endpoint_needs_a_hub_login(hub, method, path):
    url = f"{hub.url}/services/course/api{path}"
    r = requests.request(method, url, headers={"Authorization": "token not-a-token"}, timeout=30)
    assert r.status_code == 403, (method, path, r.status_code)
    r = requests.request(method, url, allow_redirects=False, timeout=30)
    assert r.status_code == 403, (method, path, r.status_code)


def test_learner_gets_only_their_own_work(hub, graded_for_tom):
    lab = graded_for_tom
    theo = api(hub, "theo", server=True)
    # Nothing of tom's reaches theo, whatever the query says.
    assert theo.get(f"/labs/{lab}/submissions").json() == []
    assert theo.get(f"/labs/{lab}/submissions", params={"owner": "tom"}).json() == []
    assert theo.get(f"/labs/{lab}/feedback").status_code == 404
    assert theo.get(f"/labs/{lab}/feedback", params={"owner": "tom"}).status_code == 404
    assert theo.get(f"/labs/{lab}/feedback.html").status_code == 404
    assert theo.get(f"/instructor/labs/{lab}/submissions/tom").status_code == 403
    labs = {x["id"]: x for x in theo.get("/labs").json()}
    assert labs[lab]["status"] == "new" and labs[lab]["score"] is None


def test_learner_cannot_read_another_learners_files(hub, graded_for_tom):
    lab = graded_for_tom
    theo = person(hub, "theo", server=True)
    r = contents(hub, theo, "GET", "tom", f"{lab}/{NB}")
    assert r.status_code == 403, r.status_code
    assert b"COURSE-TEST-ANSWER" not in r.content


def test_team_workspace_refused_to_non_members(hub):
    from hubtest import spawn

    spawn(hub, "team-t1")
    theo = person(hub, "theo")
    r = contents(hub, theo, "GET", "team-t1", "")
    assert r.status_code == 403, r.status_code
    tara = person(hub, "tara")
    assert contents(hub, tara, "GET", "team-t1", "").status_code == 200


def test_lab_released_to_another_group_is_invisible(hub):
    lab = make_lab(hub, "authz-hidden")
    tina, theo = api(hub, "tina"), api(hub, "theo", server=True)
    r = tina.post("/instructor/releases", json={"lab": lab, "group": "instructors"})
    assert r.status_code == 201
    assert lab not in {x["id"] for x in theo.get("/labs").json()}
    for action in ("fetch", "check", "submit"):
        r = theo.post(f"/labs/{lab}/{action}")
        assert r.status_code == 404, (action, r.text)
    assert theo.get(f"/labs/{lab}/feedback").status_code == 404


def test_who_am_i_comes_from_the_hub(hub):
    assert api(hub, "theo").get("/me").json() == {
        "name": "theo",
        "instructor": False,
        "learner": True,
        "teams": [],
    }
    assert api(hub, "tina").get("/me").json()["instructor"] is True
