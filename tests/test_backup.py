"""``ai4scale backup`` / ``restore``: a course's records survive the machine.

A state directory is made by the real course library (release, submissions
stored by ``store_submission``, grades recorded in the gradebook, accounts,
secrets); it is backed up -- also by ``ai4scale backup`` in its own process
while a thread keeps submitting and grading -- and restored into a fresh
state directory, where every submission file matches its sha256 and every
grade of the snapshot is there.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from pathlib import Path

import nbformat
import pytest
import zstandard
from ai4scale.hub.course import Course, Owner, release, source_labs_dir, store_submission
from coursetest import answered

from ai4scale.cli import main

LAB = "example-intro"
NB = "approval-rates.ipynb"
LEARNERS = ["ana", "ben", "carla"]
AI4SCALE = [str(Path(sys.executable).with_name("ai4scale"))]


def open_zst(path):
    """Return the decompressed stream of a .tar.zst (all its frames)."""
    raw = open(path, "rb")
    return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=True)


def write_config(root, *, state=None, extra=""):
    """Write a settings file under ``root``; return its path."""
    labs = root / "labs"
    if not labs.exists():
        shutil.copytree(source_labs_dir() / LAB, labs / LAB)
    state = state or root / "state"
    path = root / "ai4scale.toml"
    path.write_text(
        f'[paths]\nstate_dir = "{state}"\ndatasets_dir = "{root}"\n'
        f'[course]\nlabs_dir = "{labs}"\nsandbox = "none"\n{extra}'
    )
    return path


def course_of(config):
    from ai4scale.hub import load_settings

    return Course.from_settings(load_settings(config))


def notebook(learner_nb, n):
    """Return an answered learner notebook made unique by ``n``."""
    nb = nbformat.reads(answered(learner_nb).decode(), as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell(f"Note {n}: {uuid.uuid4().hex}"))
    return nbformat.writes(nb).encode()


def submit_and_grade(course, rel, learner_nb, n, *, grade=True):
    """Store a submission of learner ``n`` and record grades for it; return its id."""
    who = LEARNERS[n % len(LEARNERS)]
    info = store_submission(
        course,
        LAB,
        Owner("learner", who, who, who),
        {NB: notebook(learner_nb, n)},
        releases=[rel],
    )
    if grade:
        course.gradebook.record_results(
            info.id,
            [
                {"grade_id": "test_approval_rates", "score": n % 3},
                {"grade_id": "test_disparity_ratio", "score": 2},
            ],
        )
        course.gradebook.set_manual_score(info.id, "gap_meaning", 1, comments=f"seen {n}")
    return info.id


@pytest.fixture
def course_dir(tmp_path):
    """A state directory with a release, graded submissions, accounts and secrets."""
    from ai4scale.hub import load_settings
    from ai4scale.hub._state import read_or_create_secret
    from ai4scale.hub.accounts import AccountStore
    from ai4scale.hub.roster import read_roster
    from hubtest import write_roster

    config = write_config(tmp_path / "old")
    settings = load_settings(config)
    state = Path(settings["paths"]["state_dir"])
    course = course_of(config)
    try:
        rel = release(course, LAB, group="learners", released_by="test")
        learner_nb = (Path(course.config.course_dir) / "releases" / LAB / NB).read_bytes()
        for n in range(6):
            submit_and_grade(course, rel, learner_nb, n)
    finally:
        course.close()
    store = AccountStore.from_settings(settings)
    roster = {u: ("learner", "", None) for u in LEARNERS}
    store.import_roster(read_roster(write_roster(tmp_path / "roster.csv", roster)))
    store.set_password("ana", "a-long-password-1")
    read_or_create_secret(state / "jupyterhub_cookie_secret")
    read_or_create_secret(state / "admin-service-token")
    (state / "jupyterhub.pid").write_text("12345\n")
    return config, state, rel


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def tree_hashes(root):
    """{relative path: sha256} of every regular file under ``root``."""
    return {
        str(p.relative_to(root)): sha256(p) for p in sorted(Path(root).rglob("*")) if p.is_file()
    }


def rows(db, sql):
    conn = sqlite3.connect(db)
    try:
        return sorted(conn.execute(sql).fetchall())
    finally:
        conn.close()


GRADES = (
    "SELECT submission_id, item_id, auto_score, manual_score, max_points, comments FROM results"
)
SUBMITTED = (
    "SELECT s.id, f.path, f.sha256 FROM submissions s "
    "JOIN submission_files f ON f.submission_id = s.id"
)


def assert_submissions_match(state):
    """Every submission the gradebook in ``state`` lists has its files, with its sha256."""
    listed = rows(state / "gradebook.sqlite", SUBMITTED)
    assert listed
    for sid, name, digest in listed:
        (folder,) = (state / "course" / "submissions").glob(f"*/{sid}")
        assert sha256(folder / name) == digest, (sid, name)
    on_disk = {p.name for p in (state / "course" / "submissions" / LAB).iterdir()}
    assert on_disk == {str(sid) for sid, _, _ in listed}
    return listed


def test_backup_and_restore_into_a_fresh_state_dir(course_dir, tmp_path, capsys):
    config, state, _ = course_dir
    out = tmp_path / "backup.tar.zst"
    assert main(["--config", str(config), "backup", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "6 submissions" in printed and "sha256 checked" in printed

    with open_zst(out) as f, tarfile.open(fileobj=f, mode="r|") as tar:
        first = tar.next()
        assert first.name == "manifest.json"
        manifest = json.loads(tar.extractfile(first).read())
        names = [m.name for m in tar]  # from the first member on
    listed = [m["name"] for m in manifest["members"]]
    assert names[1:] == listed
    assert not [n for n in names if n.endswith(("-wal", "-shm", ".pid"))]
    assert "state/gradebook.sqlite" in listed and "state/accounts.sqlite" in listed
    assert "state/jupyterhub_cookie_secret" in listed and "settings/ai4scale.toml" in listed
    assert manifest["gradebook"]["submissions"] == 6 and manifest["gradebook"]["results"] == 18

    assert main(["backup", "--verify", str(out)]) == 0
    assert "OK" in capsys.readouterr().err

    new_state = tmp_path / "new" / "state"
    new_config = tmp_path / "new" / "etc" / "ai4scale.toml"
    argv = ["--config", str(new_config), "restore", str(out), "--state-dir", str(new_state)]
    assert main(argv) == 0
    assert "verified" in capsys.readouterr().out

    from ai4scale.hub import load_settings

    restored = load_settings(new_config)
    assert restored["paths"]["state_dir"] == str(new_state)
    assert new_config.stat().st_mode & 0o777 == 0o600
    assert new_state.stat().st_mode & 0o777 == 0o700
    old_files, new_files = tree_hashes(state / "course"), tree_hashes(new_state / "course")
    assert new_files == old_files and len(new_files) > 6
    assert_submissions_match(new_state)
    for db, sql in [
        ("gradebook.sqlite", GRADES),
        ("gradebook.sqlite", SUBMITTED),
        ("accounts.sqlite", "SELECT username, password_hash, role FROM accounts"),
    ]:
        assert rows(new_state / db, sql) == rows(state / db, sql)
        assert rows(new_state / db, "PRAGMA integrity_check") == [("ok",)]
    for secret in ("jupyterhub_cookie_secret", "admin-service-token"):
        assert sha256(new_state / secret) == sha256(state / secret)
        assert (new_state / secret).stat().st_mode & 0o777 == 0o600
    assert not (new_state / "jupyterhub.pid").exists()

    # The restored course works: the library reads it and takes a new submission.
    course = course_of(new_config)
    try:
        (rel,) = course.gradebook.releases(LAB)
        learner_nb = (new_state / "course" / "releases" / LAB / NB).read_bytes()
        sid = submit_and_grade(course, rel, learner_nb, 99, grade=False)
        assert sid > max(s for s, _, _ in rows(state / "gradebook.sqlite", SUBMITTED))
    finally:
        course.close()


def test_backup_while_submissions_arrive(course_dir, tmp_path):
    """``ai4scale backup`` in its own process while a thread submits and grades."""
    config, state, rel = course_dir
    stop = threading.Event()
    done = []  # (submission id, graded at) of what the thread finished
    errors = []

    def writer():
        course = course_of(config)
        try:
            learner_nb = (Path(course.config.course_dir) / "releases" / LAB / NB).read_bytes()
            n = 100
            while not stop.is_set():
                sid = submit_and_grade(course, rel, learner_nb, n)
                done.append((sid, time.monotonic()))
                n += 1
        except Exception as e:  # reported by the test below
            errors.append(e)
        finally:
            course.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        time.sleep(1.5)
        started = time.monotonic()
        before = [sid for sid, at in done if at < started]
        out = tmp_path / "live.tar.zst"
        proc = subprocess.run(
            [*AI4SCALE, "--config", str(config), "backup", str(out)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        time.sleep(1.0)
    finally:
        stop.set()
        thread.join(timeout=120)
    assert not errors, errors
    assert proc.returncode == 0, proc.stderr
    after = [sid for sid, at in done if at > started]
    assert before and after, "submissions must arrive before and during the backup"

    new_state = tmp_path / "fresh" / "state"
    new_config = tmp_path / "fresh" / "ai4scale.toml"
    proc = subprocess.run(
        [
            *AI4SCALE,
            "--config",
            str(new_config),
            "restore",
            str(out),
            "--state-dir",
            str(new_state),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert rows(new_state / "gradebook.sqlite", "PRAGMA integrity_check") == [("ok",)]
    listed = assert_submissions_match(new_state)
    restored_ids = {sid for sid, _, _ in listed}
    assert set(before) <= restored_ids
    # Every grade of the snapshot is the live one, and none is half there.
    grades = rows(new_state / "gradebook.sqlite", GRADES)
    live = {(r[0], r[1]): r for r in rows(state / "gradebook.sqlite", GRADES)}
    assert grades and all(live[(r[0], r[1])] == r for r in grades)
    graded = {r[0] for r in grades}
    assert set(before) <= graded
    manifest = json.loads(
        subprocess.run(
            ["sh", "-c", f"zstd -dc {out} | tar -xOf - manifest.json"],
            capture_output=True,
            check=True,
        ).stdout
    )
    assert manifest["gradebook"]["submissions"] == len(restored_ids)
    assert manifest["gradebook"]["results"] == len(grades)


def recompress(src, dest, *, tamper=None):
    """Copy the archive ``src`` to ``dest``, flipping a byte in member ``tamper``'s data."""
    data = bytearray()
    with open_zst(src) as f:
        while chunk := f.read(1 << 20):
            data += chunk
    tar = tarfile.open(fileobj=io.BytesIO(bytes(data)), mode="r:")
    member = tar.getmember(tamper)
    data[member.offset_data + member.size // 2] ^= 0x01
    Path(dest).write_bytes(zstandard.ZstdCompressor().compress(bytes(data)))


def test_verify_names_a_tampered_member(course_dir, tmp_path, capsys):
    config, _, _ = course_dir
    out = tmp_path / "b.tar.zst"
    assert main(["--config", str(config), "backup", str(out)]) == 0
    capsys.readouterr()
    with open_zst(out) as f, tarfile.open(fileobj=f, mode="r|") as tar:
        target = next(
            m.name for m in tar if m.isfile() and m.name.startswith("state/course/submissions/")
        )
    # A byte flipped inside one member: --verify names it and exits 1.
    bad = tmp_path / "bad.tar.zst"
    recompress(out, bad, tamper=target)
    proc = subprocess.run(
        [*AI4SCALE, "backup", "--verify", str(bad)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1
    assert target in proc.stderr and "sha256" in proc.stderr
    # A flipped byte in the compressed file: corrupt, exit 1.
    raw = bytearray(out.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    bad.write_bytes(bytes(raw))
    assert main(["backup", "--verify", str(bad)]) == 1
    assert "backup check failed" in capsys.readouterr().err
    # Cut short: members missing.
    bad.write_bytes(out.read_bytes()[: len(raw) // 3])
    assert main(["backup", "--verify", str(bad)]) == 1
    # Restore refuses the tampered archive before writing anything.
    recompress(out, bad, tamper=target)
    target_state = tmp_path / "t" / "state"
    argv = ["--config", str(tmp_path / "t" / "a.toml"), "restore", str(bad)]
    assert main([*argv, "--state-dir", str(target_state)]) == 2
    assert target in capsys.readouterr().err
    assert not target_state.exists() and not (tmp_path / "t" / "a.toml").exists()
    assert main(["backup", "--verify", str(tmp_path / "none.tar.zst")]) == 1


def test_restore_refuses_a_non_empty_state_dir(course_dir, tmp_path, capsys):
    config, state, _ = course_dir
    out = tmp_path / "b.tar.zst"
    assert main(["--config", str(config), "backup", str(out)]) == 0
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("someone's file")
    new_config = tmp_path / "n.toml"
    argv = ["--config", str(new_config), "restore", str(out), "--state-dir", str(target)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "not empty" in err and "--force" in err
    assert sorted(p.name for p in target.iterdir()) == ["keep.txt"]
    assert not new_config.exists()
    assert main([*argv, "--force"]) == 0
    assert sha256(target / "gradebook.sqlite") != ""
    assert_submissions_match(target)
    # The settings file now exists: a second restore without --force refuses it.
    other = tmp_path / "other"
    argv = ["--config", str(new_config), "restore", str(out), "--state-dir", str(other)]
    assert main(argv) == 2
    assert "exists" in capsys.readouterr().err


@pytest.fixture
def pg_urls():
    base = os.environ.get("AI4SCALE_TEST_POSTGRES_URL")
    if not base:
        if os.environ.get("CI"):
            pytest.fail("AI4SCALE_TEST_POSTGRES_URL is unset: run the suite with ./sandbox test")
        pytest.skip("no PostgreSQL: ./sandbox test starts one")
    import psycopg

    names = ["ai4scale_bk_" + uuid.uuid4().hex[:8] for _ in range(2)]
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        for name in names:
            conn.execute(f"CREATE DATABASE {name}")
    try:
        yield [f"{base}/{name}" for name in names]
    finally:
        with psycopg.connect(base + "/postgres", autocommit=True) as conn:
            for name in names:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.postgres
def test_postgresql_gradebook(pg_urls, tmp_path, monkeypatch, capsys):
    """A PostgreSQL gradebook is dumped with pg_dump and loaded into another database."""
    old_url, new_url = pg_urls
    monkeypatch.setenv("AI4SCALE_GRADEBOOK_URL", old_url)
    config = write_config(tmp_path / "old")
    course = course_of(config)
    try:
        rel = release(course, LAB, group="learners", released_by="test")
        learner_nb = (Path(course.config.course_dir) / "releases" / LAB / NB).read_bytes()
        for n in range(4):
            submit_and_grade(course, rel, learner_nb, n)
        before = sorted(
            (r.submission_id, r.item_id, r.auto_score, r.manual_score)
            for r in _results(course.gradebook)
        )
    finally:
        course.close()
    out = tmp_path / "pg.tar.zst"
    assert main(["--config", str(config), "backup", str(out)]) == 0
    assert "4 submissions (4 files, sha256 checked), 12 results" in capsys.readouterr().out
    monkeypatch.setenv("AI4SCALE_GRADEBOOK_URL", new_url)
    new_config = tmp_path / "new" / "ai4scale.toml"
    new_state = tmp_path / "new" / "state"
    argv = ["--config", str(new_config), "restore", str(out), "--state-dir", str(new_state)]
    assert main(argv) == 0
    course = course_of(new_config)
    try:
        assert course.config.gradebook_url == new_url
        after = sorted(
            (r.submission_id, r.item_id, r.auto_score, r.manual_score)
            for r in _results(course.gradebook)
        )
        assert after == before and len(after) == 12
        for sub in course.gradebook.submissions(LAB, current_only=False):
            for name, digest in sub.files.items():
                path = new_state / "course" / "submissions" / LAB / str(sub.id) / name
                assert sha256(path) == digest
    finally:
        course.close()


def _results(gb):
    from ai4scale.grading.gradebook import Result
    from sqlalchemy import select

    with gb.session() as s:
        return list(s.scalars(select(Result)))


def test_homes_keep_owners_and_modes(tmp_path, capsys):
    """``--homes``: a learner's home comes back, account re-created, owners and modes kept."""
    import pwd

    from ai4scale.hub.system_users import ensure_system_user, remove_system_user
    from conftest import TEST_USER_PREFIX

    prefix = f"{TEST_USER_PREFIX}bk-"
    account = f"{prefix}lea"
    config = write_config(tmp_path / "old", extra=f'[local]\nuser_prefix = "{prefix}"\n')
    pw = ensure_system_user(account, comment="lea")
    try:
        home = Path(pw.pw_dir)
        (home / "work").mkdir()
        (home / "work" / "notes.ipynb").write_text('{"cells": []}')
        (home / "work" / "shared.txt").write_text("for the team")
        (home / "link").symlink_to("work/notes.ipynb")
        for path, mode in [
            (home / "work", 0o750),
            (home / "work" / "shared.txt", 0o640),
            (home / "work" / "notes.ipynb", 0o600),
        ]:
            os.chown(path, pw.pw_uid, pw.pw_gid)
            os.chmod(path, mode)
        before = tree_hashes(home)
        out = tmp_path / "homes.tar.zst"
        assert main(["--config", str(config), "backup", str(out), "--homes"]) == 0
        assert f"homes: {account}" in capsys.readouterr().out

        # A fresh machine: the account and its home are gone.
        remove_system_user(account)
        assert not home.exists()
        new_config = tmp_path / "new" / "ai4scale.toml"
        argv = ["--config", str(new_config), "restore", str(out)]
        assert main([*argv, "--state-dir", str(tmp_path / "new" / "state")]) == 0
        assert f"created account {account}" in capsys.readouterr().out
        pw = pwd.getpwnam(account)
        assert tree_hashes(home) == before
        assert (home / "link").is_symlink() and os.readlink(home / "link") == "work/notes.ipynb"
        for path, mode in [
            (home, 0o700),
            (home / "work", 0o750),
            (home / "work" / "shared.txt", 0o640),
            (home / "work" / "notes.ipynb", 0o600),
        ]:
            st = path.stat()
            assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (pw.pw_uid, pw.pw_gid, mode)
    finally:
        remove_system_user(account)


@pytest.mark.hub
def test_backup_of_a_running_hub_while_learners_submit(hub, tmp_path):
    """``ai4scale backup --homes`` of the live hub while two learners submit through the API."""
    import pwd

    from conftest import TEST_USER_PREFIX
    from coursetest import api, make_lab, person, put_file, read_file

    lab = make_lab(hub, "bk-live")
    r = api(hub, "tina").post("/instructor/releases", json={"lab": lab})
    assert r.status_code == 201, r.text
    learners = ["tom", "theo"]
    for name in learners:
        course = api(hub, name, server=True)
        assert course.post(f"/labs/{lab}/fetch").status_code == 200
        token = person(hub, name)
        put_file(
            hub, token, name, f"{lab}/{NB}", answered(read_file(hub, token, name, f"{lab}/{NB}"))
        )
    receipts = []  # (monotonic time of the answer, receipt)
    errors = []
    stop = threading.Event()

    def submitter(name):
        course = api(hub, name)
        while not stop.is_set():
            r = course.post(f"/labs/{lab}/submit")
            if r.status_code != 201:
                errors.append(r.text)
                return
            receipts.append((time.monotonic(), r.json()))

    threads = [threading.Thread(target=submitter, args=(n,)) for n in learners]
    for t in threads:
        t.start()
    try:
        time.sleep(2)
        started = time.monotonic()
        out = tmp_path / "hub.tar.zst"
        proc = subprocess.run(
            [*AI4SCALE, "--config", str(hub.settings_file), "backup", str(out), "--homes"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        ended = time.monotonic()
        time.sleep(1)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert not errors, errors
    print(proc.stdout, f"backup of the running hub: {ended - started:.1f} s")
    before = [rc for at, rc in receipts if at < started]
    assert before and [rc for at, rc in receipts if at > ended]

    verify = subprocess.run([*AI4SCALE, "backup", "--verify", str(out)], capture_output=True)
    assert verify.returncode == 0, verify.stderr
    with open_zst(out) as f, tarfile.open(fileobj=f, mode="r|") as tar:
        manifest = json.loads(tar.extractfile(tar.next()).read())
    members = {m["name"]: m for m in manifest["members"]}
    tom = pwd.getpwnam(f"{TEST_USER_PREFIX}tom")
    mine = members[f"homes/{TEST_USER_PREFIX}tom/{lab}/{NB}"]
    assert mine["uid"] == tom.pw_uid and mine["owner"] == tom.pw_name

    new_state = tmp_path / "fresh" / "state"
    new_config = tmp_path / "fresh" / "ai4scale.toml"
    proc = subprocess.run(
        [*AI4SCALE, "--config", str(new_config), "restore", str(out), "--no-homes"]
        + ["--state-dir", str(new_state)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "homes left as they are" in proc.stdout
    for db in ("gradebook.sqlite", "jupyterhub.sqlite", "accounts.sqlite"):
        assert rows(new_state / db, "PRAGMA integrity_check") == [("ok",)], db
    assert {"tom", "theo"} <= {
        u for (u,) in rows(new_state / "jupyterhub.sqlite", "SELECT name FROM users")
    }
    listed = {
        sid: (name, digest) for sid, name, digest in rows(new_state / "gradebook.sqlite", SUBMITTED)
    }
    for receipt in before:
        ((name, digest),) = [(f["path"], f["sha256"]) for f in receipt["files"]]
        assert listed[receipt["id"]] == (name, digest)
    for sid, (name, digest) in listed.items():
        (folder,) = (new_state / "course" / "submissions").glob(f"*/{sid}")
        assert sha256(folder / name) == digest
    # Nothing newer than the gradebook copy: every folder is one the gradebook lists.
    restored = {p.name for p in (new_state / "course" / "submissions" / lab).iterdir()}
    assert restored <= {str(sid) for sid in listed}
    assert sha256(new_state / "jupyterhub_cookie_secret") == sha256(
        Path(hub.settings["paths"]["state_dir"]) / "jupyterhub_cookie_secret"
    )


def test_a_submission_being_renamed_in_is_waited_for(course_dir, tmp_path):
    """The gradebook row is written before the folder is renamed into place: the backup waits."""
    from ai4scale.hub import load_settings
    from ai4scale.hub._errors import UserError
    from ai4scale.hub.backup import create_backup, verify_archive

    config, state, _ = course_dir
    settings = load_settings(config)
    folder = state / "course" / "submissions" / LAB / "3"
    away = state / "course" / "submissions" / ".incoming" / "in-flight"
    away.parent.mkdir(parents=True, exist_ok=True)
    folder.rename(away)
    timer = threading.Timer(1.0, away.rename, args=(folder,))
    timer.start()
    out = tmp_path / "late.tar.zst"
    try:
        manifest = create_backup(settings, config, out)
    finally:
        timer.join()
    names = {m["name"] for m in verify_archive(out)["members"]}
    assert f"state/course/submissions/{LAB}/3/{NB}" in names
    assert f"state/course/submissions/{LAB}/3" in names
    assert manifest["gradebook"]["submissions"] == 6
    # A folder that never comes: the backup fails, naming it, and leaves no archive.
    shutil.rmtree(folder)
    with pytest.raises(UserError, match=f"missing state/course/submissions/{LAB}/3/"):
        create_backup(settings, config, tmp_path / "never.tar.zst")
    assert sorted(p.name for p in tmp_path.iterdir() if "never" in p.name) == []
