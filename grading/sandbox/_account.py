"""The dedicated, unprivileged system account that runs learners' code while grading.

One account (:data:`GRADER_ACCOUNT`) with its own group, no home, no login
shell and no membership in the learners' group. It is never root and never
a learner's account: :func:`ensure_grader_account` refuses to adopt either.
"""

from __future__ import annotations

import grp
import pwd

from ai4scale.hub.system_users import USERS_GROUP, SystemUserError, _lock, _run

__all__ = ["GRADER_ACCOUNT", "ensure_grader_account", "remove_grader_account"]

#: Default name of the grading account.
GRADER_ACCOUNT = "ai4scale-grader"

_GECOS = "AI4Scale grading sandbox"


def _check_not_privileged(pw):
    if pw.pw_uid == 0 or pw.pw_gid == 0:
        raise SystemUserError(f"refusing to grade as {pw.pw_name!r}: it is root")
    try:
        learners = grp.getgrnam(USERS_GROUP).gr_mem
    except KeyError:
        learners = []
    if pw.pw_name in learners:
        raise SystemUserError(f"refusing to grade as {pw.pw_name!r}: it is a learner's account")


def ensure_grader_account(name=GRADER_ACCOUNT):
    """Create the grading account unless it exists; return it.

    A new account is a system account (``useradd --system``) with its own
    group, home ``/nonexistent`` (not created), shell ``/usr/sbin/nologin``
    and a locked password. Calling again is harmless.

    Parameters
    ----------
    name : str
        Account name.

    Returns
    -------
    pwd.struct_passwd

    Raises
    ------
    SystemUserError
        When the account is root or a learner's account, an existing account
        was not made by us (other GECOS), or useradd fails.
    """
    with _lock:
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            pw = None
        if pw is None:
            proc = _run(
                [
                    "useradd",
                    "--system",
                    "--user-group",
                    "--no-create-home",
                    "--home-dir",
                    "/nonexistent",
                    "--shell",
                    "/usr/sbin/nologin",
                    "--comment",
                    _GECOS,
                    name,
                ]
            )
            # 9: created meanwhile by another process.
            if proc.returncode not in (0, 9):
                raise SystemUserError(f"useradd {name} failed: {proc.stderr.strip()}")
            pw = pwd.getpwnam(name)
    _check_not_privileged(pw)
    if pw.pw_gecos != _GECOS:
        raise SystemUserError(
            f"refusing to grade as {name!r}: the account exists and was not made for grading"
        )
    return pw


def remove_grader_account(name=GRADER_ACCOUNT):
    """Delete the grading account made by :func:`ensure_grader_account`; idempotent.

    Parameters
    ----------
    name : str
        Account name.

    Raises
    ------
    SystemUserError
        When the account was not made for grading, or userdel fails.
    """
    with _lock:
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            return
        if pw.pw_gecos != _GECOS:
            raise SystemUserError(f"refusing to delete {name!r}: it was not made for grading")
        proc = _run(["userdel", name])
        if proc.returncode != 0:
            raise SystemUserError(f"userdel {name} failed: {proc.stderr.strip()}")
