"""The gradebook, against SQLite and a real PostgreSQL.

``./sandbox test`` starts PostgreSQL and exports AI4SCALE_TEST_POSTGRES_URL;
a throwaway database is created for the session and dropped afterwards.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import io
import json
import os
import subprocess
import sys
import textwrap
import time
import uuid

import pytest
from ai4scale.grading import cli_gradebook
from ai4scale.grading.gradebook import (
    Base,
    Gradebook,
    ItemResult,
    Result,
    Submission,
    alembic_config,
    export_csv,
    export_json,
    make_engine,
    normalize_url,
)
from ai4scale.hub._errors import UserError
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

UTC = dt.UTC
LAB = {
    "lab.ipynb": [
        {"grade_id": "q1", "points": 2},
        {"grade_id": "q2", "points": 3},
        {"grade_id": "essay", "points": 5, "kind": "manual", "task": True},
    ]
}


@pytest.fixture(scope="session")
def pg_base():
    """URL of a throwaway PostgreSQL database for the session."""
    base = os.environ.get("AI4SCALE_TEST_POSTGRES_URL")
    if not base:
        if os.environ.get("CI"):
            pytest.fail("AI4SCALE_TEST_POSTGRES_URL is unset: run the suite with ./sandbox test")
        pytest.skip("no PostgreSQL: ./sandbox test starts one")
    import psycopg

    name = "ai4scale_gradebook_" + uuid.uuid4().hex[:8]
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(base + "/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _drop_everything(url):
    engine = make_engine(url)
    with engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS gradebook_alembic_version"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    """An empty gradebook database: a SQLite file, or the session's PostgreSQL one."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gradebook.sqlite'}"
        return
    pg = request.getfixturevalue("pg_base")
    _drop_everything(pg)
    yield pg
    _drop_everything(pg)


@pytest.fixture
def gb(url):
    with Gradebook(url) as book:
        book.upgrade()
        book.upsert_lab("lab-1", title="Fairness", notebooks=LAB)
        yield book


def test_postgresql_urls_use_psycopg3():
    assert normalize_url("postgresql://u:p@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg2://u@h/db").drivername == "postgresql+psycopg2"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite"


def test_migrations_agree_with_models(url):
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    book = Gradebook(url)
    assert book.current_revision() is None
    book.upgrade()
    assert book.current_revision() == "0004"
    with book.engine.connect() as conn:
        opts = {"compare_type": True, "version_table": "gradebook_alembic_version"}
        ctx = MigrationContext.configure(conn, opts=opts)
        assert compare_metadata(ctx, Base.metadata) == []
    # The downgrade path works too, and upgrading again is possible.
    command.downgrade(alembic_config(book.engine), "base")
    tables = set(inspect(book.engine).get_table_names()) - {"gradebook_alembic_version"}
    assert tables == set()
    book.upgrade()
    assert set(inspect(book.engine).get_table_names()) >= set(Base.metadata.tables)
    book.close()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    book = Gradebook(f"sqlite:///{tmp_path / 'gb.sqlite'}")
    book.upgrade()
    with book.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
    with pytest.raises(IntegrityError):  # the foreign key is enforced
        with book.session() as s, s.begin():
            s.add(Result(submission_id=999, item_id=999, max_points=1, flags={}))
    book.close()


def test_submissions_are_versioned_per_learner_and_team(gb):
    gb.upsert_team("t1", members=["bob", "cid"])
    a1 = gb.add_submission("lab-1", learner="ann", files={"lab.ipynb": b"one"})
    a2 = gb.add_submission("lab-1", learner="ann", files={"lab.ipynb": b"two"})
    b1 = gb.add_submission("lab-1", learner="bob", files={"lab.ipynb": b"one"})
    t1 = gb.add_submission("lab-1", team="t1", files={"lab.ipynb": b"team", "data.csv": b"x"})
    assert (a1.version, a2.version, b1.version, t1.version) == (1, 2, 1, 1)
    assert a2.files == {"lab.ipynb": hashlib.sha256(b"two").hexdigest()}
    assert t1.owner_kind == "team" and set(t1.files) == {"lab.ipynb", "data.csv"}
    assert a1.status == "submitted" and a1.submitted_at.tzinfo is not None

    current = {(x.owner, x.version) for x in gb.submissions("lab-1")}
    assert current == {("ann", 2), ("bob", 1), ("t1", 1)}
    assert len(gb.submissions("lab-1", current_only=False)) == 4

    with pytest.raises(ValueError, match="exactly one"):
        gb.add_submission("lab-1", learner="ann", team="t1", files={})
    with pytest.raises(KeyError):
        gb.add_submission("no-such-lab", learner="ann", files={})
    # The database itself refuses a second version 2 for ann.
    with pytest.raises(IntegrityError):
        with gb.session() as s, s.begin():
            s.add(
                Submission(
                    lab_id=s.get(Submission, a2.id).lab_id,
                    learner_id=s.get(Submission, a2.id).learner_id,
                    version=2,
                    flags={},
                )
            )


def test_late_flag_and_dedupe(gb, tmp_path):
    due = dt.datetime(2030, 1, 1, 12, tzinfo=UTC)
    gb.upsert_lab("lab-1", title="Fairness", notebooks=LAB, due_at=due)
    nb = tmp_path / "lab.ipynb"
    nb.write_bytes(b'{"cells": []}')
    early = gb.add_submission(
        "lab-1", learner="ann", files={"lab.ipynb": nb}, submitted_at=due - dt.timedelta(hours=1)
    )
    assert early.late is False
    assert early.files["lab.ipynb"] == hashlib.sha256(b'{"cells": []}').hexdigest()
    same = gb.add_submission(
        "lab-1", learner="ann", files={"lab.ipynb": nb}, submitted_at=due, dedupe=True
    )
    assert same == early  # the same files: no new version
    late = gb.add_submission(
        "lab-1", learner="ann", files={"lab.ipynb": b"x"}, submitted_at=due + dt.timedelta(1)
    )
    assert late.late is True and late.version == 2
    with pytest.raises(ValueError, match="naive"):
        gb.add_submission("lab-1", learner="ann", files={}, submitted_at=dt.datetime(2030, 1, 1))


def test_recording_results_is_idempotent_and_atomic(gb):
    sub = gb.add_submission("lab-1", learner="ann", files={"lab.ipynb": b"a"})
    gb.record_results(sub.id, [ItemResult("q1", 0.0, failure="AssertionError")])
    gb.set_manual_score(sub.id, "q1", 1.5, comments="close", grader="tina")
    gb.record_results(
        sub.id,
        [ItemResult("q1", 2.0, flags={"edited-locked-cell": True}), {"grade_id": "q2", "score": 3}],
        flags={"tampered": False},
    )
    gb.record_results(sub.id, [ItemResult("q2", 1.0)])
    with gb.session() as s:
        rows = {r.item.grade_id: r for r in s.scalars(select(Result))}
        status = s.get(Submission, sub.id).status
    assert set(rows) == {"q1", "q2"}  # one row per item, however often recorded
    assert rows["q1"].auto_score == 2.0 and rows["q1"].failure == ""
    assert rows["q1"].flags == {"edited-locked-cell": True}
    assert rows["q1"].manual_score == 1.5 and rows["q1"].comments == "close"  # kept
    assert rows["q2"].auto_score == 1.0 and rows["q2"].max_points == 3.0
    assert status == "graded"

    # One transaction per submission: a bad item leaves nothing half-recorded.
    other = gb.add_submission("lab-1", learner="bob", files={"lab.ipynb": b"b"})
    with pytest.raises(KeyError, match="nope"):
        gb.record_results(other.id, [ItemResult("q1", 2.0), ItemResult("nope", 1.0)])
    assert gb.scores("lab-1")[1]["items"] == {}
    assert gb.submissions("lab-1")[1].status == "submitted"

    with pytest.raises(ValueError, match="not in"):
        gb.set_manual_score(sub.id, "essay", 6)


def test_resume_sees_graded_and_rejected_submissions(gb):
    gb.upsert_lab("lab-2", notebooks=LAB)
    subs = [
        gb.add_submission("lab-1", learner=f"l{i}", files={"lab.ipynb": bytes([i])})
        for i in range(4)
    ]
    other = gb.add_submission("lab-2", learner="l0", files={"lab.ipynb": b"0"})
    assert gb.graded_submission_ids("lab-1") == set()
    gb.record_results(subs[0].id, [ItemResult("q1", 2)])
    gb.record_results(subs[2].id, [], status="rejected", message="not a notebook")
    gb.record_result(subs[3].id, ItemResult("q1", 1))  # one item: not finished yet
    gb.record_results(other.id, [ItemResult("q1", 2)])
    assert gb.graded_submission_ids("lab-1") == {subs[0].id, subs[2].id}
    pending = gb.submissions("lab-1", status="submitted")
    assert [x.id for x in pending] == [subs[1].id, subs[3].id]


def test_upsert_lab_keeps_items_with_results(gb):
    sub = gb.add_submission("lab-1", learner="ann", files={})
    gb.record_results(sub.id, [ItemResult("q1", 2)])
    changed = {"lab.ipynb": [{"grade_id": "q1", "points": 4}, {"grade_id": "q2", "points": 3}]}
    with pytest.raises(ValueError, match="'q1' has recorded results"):
        gb.upsert_lab("lab-1", notebooks={"lab.ipynb": [{"grade_id": "q2", "points": 3}]})
    gb.upsert_lab("lab-1", notebooks=changed)  # removes "essay", which has no results
    assert gb.scores("lab-1")[0]["max_total"] == 7
    assert gb.scores("lab-1")[0]["items"]["q1"]["score"] == 2
    with pytest.raises(ValueError, match="duplicated"):
        gb.upsert_lab("lab-1", notebooks={"lab.ipynb": changed["lab.ipynb"] * 2})


def _export(book, fmt="csv"):
    out = io.StringIO()
    (export_csv if fmt == "csv" else export_json)(book, out)
    return out.getvalue()


def test_export_expands_teams_and_prefers_manual_scores(gb):
    gb.upsert_lab("lab-0", notebooks={"a.ipynb": [{"grade_id": "q1", "points": 1}]})
    gb.upsert_learner("ann", full_name="Ann Ávila")
    gb.upsert_learner("dan", full_name="Dan, Jr.")  # never submits
    gb.upsert_team("t1", members=["bob", "cid"])
    t0 = dt.datetime(2030, 1, 1, tzinfo=UTC)
    ann = gb.add_submission("lab-1", learner="ann", files={"lab.ipynb": b"a"}, submitted_at=t0)
    team = gb.add_submission("lab-1", team="t1", files={"lab.ipynb": b"t"}, submitted_at=t0)
    # cid also submitted alone, earlier: the team's newer submission counts for cid.
    cid = gb.add_submission(
        "lab-1", learner="cid", files={"lab.ipynb": b"c"}, submitted_at=t0 - dt.timedelta(1)
    )
    gb.record_results(
        ann.id,
        [ItemResult("q1", 2), ItemResult("q2", 0.5)],
        flags={"tampered": "check cell 3 changed", "review": {"lab.ipynb": "hand-written =="}},
    )
    gb.record_results(team.id, [ItemResult("q1", 1), ItemResult("q2", 3)])
    gb.record_results(cid.id, [ItemResult("q1", 0), ItemResult("q2", 0)])
    gb.set_manual_score(team.id, "q1", 2)  # overrides the automatic 1
    gb.set_manual_score(team.id, "essay", 4.25)

    rows = list(csv.reader(io.StringIO(_export(gb))))
    assert rows == [
        ["username", "full_name", "lab-0:total", "lab-0:flags", "lab-0:q1"]
        + ["lab-1:total", "lab-1:flags", "lab-1:q1", "lab-1:q2", "lab-1:essay"],
        ["ann", "Ann Ávila", "", "", "", "2.5", "tampered; to review", "2", "0.5", ""],
        ["bob", "", "", "", "", "9.25", "", "2", "3", "4.25"],
        ["cid", "", "", "", "", "9.25", "", "2", "3", "4.25"],
        ["dan", "Dan, Jr.", "", "", "", "", "", "", "", ""],
    ]
    data = json.loads(_export(gb, "json"))
    assert data["rows"][3] == {
        "username": "dan",
        "full_name": "Dan, Jr.",
        "lab-0:total": None,
        "lab-0:flags": "",
        "lab-0:q1": None,
        "lab-1:total": None,
        "lab-1:flags": "",
        "lab-1:q1": None,
        "lab-1:q2": None,
        "lab-1:essay": None,
    }
    assert data["rows"][1]["lab-1:essay"] == 4.25


def _cli(*argv):
    parser = argparse.ArgumentParser(prog="ai4scale")
    parser.add_argument("--config")
    cli_gradebook.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_cli_upgrade_and_export(tmp_path, url):
    out = tmp_path / "grades.csv"
    if url.startswith("sqlite"):
        with pytest.raises(UserError, match="gradebook upgrade"):
            _cli("gradebook", "export", "--db", url, "--output", str(out))
    assert _cli("gradebook", "upgrade", "--db", url) == 0
    assert _cli("gradebook", "upgrade", "--db", url) == 0  # idempotent
    with Gradebook(url) as book:
        book.upsert_lab("lab-1", notebooks=LAB)
        sub = book.add_submission("lab-1", learner="ann", files={})
        book.record_results(sub.id, [ItemResult("q1", 1)])
    assert _cli("gradebook", "export", "--format", "csv", "--db", url, "-o", str(out)) == 0
    assert out.read_text().splitlines() == [
        "username,full_name,lab-1:total,lab-1:flags,lab-1:q1,lab-1:q2,lab-1:essay",
        "ann,,1,,1,,",
    ]
    with pytest.raises(UserError, match="unknown lab"):
        _cli("gradebook", "export", "--db", url, "--lab", "nope", "-o", str(out))


WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from ai4scale.grading.gradebook import Gradebook, ItemResult
    url, me, go, n = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
    gb = Gradebook(url)
    with gb.engine.connect():
        pass
    while not go.exists():
        time.sleep(0.005)
    for i in range(n):
        # Both writers submit for the same learner, so they contend for versions.
        sub = gb.add_submission("lab-1", learner="shared", files={"lab.ipynb": f"{me}{i}".encode()})
        own = gb.add_submission("lab-1", learner=me, files={"lab.ipynb": str(i).encode()})
        for s in (sub, own):
            gb.record_results(s.id, [ItemResult(g, 1) for g in ("q1", "q2")])
    gb.close()
    """
)


def test_concurrent_writers(gb, tmp_path):
    n = 25
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, gb.url, me, str(go), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for me in ("w1", "w2")
    ]
    time.sleep(1.0)  # both imported and connected
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert "locked" not in err
    everything = gb.submissions("lab-1", current_only=False)
    shared = sorted(x.version for x in everything if x.owner == "shared")
    assert shared == list(range(1, 2 * n + 1))
    assert len(everything) == 4 * n
    assert len(gb.graded_submission_ids("lab-1")) == 4 * n
    with gb.session() as s:
        assert len(list(s.scalars(select(Result.id)))) == 2 * 4 * n


def test_archived_labs_and_learners_leave_the_views_and_come_back(gb):
    gb.upsert_lab("lab-0", notebooks={"a.ipynb": [{"grade_id": "q1", "points": 1}]})
    gb.upsert_lab("lab-1", notebooks={"a.ipynb": [{"grade_id": "q1", "points": 1}]})
    for name in ("ann", "scripted-check-01"):
        gb.upsert_learner(name, full_name=name.title())
    sub = gb.add_submission("lab-1", learner="scripted-check-01", files={"a.ipynb": b"x"})
    gb.record_results(sub.id, [ItemResult("q1", 1)])
    gb.set_archived(learner="scripted-check-01")
    gb.set_archived(lab="lab-0")
    assert gb.archived() == {"labs": ["lab-0"], "learners": ["scripted-check-01"]}
    header, *rows = list(csv.reader(io.StringIO(_export(gb))))
    assert header == ["username", "full_name", "lab-1:total", "lab-1:flags", "lab-1:q1"]
    assert [r[0] for r in rows] == ["ann"]
    # nothing is lost: with the archive, the row and its score are there
    out = io.StringIO()
    export_csv(gb, out, archived=True)
    everything = list(csv.reader(io.StringIO(out.getvalue())))
    assert ["scripted-check-01", "Scripted-Check-01", "", "", "", "1", "", "1"] in everything
    gb.set_archived(learner="scripted-check-01", archived=False)
    gb.set_archived(lab="lab-0", archived=False)
    assert gb.archived() == {"labs": [], "learners": []}
    with pytest.raises(KeyError):
        gb.set_archived(learner="nobody")
    # a release records its track; guided unless told
    gb.record_release("lab-1", group="learners")
    gb.record_release("lab-1", group="masters", track="analyst")
    tracks = {r.group: r.track for r in gb.releases("lab-1")}
    assert tracks == {"learners": "guided", "masters": "analyst"}
