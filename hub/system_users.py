"""System accounts for learners on the local profile.

Each hub user runs their server as a real Unix account named
``<prefix><hub username>`` (``jupyter-alice``), as in The Littlest
JupyterHub. Accounts are created on first spawn with a private home
(``/home/<account>``, mode 0700, owned by the account) and are members of the
group :data:`USERS_GROUP`, which is how we tell our accounts from the
machine's own: we never adopt a system account (uid < 1000) we did not
create, and we only ever delete accounts of that group.
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

__all__ = [
    "HOME_ROOT",
    "USERS_GROUP",
    "SystemUserError",
    "ensure_system_user",
    "is_managed",
    "remove_system_user",
    "system_username",
]

#: Supplementary group of every account this module creates.
USERS_GROUP = "ai4scale-users"

#: Parent directory of learners' homes.
HOME_ROOT = Path("/home")

#: Longest account name useradd and ``ps`` handle comfortably.
MAX_NAME_LENGTH = 32

#: Lowest uid of ordinary (non-system) accounts on Debian (login.defs UID_MIN).
UID_MIN = 1000

_VALID_NAME = re.compile(r"^[a-z_][a-z0-9_.-]*$")
_UNSAFE_CHARS = re.compile(r"[^a-z0-9_.-]")

# useradd/groupadd lock /etc/passwd; concurrent spawns in the hub are threads.
_lock = threading.Lock()


class SystemUserError(RuntimeError):
    """A system account could not be created, adopted or removed."""


def system_username(prefix, name):
    """Return the system account name of hub user ``name``.

    The name is ``prefix + name`` when that is a valid, short account name.
    Otherwise (characters such as ``@``, or more than 32 characters) unsafe
    characters become ``-``, the name is shortened, and a hash of the hub
    name is appended so that different hub names never share an account.

    Parameters
    ----------
    prefix : str
        Prefix of every learner account, e.g. ``"jupyter-"``.
    name : str
        The hub username (JupyterHub has already normalised it).

    Returns
    -------
    str

    Examples
    --------
    >>> system_username("jupyter-", "alice")
    'jupyter-alice'
    >>> system_username("jupyter-", "Bob@example.org")[:20]
    'jupyter-bob-example.'
    """
    wanted = prefix + name
    if len(wanted) <= MAX_NAME_LENGTH and _VALID_NAME.match(wanted):
        return wanted
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:6]
    safe = _UNSAFE_CHARS.sub("-", (prefix + name).lower())
    if not _VALID_NAME.match(safe):
        safe = "u" + safe
    return f"{safe[: MAX_NAME_LENGTH - len(digest) - 1]}-{digest}"


def _check_name(sysname):
    if not (0 < len(sysname) <= MAX_NAME_LENGTH and _VALID_NAME.match(sysname)):
        raise SystemUserError(f"invalid system account name: {sysname!r}")


def _run(cmd, *, retries=5):
    """Run an account tool; retry while another process holds the passwd lock."""
    for attempt in range(retries):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        # 10: "cannot lock /etc/passwd" (useradd/userdel/groupadd/usermod).
        if proc.returncode != 10 or attempt == retries - 1:
            return proc
        time.sleep(0.2 * (attempt + 1))
    return proc  # pragma: no cover


def _ensure_group():
    try:
        return grp.getgrnam(USERS_GROUP)
    except KeyError:
        pass
    proc = _run(["groupadd", "--system", USERS_GROUP])
    # 9: the group appeared meanwhile (another process created it).
    if proc.returncode not in (0, 9):
        raise SystemUserError(f"groupadd {USERS_GROUP} failed: {proc.stderr.strip()}")
    return grp.getgrnam(USERS_GROUP)


def is_managed(sysname):
    """Return whether account ``sysname`` exists and was created by us.

    Parameters
    ----------
    sysname : str
        System account name.

    Returns
    -------
    bool
        True when the account is a member of :data:`USERS_GROUP`.
    """
    try:
        group = grp.getgrnam(USERS_GROUP)
        pwd.getpwnam(sysname)
    except KeyError:
        return False
    return sysname in group.gr_mem


def _secure_home(pw):
    """Create or repair the private home of one of our accounts."""
    home = Path(pw.pw_dir)
    if not home.exists():
        home.mkdir(mode=0o700, parents=True)
    if home.is_symlink() or not home.is_dir():
        raise SystemUserError(f"home of {pw.pw_name} is not a directory: {home}")
    os.chown(home, pw.pw_uid, pw.pw_gid)
    os.chmod(home, 0o700)


def ensure_system_user(sysname, *, comment=""):
    """Create the learner account ``sysname`` unless it exists; return it.

    A new account gets ``/home/<sysname>`` (from ``/etc/skel``, mode 0700,
    owned by the account and its private group), ``/bin/bash``, a locked
    password and the supplementary group :data:`USERS_GROUP`. Calling again
    is harmless: the home of one of our accounts is re-created or its mode
    repaired if needed. An existing ordinary account (uid >= 1000) not
    created by us is used as it is.

    Parameters
    ----------
    sysname : str
        Account name (see :func:`system_username`).
    comment : str, optional
        GECOS field of a new account, e.g. the hub username.

    Returns
    -------
    pwd.struct_passwd
        The account.

    Raises
    ------
    SystemUserError
        When the name is invalid, an existing account is a system account
        (uid < 1000) we did not create, or useradd fails.
    """
    _check_name(sysname)
    with _lock:
        _ensure_group()
        try:
            pw = pwd.getpwnam(sysname)
        except KeyError:
            pw = None
        if pw is not None:
            if is_managed(sysname):
                _secure_home(pw)
            elif pw.pw_uid < UID_MIN:
                raise SystemUserError(
                    f"refusing to use system account {sysname!r} (uid {pw.pw_uid}): "
                    "it was not created by AI4Scale"
                )
            return pw
        home = HOME_ROOT / sysname
        proc = _run(
            [
                "useradd",
                "--create-home",
                "--home-dir",
                str(home),
                "--shell",
                "/bin/bash",
                "--user-group",
                "--groups",
                USERS_GROUP,
                "--comment",
                comment.replace(":", " ").replace("\n", " "),
                "--key",
                "UMASK=077",
                sysname,
            ]
        )
        if proc.returncode != 0:
            raise SystemUserError(f"useradd {sysname} failed: {proc.stderr.strip()}")
        pw = pwd.getpwnam(sysname)
        _secure_home(pw)
        return pw


def remove_system_user(sysname, *, remove_home=True):
    """Delete the learner account ``sysname`` (and by default its home).

    Only accounts created by :func:`ensure_system_user` (members of
    :data:`USERS_GROUP`) are deleted. A missing account is not an error.

    Parameters
    ----------
    sysname : str
        Account name.
    remove_home : bool
        Also delete the home directory and its files.

    Raises
    ------
    SystemUserError
        When the account was not created by us, still runs processes, or
        userdel fails.
    """
    _check_name(sysname)
    with _lock:
        try:
            pw = pwd.getpwnam(sysname)
        except KeyError:
            return
        if not is_managed(sysname):
            raise SystemUserError(f"refusing to delete {sysname!r}: it was not created by AI4Scale")
        proc = _run(["userdel", sysname])
        if proc.returncode == 8:
            raise SystemUserError(f"cannot delete {sysname!r}: it still runs processes")
        if proc.returncode != 0:
            raise SystemUserError(f"userdel {sysname} failed: {proc.stderr.strip()}")
        home = Path(pw.pw_dir)
        # Only the home we gave it, never a shared directory.
        if remove_home and home.parent == HOME_ROOT and home.name == sysname:
            shutil.rmtree(home, ignore_errors=True)
