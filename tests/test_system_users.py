"""Real system accounts for learners: creation, private homes, idempotence, removal (root)."""

from __future__ import annotations

import grp
import os
import pwd
import stat
import subprocess
import uuid
from pathlib import Path

import pytest
from ai4scale.hub.system_users import (
    USERS_GROUP,
    SystemUserError,
    ensure_system_user,
    is_managed,
    remove_system_user,
    system_username,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="creates system users: needs root")


@pytest.fixture
def sysname():
    """A fresh ``ai4t-`` account name; the account is deleted afterwards."""
    name = f"ai4t-su{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["userdel", "--remove", name], capture_output=True)


def test_system_username_is_prefix_plus_name():
    assert system_username("jupyter-", "alice") == "jupyter-alice"
    assert system_username("ai4t-", "bob.smith") == "ai4t-bob.smith"


@pytest.mark.parametrize("name", ["Alice@Example.org", "x" * 40, "élodie", "a b", "name$"])
def test_system_username_escapes_and_shortens(name):
    sysname = system_username("jupyter-", name)
    assert len(sysname) <= 32
    assert sysname.startswith("jupyter-")
    assert all(ch in "abcdefghijklmnopqrstuvwxyz0123456789-_." for ch in sysname)
    assert system_username("jupyter-", name) == sysname  # deterministic
    # Names that escape alike still get different accounts.
    assert system_username("jupyter-", name + "1") != sysname


def test_ensure_creates_private_home_and_group_membership(sysname):
    pw = ensure_system_user(sysname, comment="AI4Scale test")
    assert pwd.getpwnam(sysname).pw_uid == pw.pw_uid >= 1000
    assert pw.pw_dir == f"/home/{sysname}"
    assert pw.pw_shell == "/bin/bash"
    assert pw.pw_gecos == "AI4Scale test"
    st = os.stat(pw.pw_dir)
    assert stat.S_IMODE(st.st_mode) == 0o700
    assert (st.st_uid, st.st_gid) == (pw.pw_uid, pw.pw_gid)
    assert grp.getgrgid(pw.pw_gid).gr_name == sysname  # private group
    assert sysname in grp.getgrnam(USERS_GROUP).gr_mem
    assert is_managed(sysname)
    # Skeleton files belong to the user too.
    bashrc = Path(pw.pw_dir) / ".bashrc"
    if bashrc.exists():
        assert bashrc.stat().st_uid == pw.pw_uid
    # The account's password is locked: no password login.
    shadow = {line.split(":")[0]: line.split(":")[1] for line in open("/etc/shadow")}
    assert shadow[sysname].startswith("!")


def test_ensure_is_idempotent_and_repairs_home(sysname):
    first = ensure_system_user(sysname)
    os.chmod(first.pw_dir, 0o755)
    again = ensure_system_user(sysname)
    assert again.pw_uid == first.pw_uid
    assert stat.S_IMODE(os.stat(first.pw_dir).st_mode) == 0o700
    # A deleted home is re-created, private.
    subprocess.run(["rm", "-rf", first.pw_dir], check=True)
    ensure_system_user(sysname)
    st = os.stat(first.pw_dir)
    assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == first.pw_uid


def test_refuses_system_accounts_not_ours():
    for name in ("daemon", "root"):
        with pytest.raises(SystemUserError, match="not created by AI4Scale"):
            ensure_system_user(name)
        with pytest.raises(SystemUserError, match="not created by AI4Scale"):
            remove_system_user(name)
    assert pwd.getpwnam("daemon").pw_uid == 1


def test_adopts_existing_ordinary_account_without_marking_it(sysname):
    subprocess.run(["useradd", "--create-home", sysname], check=True)
    uid = pwd.getpwnam(sysname).pw_uid
    assert ensure_system_user(sysname).pw_uid == uid
    assert not is_managed(sysname)
    with pytest.raises(SystemUserError, match="not created by AI4Scale"):
        remove_system_user(sysname)
    assert pwd.getpwnam(sysname).pw_uid == uid


def test_remove_deletes_account_home_and_private_group(sysname):
    pw = ensure_system_user(sysname)
    Path(pw.pw_dir, "work.ipynb").write_text("{}")
    remove_system_user(sysname)
    with pytest.raises(KeyError):
        pwd.getpwnam(sysname)
    with pytest.raises(KeyError):
        grp.getgrnam(sysname)
    assert not os.path.exists(pw.pw_dir)
    assert sysname not in grp.getgrnam(USERS_GROUP).gr_mem
    remove_system_user(sysname)  # a missing account is fine


def test_remove_can_keep_home(sysname):
    pw = ensure_system_user(sysname)
    remove_system_user(sysname, remove_home=False)
    try:
        assert os.path.isdir(pw.pw_dir)
    finally:
        subprocess.run(["rm", "-rf", pw.pw_dir], check=True)


def test_remove_refuses_while_processes_run(sysname):
    pw = ensure_system_user(sysname)
    proc = subprocess.Popen(["sleep", "60"], user=pw.pw_uid, group=pw.pw_gid)
    try:
        with pytest.raises(SystemUserError, match="still runs processes"):
            remove_system_user(sysname)
        assert is_managed(sysname)
    finally:
        proc.kill()
        proc.wait()
    remove_system_user(sysname)
    assert not is_managed(sysname)


@pytest.mark.parametrize("name", ["", "Root", "a:b", "../x", "x" * 33, "-x"])
def test_invalid_account_names_are_refused(name):
    with pytest.raises(SystemUserError, match="invalid"):
        ensure_system_user(name)
