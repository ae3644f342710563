"""Bad input to the course service: clear errors, nothing lost, earlier submissions intact."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from pathlib import Path

import pytest
import requests
from coursetest import answered, api, make_lab, person, put_file, read_file

pytestmark = pytest.mark.hub

LAB = "bad-intro"
NB = "approval-rates.ipynb"


def stored(hub, lab, sub_id):
    folder = Path(hub.settings["paths"]["state_dir"]) / "course" / "submissions" / lab
    return (folder / str(sub_id) / NB).read_bytes()


@pytest.fixture(scope="module")
def first(hub):
    """Theo has fetched the lab and submitted one good notebook."""
    lab = make_lab(hub, LAB)
    tina, theo = api(hub, "tina"), api(hub, "theo", server=True)
    r = tina.post("/instructor/releases", json={"lab": lab, "due": "2099-06-01T12:00:00Z"})
    assert r.status_code == 201, r.text
    assert theo.post(f"/labs/{lab}/fetch").status_code == 200
    token = person(hub, "theo")
    good = answered(read_file(hub, token, "theo", f"{lab}/{NB}"))
    put_file(hub, token, "theo", f"{lab}/{NB}", good)
    r = theo.post(f"/labs/{lab}/submit")
    assert r.status_code == 201, r.text
    return {"lab": lab, "good": good, "receipt": r.json()}


def intact(hub, first, *, at_least=1):
    """Every earlier submission is still listed and its stored file unchanged."""
    theo = api(hub, "theo")
    subs = theo.get(f"/labs/{first['lab']}/submissions").json()
    assert subs[0] == first["receipt"]
    assert len(subs) >= at_least
    for s in subs:
        data = stored(hub, first["lab"], s["id"])
        assert hashlib.sha256(data).hexdigest() == s["files"][0]["sha256"]
    return subs


def restore(hub, first):
    put_file(hub, person(hub, "theo"), "theo", f"{first['lab']}/{NB}", first["good"])


@pytest.mark.parametrize(
    "content",
    [
        b"this is not a notebook",
        b'{"cells": "none", "nbformat": 4}',
        b'{"nbformat": 3, "worksheets": []}',
        b"[1, 2, 3]",
        b"\x00\x01\x02binary",
    ],
    ids=["text", "bad-cells", "nbformat3", "json-list", "binary"],
)
def test_submission_that_is_not_a_notebook(hub, first, content):
    theo = api(hub, "theo")
    put_file(hub, person(hub, "theo"), "theo", f"{first['lab']}/{NB}", content)
    try:
        for action in ("submit", "check"):
            r = theo.post(f"/labs/{first['lab']}/{action}")
            assert r.status_code == 400, (action, r.text)
            assert r.json()["error"].startswith("not a notebook: "), (action, r.text)
    finally:
        restore(hub, first)
    intact(hub, first)


def test_notebook_of_200_mb_is_refused_unread(hub, first):
    """A 200 MB notebook in the learner's folder: 413 from its size, quickly."""
    from hubtest import Kernel

    lab = first["lab"]
    theo = api(hub, "theo")
    kernel = Kernel(hub, "theo", person(hub, "theo"))
    try:
        out = kernel.execute(
            "import os\n"
            f"with open(os.path.expanduser('~/{lab}/{NB}'), 'wb') as f:\n"
            "    for _ in range(200):\n"
            "        f.write(b' ' * (1 << 20))\n"
            f"print(os.path.getsize(os.path.expanduser('~/{lab}/{NB}')))"
        )
        assert out["stdout"].strip() == str(200 << 20), out
        for action in ("submit", "check"):
            r = theo.post(f"/labs/{lab}/{action}", timeout=60)
            assert r.status_code == 413, (action, r.text)
            assert "MiB" in r.json()["error"]
    finally:
        kernel.shutdown()
        restore(hub, first)
    intact(hub, first)


def test_upload_of_200_mb_is_refused(hub, first):
    """The API reads no uploads: a large request body gets 413 without being read.

    The hub's proxy streams bodies above 1 MiB (hub/_proxy.py), so 50 MB and
    200 MB bodies both get the service's own 413 from their Content-Length;
    sent straight to the service, too.
    """
    theo = api(hub, "theo")
    for size in (50 << 20, 200 << 20):
        r = theo.post(f"/labs/{first['lab']}/submit", data=b"0" * size, timeout=120)
        assert r.status_code == 413, (size, r.text[:300])
        assert "too large" in r.json()["error"]
    direct = f"http://127.0.0.1:{hub.settings['course']['port']}/services/course/api"
    try:
        r = requests.post(
            f"{direct}/labs/{first['lab']}/submit",
            data=b"0" * (200 << 20),
            headers=theo.headers,
            timeout=120,
        )
    except requests.ConnectionError:
        pytest.fail("the service dropped the connection instead of answering 413")
    assert r.status_code == 413, r.text[:300]
    intact(hub, first)


@pytest.mark.parametrize(
    "lab",
    ["..%2F..%2Fetc", "%2E%2E%2Fpasswd", "..%2Fbad-intro", "Bad-Intro", "a" * 64, "x%00y", "-x"],
)
def test_lab_id_with_path_traversal_or_bad_characters(hub, first, lab):
    theo, tina = api(hub, "theo"), api(hub, "tina")
    for action in ("fetch", "check", "submit"):
        r = theo.post(f"/labs/{lab}/{action}")
        assert r.status_code == 400, (lab, action, r.status_code, r.text)
        assert "lab id" in r.json()["error"]  # the proxy may decode %2F: still a bad lab id
    assert theo.get(f"/labs/{lab}/feedback").status_code == 400
    for path in ("status", "dashboard", "items", "submissions/theo"):
        r = tina.get(f"/instructor/labs/{lab}/{path}")
        assert r.status_code == 400, (lab, path, r.status_code)
    assert tina.post(f"/instructor/labs/{lab}/collect").status_code == 400


@pytest.mark.parametrize("lab", ["../etc", "../../root", "bad-intro/../x", "", 7, None])
def test_release_of_a_bad_lab_id(hub, lab):
    r = api(hub, "tina").post("/instructor/releases", json={"lab": lab})
    assert r.status_code == 400, (lab, r.text)
    r = api(hub, "tina").get("/instructor/gradebook", params={"lab": "../x"})
    assert r.status_code == 400


@pytest.mark.parametrize(
    "due",
    [
        "tomorrow",
        "2025-03-01T17:00:00",
        "2025-03-01",
        "2025-13-01T00:00:00+00:00",
        "01/03/2025 17:00 CET",
        12345,
        ["2025-03-01T17:00:00Z"],
    ],
)
def test_due_date_in_a_wrong_format(hub, first, due):
    tina = api(hub, "tina")
    r = tina.post("/instructor/releases", json={"lab": first["lab"], "due": due})
    assert r.status_code == 400, (due, r.text)
    assert "ISO 8601" in r.json()["error"] or "time zone" in r.json()["error"]
    releases = [x for x in tina.get("/instructor/releases").json() if x["lab"] == first["lab"]]
    assert [x["due"] for x in releases] == ["2099-06-01T12:00:00+00:00"]


def test_double_submit_in_the_same_second_keeps_both(hub, first):
    theo = api(hub, "theo")
    results = []

    def submit():
        results.append(theo.post(f"/labs/{first['lab']}/submit"))

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [201, 201], [r.text for r in results]
    a, b = (r.json() for r in results)
    assert a["id"] != b["id"] and a["version"] != b["version"]
    subs = intact(hub, first, at_least=3)
    assert {a["id"], b["id"]} <= {s["id"] for s in subs}

    # Two submissions stamped with the very same instant: both kept, apart.
    from ai4scale.hub.course import Course, Owner, store_submission
    from ai4scale.hub.course._labs import applicable_releases
    from ai4scale.hub.course._people import Person

    course = Course.from_settings(hub.settings)
    try:
        when = dt.datetime.now(dt.UTC).replace(microsecond=0)
        owner = Owner("learner", "theo", "theo", "theo")
        theo_p = Person("theo", frozenset({"learners"}))
        releases = applicable_releases(course, first["lab"], theo_p)
        infos = [
            store_submission(
                course, first["lab"], owner, {NB: first["good"]}, releases=releases, when=when
            )
            for _ in range(2)
        ]
    finally:
        course.close()
    assert infos[0].submitted_at == infos[1].submitted_at
    assert infos[0].id != infos[1].id and infos[1].version == infos[0].version + 1
    subs = intact(hub, first, at_least=5)
    assert {i.id for i in infos} <= {s["id"] for s in subs}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"lab": "bad-intro", "colour": "red"}', "unknown field"),
        (b'{"group": "learners"}', "lab"),
        (b'{"lab": "bad-intro", "group": "../x"}', "group"),
    ],
)
def test_malformed_release_bodies(hub, first, body, message):
    r = api(hub, "tina").post("/instructor/releases", data=body)
    assert r.status_code == 400, r.text
    assert message in r.json()["error"]


@pytest.mark.parametrize(
    ("grade_id", "body", "status"),
    [
        ("gap_meaning", {"level": 3}, 400),
        ("gap_meaning", {"level": -1}, 400),
        ("gap_meaning", {"level": "high"}, 400),
        ("gap_meaning", {"points": 2.5}, 400),
        ("gap_meaning", {"points": -1}, 400),
        ("gap_meaning", {"points": "two"}, 400),
        ("gap_meaning", {"points": True}, 400),
        ("gap_meaning", {"points": 1, "note": "x"}, 400),
        ("gap_meaning", {"comment": 5}, 400),
        ("test_disparity_ratio", {"level": 0}, 400),
        ("no_such_item", {"points": 1}, 404),
        ("..%2Fx", {"points": 1}, 400),
    ],
)
def test_bad_grades(hub, first, grade_id, body, status):
    tina = api(hub, "tina")
    assert tina.post(f"/instructor/labs/{first['lab']}/collect").status_code == 200
    r = tina.put(f"/instructor/labs/{first['lab']}/grades/theo/{grade_id}", json=body)
    assert r.status_code == status, (body, r.text)
    assert r.json()["error"]


def test_grade_for_someone_without_a_collected_submission(hub, first):
    r = api(hub, "tina").put(
        f"/instructor/labs/{first['lab']}/grades/tara/gap_meaning", json={"points": 1}
    )
    assert r.status_code == 404


def test_late_submission_is_flagged(hub):
    lab = make_lab(hub, "late-intro")
    tina, theo = api(hub, "tina"), api(hub, "theo", server=True)
    r = tina.post("/instructor/releases", json={"lab": lab, "due": "2020-01-01T00:00:00+01:00"})
    assert r.status_code == 201
    assert theo.post(f"/labs/{lab}/fetch").status_code == 200
    r = theo.post(f"/labs/{lab}/submit")
    assert r.status_code == 201 and r.json()["late"] is True
    rows = {x["owner"]: x for x in tina.get(f"/instructor/labs/{lab}/status").json()}
    assert rows["theo"]["late"] is True
    assert tina.get(f"/instructor/labs/{lab}/dashboard").json()["late"] == 1


def test_nothing_to_submit_and_server_not_running(hub, first):
    from hubtest import spawn, stop

    lab = make_lab(hub, "empty-intro")
    tina, theo = api(hub, "tina"), api(hub, "theo", server=True)
    assert tina.post("/instructor/releases", json={"lab": lab}).status_code == 201
    r = theo.post(f"/labs/{lab}/submit")
    assert r.status_code == 400 and "nothing to submit" in r.json()["error"]
    assert theo.post(f"/labs/{lab}/check").status_code == 400
    stop(hub, "theo")
    try:
        for action in ("fetch", "submit", "check"):
            r = theo.post(f"/labs/{lab}/{action}")
            assert r.status_code == 409 and "not running" in r.json()["error"], r.text
    finally:
        spawn(hub, "theo")
    intact(hub, first)


def test_unknown_lab_and_endpoint(hub):
    theo, tina = api(hub, "theo"), api(hub, "tina")
    assert theo.post("/labs/no-such-lab/fetch").status_code == 404
    assert tina.post("/instructor/releases", json={"lab": "no-such-lab"}).status_code == 404
    assert tina.get("/instructor/labs/no-such-lab/status").status_code == 404
    assert tina.get("/instructor/jobs/ffff").status_code == 404
    r = theo.get("/no/such/endpoint")
    assert r.status_code == 404 and r.json()["error"]
