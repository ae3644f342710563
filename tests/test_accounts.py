"""The account store and the ``roster`` / ``users`` commands, on real SQLite files."""

from __future__ import annotations

import socket
import stat
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from ai4scale.hub.accounts import (
    CODE_ALPHABET,
    AccountStore,
    CodeError,
    LoginResult,
    PasswordError,
    UnknownAccountError,
    hash_secret,
    verify_secret,
)
from ai4scale.hub.roster import RosterEntry, RosterError, read_roster

from ai4scale.cli import main

AI4SCALE = "/opt/ai4scale/venv/bin/ai4scale"

COURSE = [
    RosterEntry("amina", "Amina Haddad", "learner", "tax"),
    RosterEntry("jonas", "Jonas Berg", "learner", None),
    RosterEntry("eva", "Eva Novak", "instructor", "tax"),
]


class Clock:
    """A clock the test moves forward (the store takes any callable)."""

    def __init__(self):
        self.now = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += timedelta(**delta)


@pytest.fixture
def store(tmp_path):
    s = AccountStore(f"sqlite:///{tmp_path}/state/accounts.sqlite")
    s.import_roster(COURSE)
    yield s
    s.close()


def snapshot(store):
    return [
        (a.username, a.full_name, a.role, a.team, a.password_set) for a in store.list_accounts()
    ]


# -- the store -----------------------------------------------------------


def test_database_file_is_root_only(tmp_path):
    store = AccountStore(f"sqlite:///{tmp_path}/new/accounts.sqlite")
    try:
        path = tmp_path / "new" / "accounts.sqlite"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        store.import_roster(COURSE)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        store.close()


def test_from_settings_without_create_does_not_make_the_file(tmp_path):
    settings = {"paths": {"state_dir": str(tmp_path)}, "auth": {"min_password_length": 12}}
    assert AccountStore.from_settings(settings, create=False) is None
    assert not (tmp_path / "accounts.sqlite").exists()
    store = AccountStore.from_settings(settings)
    assert (tmp_path / "accounts.sqlite").exists()
    assert store.min_password_length == 12
    store.close()
    again = AccountStore.from_settings(settings, create=False)
    assert again is not None and again.usernames() == []
    again.close()


def test_import_adds_updates_removes(store):
    assert store.usernames() == ["amina", "eva", "jonas"]
    store.set_password("amina", "amina-secret-1")
    report = store.import_roster(
        [
            RosterEntry("amina", "Amina Haddad", "learner", "audit"),  # team changed
            RosterEntry("eva", "Eva Novak", "instructor", "tax"),  # unchanged
            RosterEntry("omar", "Omar Said", "learner", None),  # new
        ]
    )
    assert (report.added, report.updated, report.removed, report.unchanged) == (
        ["omar"],
        ["amina"],
        ["jonas"],
        ["eva"],
    )
    assert report.summary() == "1 added, 1 updated, 1 removed, 1 unchanged"
    assert store.usernames() == ["amina", "eva", "omar"]
    amina = store.get("amina")
    assert amina.team == "audit" and amina.password_set  # the password survives an update
    assert store.get("jonas") is None
    assert store.get("omar").password_set is False


def test_dry_run_changes_nothing(store):
    before = snapshot(store)
    report = store.import_roster([RosterEntry("omar", "Omar", "learner", None)], dry_run=True)
    assert report.added == ["omar"] and sorted(report.removed) == ["amina", "eva", "jonas"]
    assert snapshot(store) == before


def test_refused_entries_change_nothing(store):
    before = snapshot(store)
    bad = [
        RosterEntry("omar", "Omar", "learner", None),
        RosterEntry("omar", "Omar Twice", "learner", None),
        RosterEntry("root", "Root", "learner", None),
    ]
    with pytest.raises(RosterError) as info:
        store.import_roster(bad)
    assert len(info.value.errors) == 2
    assert snapshot(store) == before


def test_groups(store):
    assert store.groups() == {
        "instructors": ["eva"],
        "learners": ["amina", "jonas"],
        "team-tax": ["amina", "eva"],
    }


# -- secrets -------------------------------------------------------------


def test_hash_is_salted_scrypt_and_verifies():
    a, b = hash_secret("correct horse"), hash_secret("correct horse")
    assert a != b  # random salt
    assert a.startswith("scrypt$n=16384,r=8,p=1$")
    assert verify_secret("correct horse", a) and verify_secret("correct horse", b)
    assert not verify_secret("correct hors", a)
    assert not verify_secret("correct horse", None)
    assert not verify_secret("correct horse", "md5$abc")


def test_password_rules(store):
    with pytest.raises(PasswordError, match="at least 10"):
        store.set_password("amina", "short")
    with pytest.raises(PasswordError, match="username"):
        store.set_password("amina", "Amina     ")
    with pytest.raises(UnknownAccountError):
        store.set_password("nobody-here", "long-enough-pw")
    store.set_password("amina", "long-enough-pw")
    assert store.get("amina").password_set


def test_no_hash_or_secret_in_clear(store, tmp_path):
    store.set_password("amina", "very-secret-password")
    code = store.issue_code("jonas", ttl_hours=1)
    raw = (tmp_path / "state" / "accounts.sqlite").read_bytes()
    assert b"very-secret-password" not in raw
    assert code.encode() not in raw and code.replace("-", "").encode() not in raw


# -- login and lockout ---------------------------------------------------


def login(store, password, user="amina", **kw):
    kw.setdefault("max_attempts", 3)
    kw.setdefault("lockout_seconds", 60)
    return store.verify_login(user, password, **kw)


def test_login_results(store):
    assert login(store, "anything-at-all") is LoginResult.NO_PASSWORD
    assert login(store, "anything-at-all", user="mallory") is LoginResult.UNKNOWN
    store.set_password("amina", "amina-secret-1")
    assert login(store, "amina-secret-1") is LoginResult.OK
    assert login(store, "amina-secret-2") is LoginResult.BAD
    # Only the wrong password of a known account counts towards a lockout;
    # an unknown name creates no account.
    assert store.get("amina").failed_logins == 1
    assert store.get("mallory") is None


def test_lockout_after_failures_refuses_right_password_until_unlock(store):
    store.set_password("amina", "amina-secret-1")
    assert [login(store, "wrong-password") for _ in range(3)] == [LoginResult.BAD] * 3
    assert store.get("amina").locked
    assert login(store, "amina-secret-1") is LoginResult.LOCKED
    store.unlock("amina")
    assert not store.get("amina").locked
    assert login(store, "amina-secret-1") is LoginResult.OK


def test_success_resets_the_failure_count(store):
    store.set_password("amina", "amina-secret-1")
    for _ in range(2):
        assert login(store, "wrong-password") is LoginResult.BAD
    assert login(store, "amina-secret-1") is LoginResult.OK
    assert store.get("amina").failed_logins == 0
    for _ in range(2):
        assert login(store, "wrong-password") is LoginResult.BAD
    assert login(store, "amina-secret-1") is LoginResult.OK  # 2 + 2 failures: not locked


def test_lock_expires(tmp_path):
    clock = Clock()
    store = AccountStore(f"sqlite:///{tmp_path}/accounts.sqlite", clock=clock)
    try:
        store.import_roster(COURSE)
        store.set_password("amina", "amina-secret-1")
        for _ in range(3):
            login(store, "wrong-password", lockout_seconds=600)
        clock.advance(seconds=599)
        assert login(store, "amina-secret-1", lockout_seconds=600) is LoginResult.LOCKED
        clock.advance(seconds=2)
        assert login(store, "amina-secret-1", lockout_seconds=600) is LoginResult.OK
        assert store.get("amina").failed_logins == 0
    finally:
        store.close()


def test_unlock_unknown_account(store):
    with pytest.raises(UnknownAccountError):
        store.unlock("mallory")


# -- one-time codes ------------------------------------------------------


def test_code_shape(store):
    code = store.issue_code("amina", ttl_hours=1)
    groups = code.split("-")
    assert [len(g) for g in groups] == [4, 4, 4, 4]
    assert set("".join(groups)) <= set(CODE_ALPHABET)
    assert store.get("amina").code_valid
    # Codes are read aloud and typed from paper: none ever holds a character
    # that looks like another (0/O, 1/I). 50 codes are 800 characters: a
    # look-alike in the alphabet would show up with near certainty.
    issued = "".join(store.issue_code("jonas", ttl_hours=1) for _ in range(50))
    assert not set("01IO") & set(issued)
    assert set(issued.replace("-", "")) == set(CODE_ALPHABET)


def test_code_redeemed_once_and_sets_password(store):
    code = store.issue_code("amina", ttl_hours=1)
    with pytest.raises(CodeError) as info:
        store.redeem_code("amina", "AAAA-BBBB-CCCC-DDDD", "a-new-password")
    assert info.value.reason == "wrong"
    with pytest.raises(PasswordError):
        store.redeem_code("amina", code, "short")
    # neither failure used the code up; spaces and case do not matter
    store.redeem_code("amina", " " + code.lower().replace("-", " "), "a-new-password")
    assert login(store, "a-new-password") is LoginResult.OK
    with pytest.raises(CodeError) as info:
        store.redeem_code("amina", code, "another-password")
    assert info.value.reason == "no_code"
    assert login(store, "a-new-password") is LoginResult.OK


def test_code_of_another_user_or_unknown_user_is_refused(store):
    code = store.issue_code("amina", ttl_hours=1)
    with pytest.raises(CodeError) as info:
        store.redeem_code("jonas", code, "a-new-password")
    assert info.value.reason == "no_code"
    store.issue_code("jonas", ttl_hours=1)
    with pytest.raises(CodeError) as info:
        store.redeem_code("jonas", code, "a-new-password")
    assert info.value.reason == "wrong"
    with pytest.raises(CodeError) as info:
        store.redeem_code("mallory", code, "a-new-password")
    assert info.value.reason == "unknown"


def test_new_code_replaces_the_old_one(store):
    old = store.issue_code("amina", ttl_hours=1)
    new = store.issue_code("amina", ttl_hours=1)
    with pytest.raises(CodeError):
        store.redeem_code("amina", old, "a-new-password")
    store.redeem_code("amina", new, "a-new-password")


def test_expired_code_is_refused(tmp_path):
    clock = Clock()
    store = AccountStore(f"sqlite:///{tmp_path}/accounts.sqlite", clock=clock)
    try:
        store.import_roster(COURSE)
        code = store.issue_code("amina", ttl_hours=72)
        clock.advance(hours=71, minutes=59)
        assert store.get("amina").code_valid
        clock.advance(minutes=2)
        assert not store.get("amina").code_valid
        with pytest.raises(CodeError) as info:
            store.redeem_code("amina", code, "a-new-password")
        assert info.value.reason == "expired"
        assert not store.get("amina").password_set
    finally:
        store.close()


def test_redeeming_a_code_unlocks(store):
    store.set_password("amina", "amina-secret-1")
    for _ in range(3):
        login(store, "wrong-password")
    assert store.get("amina").locked
    store.redeem_code("amina", store.issue_code("amina", ttl_hours=1), "a-new-password")
    assert login(store, "a-new-password") is LoginResult.OK


# -- the commands --------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def config(tmp_path):
    """A settings file with its own state directory and a port where no hub runs."""
    state = tmp_path / "state"
    path = tmp_path / "ai4scale.toml"
    path.write_text(
        f'[hub]\nport = {free_port()}\n[paths]\nstate_dir = "{state}"\n'
        "[auth]\ncode_ttl_hours = 24\n"
    )
    return path


def write_roster(tmp_path, rows, name="roster.csv"):
    path = tmp_path / name
    path.write_text("username,full_name,role,team\n" + "".join(f"{r}\n" for r in rows))
    return path


def cli(config, *args):
    return main(["--config", str(config), *args])


def test_cli_import_show_and_refused_import(tmp_path, config, capsys):
    good = write_roster(tmp_path, ["amina,Amina Haddad,learner,tax", "eva,Eva Novak,instructor,"])
    assert cli(config, "roster", "import", str(good), "--dry-run") == 0
    out = capsys.readouterr().out
    assert "dry run" in out and "2 added" in out
    assert (
        AccountStore.from_settings({"paths": {"state_dir": str(tmp_path / "state")}}, create=False)
        is None
    )

    assert cli(config, "roster", "import", str(good)) == 0
    out = capsys.readouterr().out
    assert "2 added, 0 updated, 0 removed, 0 unchanged" in out
    assert "no hub running" in out

    bad = write_roster(
        tmp_path,
        ["amina,Amina Haddad,learner,tax", "Root,Root,learner,", "bo,Bo,teacher,"],
        name="bad.csv",
    )
    assert cli(config, "roster", "import", str(bad)) == 2
    err = capsys.readouterr().err
    assert "bad.csv line 3: username 'Root'" in err
    assert "bad.csv line 4: unknown role 'teacher'" in err

    assert cli(config, "roster", "show") == 0
    out = capsys.readouterr().out
    assert "amina" in out and "Eva Novak" in out and "bo" not in out.split()

    updated = write_roster(tmp_path, ["amina,Amina H,learner,tax"], name="new.csv")
    assert cli(config, "roster", "import", str(updated)) == 0
    out = capsys.readouterr().out
    assert "0 added, 1 updated, 1 removed, 0 unchanged" in out


def test_cli_users_code_set_password_unlock(tmp_path, config, capsys):
    assert cli(config, "users", "list") == 2  # no roster yet
    assert "no roster imported yet" in capsys.readouterr().err
    roster = write_roster(tmp_path, ["amina,Amina Haddad,learner,tax", "jonas,Jonas,learner,"])
    assert cli(config, "roster", "import", str(roster)) == 0
    capsys.readouterr()

    assert cli(config, "users", "code", "amina", "jonas") == 0
    lines = capsys.readouterr().out.splitlines()
    codes = dict(line.split()[:2] for line in lines)
    assert set(codes) == {"amina", "jonas"}
    settings = {"paths": {"state_dir": str(tmp_path / "state")}}
    store = AccountStore.from_settings(settings)
    expires = store.get("amina").code_expires
    assert (
        timedelta(hours=23)
        < expires - datetime.now(UTC).replace(tzinfo=None)
        <= timedelta(hours=24)
    )
    store.redeem_code("amina", codes["amina"], "amina-password")

    assert cli(config, "users", "code", "amina", "mallory") == 2
    assert "mallory" in capsys.readouterr().err

    pwfile = tmp_path / "pw"
    pwfile.write_text("jonas-password\n")
    assert cli(config, "users", "set-password", "jonas", "--password-file", str(pwfile)) == 0
    assert store.verify_login("jonas", "jonas-password", max_attempts=2, lockout_seconds=60) == "ok"
    pwfile.write_text("short\n")
    assert cli(config, "users", "set-password", "jonas", "--password-file", str(pwfile)) == 2
    assert "at least 10" in capsys.readouterr().err

    for _ in range(2):
        store.verify_login("amina", "wrong-password", max_attempts=2, lockout_seconds=600)
    assert cli(config, "users", "list") == 0
    out = capsys.readouterr().out
    assert "amina" in out and "until" in out  # locked until ...
    assert cli(config, "users", "unlock", "amina") == 0
    assert not store.get("amina").locked
    assert store.verify_login("amina", "amina-password", max_attempts=2, lockout_seconds=60) == "ok"
    store.close()


def test_installed_command_imports_and_sets_password_from_stdin(tmp_path, config):
    roster = write_roster(tmp_path, ["amina,Amina Haddad,learner,tax"])
    run = subprocess.run(
        [AI4SCALE, "--config", str(config), "roster", "import", str(roster)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "1 added" in run.stdout
    run = subprocess.run(
        [AI4SCALE, "--config", str(config), "users", "set-password", "amina"],
        input="from-stdin-password\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    store = AccountStore.from_settings({"paths": {"state_dir": str(tmp_path / "state")}})
    assert (
        store.verify_login("amina", "from-stdin-password", max_attempts=3, lockout_seconds=1)
        == "ok"
    )
    store.close()
    bad = write_roster(tmp_path, ["amina,Amina,learner,", "amina,Again,learner,"], name="dup.csv")
    run = subprocess.run(
        [AI4SCALE, "--config", str(config), "roster", "import", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert "dup.csv line 3: duplicate username 'amina' (first on line 2)" in run.stderr
    assert "Traceback" not in run.stderr
    assert [e.username for e in read_roster(roster)] == ["amina"]
