"""The account store: roster members, their passwords, codes and lockouts.

One SQLAlchemy table, ``accounts``, in its own SQLite file under the state
directory (mode 0600, root only). The ``ai4scale`` command writes it
(roster import, one-time codes); the hub's :class:`~ai4scale.hub.auth.RosterAuthenticator`
reads it at each login.

Secrets are never stored in clear: passwords and one-time codes are hashed
by :mod:`ai4scale.hub._hashing` (scrypt with a random salt).
"""

from __future__ import annotations

import enum
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import DateTime, Integer, String, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from ._errors import UserError
from ._hashing import _dummy_hash, _normalize_code, hash_secret, verify_secret
from ._state import state_dir
from .roster import RosterEntry, RosterError, team_problem, username_problem

__all__ = [
    "CODE_ALPHABET",
    "AccountInfo",
    "AccountStore",
    "CodeError",
    "ImportReport",
    "LoginResult",
    "PasswordError",
    "UnknownAccountError",
    "hash_secret",
    "verify_secret",
]

#: One-time codes use letters and digits that cannot be mistaken for each other.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_GROUPS, CODE_GROUP_LENGTH = 4, 4
MAX_PASSWORD_LENGTH = 1024


class UnknownAccountError(UserError, LookupError):
    """No account with that username."""


class PasswordError(UserError, ValueError):
    """A new password that does not meet the rules."""


class CodeError(UserError, ValueError):
    """A one-time code that cannot be redeemed.

    Attributes
    ----------
    reason : str
        ``"unknown"`` (no such account), ``"no_code"``, ``"wrong"`` or ``"expired"``.
    """

    def __init__(self, message, reason):
        super().__init__(message)
        self.reason = reason


class LoginResult(enum.StrEnum):
    """Outcome of :meth:`AccountStore.verify_login`."""

    OK = "ok"
    BAD = "bad"
    LOCKED = "locked"
    UNKNOWN = "unknown"
    NO_PASSWORD = "no_password"


class _Base(DeclarativeBase):
    pass


class Account(_Base):
    """One roster member (a row of ``accounts``). Times are naive UTC."""

    __tablename__ = "accounts"

    username: Mapped[str] = mapped_column(String(32), primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    team: Mapped[str | None] = mapped_column(String(32), nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    code_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    code_expires: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime)
    updated: Mapped[datetime] = mapped_column(DateTime)


@dataclass(frozen=True)
class AccountInfo:
    """What may be shown about an account (no hashes).

    ``locked`` and ``code_valid`` are as of the moment the account was read.
    """

    username: str
    full_name: str
    role: str
    team: str | None
    password_set: bool
    locked: bool
    locked_until: datetime | None
    failed_logins: int
    code_valid: bool
    code_expires: datetime | None
    created: datetime
    updated: datetime


@dataclass
class ImportReport:
    """What a roster import changed (or would change, for a dry run)."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def changed(self):
        """Whether anything was (or would be) added, updated or removed."""
        return bool(self.added or self.updated or self.removed)

    def summary(self):
        """Return ``"2 added, 1 updated, 0 removed, 5 unchanged"``."""
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.removed)} removed, {len(self.unchanged)} unchanged"
        )


def _sqlite_file(url):
    """Return the database file of a SQLite URL, or None for other databases."""
    url = make_url(url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def _create_private_file(path):
    """Create ``path`` (and its directory) readable by root only, if missing."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


class AccountStore:
    """The accounts table behind a SQLAlchemy URL.

    Parameters
    ----------
    url : str
        SQLAlchemy URL, e.g. ``sqlite:////srv/ai4scale/state/accounts.sqlite``.
        A SQLite file is created with mode 0600.
    min_password_length : int
        Shortest password :meth:`set_password` and :meth:`redeem_code` accept.
    clock : callable, optional
        Returns the current time as an aware UTC datetime; tests pass their own.
    """

    def __init__(self, url, *, min_password_length=10, clock=None):
        self.url = url
        self.min_password_length = min_password_length
        self._clock = clock or (lambda: datetime.now(UTC))
        db_file = _sqlite_file(url)
        if db_file is not None:
            _create_private_file(db_file)
        connect_args = {"timeout": 30} if db_file is not None else {}
        self.engine = create_engine(url, connect_args=connect_args)
        if db_file is not None:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        _Base.metadata.create_all(self.engine)

    @classmethod
    def from_settings(cls, settings, *, create=True):
        """Return the store in the state directory of ``settings``.

        Parameters
        ----------
        settings : dict
            Loaded settings (``paths.state_dir``, ``auth.min_password_length``).
        create : bool
            If False and ``accounts.sqlite`` does not exist yet, return None
            instead of creating it (the configurer does this at hub start).

        Returns
        -------
        AccountStore or None
        """
        path = state_dir(settings) / "accounts.sqlite"
        if not create and not path.exists():
            return None
        min_length = settings.get("auth", {}).get("min_password_length", 10)
        return cls(f"sqlite:///{path}", min_password_length=min_length)

    # -- time --------------------------------------------------------------

    def _now(self):
        """Return the current time as naive UTC (how the table stores times)."""
        return self._clock().astimezone(UTC).replace(tzinfo=None)

    # -- reading -----------------------------------------------------------

    def _info(self, account, now):
        return AccountInfo(
            username=account.username,
            full_name=account.full_name,
            role=account.role,
            team=account.team,
            password_set=account.password_hash is not None,
            locked=account.locked_until is not None and account.locked_until > now,
            locked_until=account.locked_until,
            failed_logins=account.failed_logins,
            code_valid=account.code_hash is not None
            and account.code_expires is not None
            and account.code_expires > now,
            code_expires=account.code_expires,
            created=account.created,
            updated=account.updated,
        )

    def list_accounts(self):
        """Return every account, sorted by username.

        Returns
        -------
        list of AccountInfo
        """
        now = self._now()
        with Session(self.engine) as session:
            rows = session.scalars(select(Account).order_by(Account.username))
            return [self._info(a, now) for a in rows]

    def get(self, username):
        """Return the account ``username``, or None.

        Parameters
        ----------
        username : str

        Returns
        -------
        AccountInfo or None
        """
        with Session(self.engine) as session:
            account = session.get(Account, username)
            return None if account is None else self._info(account, self._now())

    def usernames(self):
        """Return the usernames of all roster members, sorted.

        Returns
        -------
        list of str
        """
        with Session(self.engine) as session:
            return list(session.scalars(select(Account.username).order_by(Account.username)))

    def groups(self):
        """Return the hub groups the roster defines.

        Returns
        -------
        dict of str to list of str
            ``{"instructors": [...], "learners": [...], "team-<team>": [...]}``;
            ``instructors`` and ``learners`` are always present, a team group
            holds its members of any role. Member lists are sorted.
        """
        groups = {"instructors": [], "learners": []}
        for account in self.list_accounts():
            groups[f"{account.role}s"].append(account.username)
            if account.team:
                groups.setdefault(f"team-{account.team}", []).append(account.username)
        return groups

    # -- the roster --------------------------------------------------------

    def import_roster(self, entries, *, dry_run=False):
        """Make the accounts match ``entries``: the roster is the whole course.

        New members are added (without a password), changed ones updated
        (passwords kept), and accounts missing from ``entries`` removed. All of
        it happens in one transaction.

        Parameters
        ----------
        entries : list of RosterEntry
            As returned by :func:`~ai4scale.hub.roster.read_roster`.
        dry_run : bool
            Compute the report, change nothing.

        Returns
        -------
        ImportReport

        Raises
        ------
        RosterError
            If ``entries`` has duplicate or invalid names (nothing is changed).
        """
        _check_entries(entries)
        report = ImportReport(dry_run=dry_run)
        now = self._now()
        wanted = {e.username: e for e in entries}
        with Session(self.engine) as session:
            existing = {a.username: a for a in session.scalars(select(Account))}
            for name in sorted(set(existing) - set(wanted)):
                report.removed.append(name)
                session.delete(existing[name])
            for name in sorted(wanted):
                entry = wanted[name]
                account = existing.get(name)
                if account is None:
                    report.added.append(name)
                    session.add(
                        Account(
                            username=name,
                            full_name=entry.full_name,
                            role=entry.role,
                            team=entry.team,
                            failed_logins=0,
                            created=now,
                            updated=now,
                        )
                    )
                elif (account.full_name, account.role, account.team) != (
                    entry.full_name,
                    entry.role,
                    entry.team,
                ):
                    report.updated.append(name)
                    account.full_name, account.role, account.team = (
                        entry.full_name,
                        entry.role,
                        entry.team,
                    )
                    account.updated = now
                else:
                    report.unchanged.append(name)
            if dry_run:
                session.rollback()
            else:
                session.commit()
        return report

    # -- passwords ---------------------------------------------------------

    def _check_password(self, username, password):
        if len(password) < self.min_password_length:
            raise PasswordError(
                f"the password is too short: use at least {self.min_password_length} characters"
            )
        if len(password) > MAX_PASSWORD_LENGTH:
            raise PasswordError(f"the password is longer than {MAX_PASSWORD_LENGTH} characters")
        if not password.strip():
            raise PasswordError("the password is only spaces")
        if password.strip().lower() == username.lower():
            raise PasswordError("the password must not be the username")

    def _account(self, session, username):
        account = session.get(Account, username)
        if account is None:
            raise UnknownAccountError(f"no account {username!r} in the roster")
        return account

    def set_password(self, username, password):
        """Set a new password (an administrator's action).

        Any outstanding one-time code is cancelled; failures and locks are kept.

        Parameters
        ----------
        username : str
        password : str
            At least ``min_password_length`` characters, not the username.

        Raises
        ------
        UnknownAccountError, PasswordError
        """
        self._check_password(username, password)
        with Session(self.engine) as session, session.begin():
            account = self._account(session, username)
            account.password_hash = hash_secret(password)
            account.code_hash = account.code_expires = None
            account.updated = self._now()

    def issue_code(self, username, *, ttl_hours):
        """Issue a one-time code with which the member sets a password.

        A new code replaces any earlier one. Only its hash is stored.

        Parameters
        ----------
        username : str
        ttl_hours : float
            How long the code stays valid.

        Returns
        -------
        str
            The code, e.g. ``"K7QM-3XHP-W9TD-RC4N"``: 16 characters from
            :data:`CODE_ALPHABET` (80 bits) in four groups.

        Raises
        ------
        UnknownAccountError
        """
        chars = [secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUPS * CODE_GROUP_LENGTH)]
        groups = [
            "".join(chars[i : i + CODE_GROUP_LENGTH])
            for i in range(0, len(chars), CODE_GROUP_LENGTH)
        ]
        code = "-".join(groups)
        with Session(self.engine) as session, session.begin():
            account = self._account(session, username)
            now = self._now()
            account.code_hash = hash_secret(_normalize_code(code))
            account.code_expires = now + timedelta(hours=ttl_hours)
            account.updated = now
        return code

    def redeem_code(self, username, code, new_password):
        """Set the password with a one-time code; the code is then used up.

        Redeeming also clears failed logins and any lock: the instructor who
        gave the code vouches for the member.

        Parameters
        ----------
        username : str
        code : str
            As issued; case, spaces and dashes do not matter.
        new_password : str

        Raises
        ------
        PasswordError
            The new password breaks the rules (the code stays valid).
        CodeError
            No such account, no code, a wrong code or an expired one.
        """
        self._check_password(username, new_password)
        with Session(self.engine) as session, session.begin():
            account = session.get(Account, username)
            if account is None:
                verify_secret(code, _dummy_hash())
                raise CodeError("the username or the one-time code is wrong", "unknown")
            if account.code_hash is None:
                raise CodeError(
                    "there is no one-time code for this account: ask your instructor for one",
                    "no_code",
                )
            if not verify_secret(_normalize_code(code), account.code_hash):
                raise CodeError("the username or the one-time code is wrong", "wrong")
            now = self._now()
            if account.code_expires is None or account.code_expires <= now:
                raise CodeError(
                    "the one-time code has expired: ask your instructor for a new one", "expired"
                )
            account.password_hash = hash_secret(new_password)
            account.code_hash = account.code_expires = None
            account.failed_logins = 0
            account.locked_until = None
            account.updated = now

    def verify_login(self, username, password, *, max_attempts, lockout_seconds):
        """Check a login, counting failures and locking the account after too many.

        Parameters
        ----------
        username : str
        password : str
        max_attempts : int
            Consecutive failures after which the account is locked.
        lockout_seconds : float
            How long the lock lasts. While locked, even the right password is
            refused; when the lock expires the count starts again from zero.

        Returns
        -------
        LoginResult
            ``OK``; ``BAD`` (wrong password; the failure that reaches
            ``max_attempts`` is ``BAD`` too and locks the account); ``LOCKED``
            (locked: the password was not even checked); ``UNKNOWN`` (not in the
            roster); ``NO_PASSWORD`` (no password set yet).
        """
        with Session(self.engine) as session, session.begin():
            account = session.get(Account, username)
            if account is None:
                verify_secret(password, _dummy_hash())
                return LoginResult.UNKNOWN
            now = self._now()
            if account.locked_until is not None:
                if account.locked_until > now:
                    return LoginResult.LOCKED
                account.locked_until = None
                account.failed_logins = 0
            if account.password_hash is None:
                return LoginResult.NO_PASSWORD
            if verify_secret(password, account.password_hash):
                account.failed_logins = 0
                return LoginResult.OK
            account.failed_logins += 1
            if account.failed_logins >= max_attempts:
                # This attempt is reported as BAD; the next ones as LOCKED.
                account.locked_until = now + timedelta(seconds=lockout_seconds)
            return LoginResult.BAD

    def unlock(self, username):
        """Clear the failed-login count and any lock of ``username``.

        Raises
        ------
        UnknownAccountError
        """
        with Session(self.engine) as session, session.begin():
            account = self._account(session, username)
            account.failed_logins = 0
            account.locked_until = None
            account.updated = self._now()

    def close(self):
        """Release the database connections."""
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection, connection_record):
    # Wait for the other writer (hub or command) rather than fail at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.close()


def _check_entries(entries):
    """Refuse entries that :func:`read_roster` would have refused."""
    errors, seen = [], set()
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, RosterEntry):
            errors.append(f"entry {i}: not a RosterEntry: {entry!r}")
            continue
        problems = [username_problem(entry.username)]
        if entry.username in seen:
            problems.append(f"duplicate username {entry.username!r}")
        seen.add(entry.username)
        if entry.role not in ("learner", "instructor"):
            problems.append(f"unknown role {entry.role!r}")
        if entry.team is not None:
            problems.append(team_problem(entry.team))
        if not entry.full_name:
            problems.append("full_name is empty")
        errors.extend(f"entry {i}: {p}" for p in problems if p)
    if errors:
        raise RosterError(errors)
