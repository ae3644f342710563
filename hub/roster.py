"""Read and check the course roster CSV.

The roster is a CSV file with the header ``username,full_name,role,team``::

    username,full_name,role,team
    amina,Amina Haddad,learner,tax-office
    jonas,Jonas Berg,learner,
    eva,Eva Novak,instructor,tax-office

:func:`read_roster` checks every line and collects *all* problems, one per
line, before anything is applied: a roster with a single bad line is refused
whole (:class:`RosterError`), so an import never leaves half a course behind.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from ._errors import UserError

__all__ = [
    "COLUMNS",
    "MAX_NAME_LENGTH",
    "RESERVED_TEAMS",
    "RESERVED_USERNAMES",
    "WORKSPACE_PREFIX",
    "ROLES",
    "RosterEntry",
    "RosterError",
    "UsernameError",
    "read_roster",
    "team_problem",
    "username_problem",
    "validate_username",
]

#: Columns of the roster file; ``team`` may be left out or empty.
COLUMNS = ("username", "full_name", "role", "team")
REQUIRED_COLUMNS = ("username", "full_name", "role")

#: Roles a roster line may give.
ROLES = ("learner", "instructor")

#: Longest username or team name (system account names stay short).
MAX_NAME_LENGTH = 32
MAX_FULL_NAME_LENGTH = 200

_USERNAME_RE = re.compile(r"[a-z][a-z0-9_-]*")
_TEAM_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")

#: Names that belong to the system or to the hub, never to a learner.
RESERVED_USERNAMES = frozenset(
    {
        "root",
        "admin",
        "administrator",
        "daemon",
        "bin",
        "sys",
        "sync",
        "games",
        "man",
        "lp",
        "mail",
        "news",
        "uucp",
        "proxy",
        "www-data",
        "backup",
        "list",
        "irc",
        "gnats",
        "nobody",
        "nogroup",
        "sshd",
        "messagebus",
        "postgres",
        "docker",
        "operator",
        "jupyter",
        "jupyterhub",
        "ai4scale",
        "hub",
        "user",
        "users",
        "api",
    }
)


#: Hub users ``team-<team>`` are team workspaces (:mod:`.teams`), not people.
WORKSPACE_PREFIX = "team-"

#: Team names whose hub group the sandbox uses for itself (``team-workspaces``).
RESERVED_TEAMS = frozenset({"workspaces"})


class RosterError(UserError):
    """The roster cannot be imported; ``errors`` lists every problem, one per line.

    Parameters
    ----------
    errors : list of str
        One message per problem, each naming the file and the line.
    """

    def __init__(self, errors):
        self.errors = list(errors)
        count = len(self.errors)
        head = f"roster refused ({count} problem{'s' if count != 1 else ''}), nothing imported:"
        super().__init__("\n".join([head, *(f"  {e}" for e in self.errors)]))


class UsernameError(UserError, ValueError):
    """A username that cannot be a sandbox account."""


@dataclass(frozen=True)
class RosterEntry:
    """One member of the course, as given by one roster line.

    Attributes
    ----------
    username : str
        Login name (lowercase, ``[a-z][a-z0-9_-]*``, at most 32 characters).
    full_name : str
        Name shown to instructors.
    role : str
        ``"learner"`` or ``"instructor"``.
    team : str or None
        Team name (hub group ``team-<team>``), or None.
    """

    username: str
    full_name: str
    role: str
    team: str | None = None


def _name_problem(kind, name, pattern, rule):
    if not name:
        return f"{kind} is empty"
    if len(name) > MAX_NAME_LENGTH:
        shown = name[:16] + "..."
        return (
            f"{kind} {shown!r} is {len(name)} characters long (at most {MAX_NAME_LENGTH} allowed)"
        )
    if not pattern.fullmatch(name):
        hint = " (use lower case)" if pattern.fullmatch(name.lower()) else ""
        return f"{kind} {name!r} is not allowed{hint}: {rule}"
    return None


def username_problem(name):
    """Return why ``name`` cannot be a username, or None if it can.

    Parameters
    ----------
    name : str

    Returns
    -------
    str or None
        A one-line explanation, e.g. ``"username 'root' is reserved"``.
    """
    problem = _name_problem(
        "username",
        name,
        _USERNAME_RE,
        "start with a lowercase letter, then lowercase letters, digits, '_' or '-'",
    )
    if problem is None and name in RESERVED_USERNAMES:
        problem = f"username {name!r} is reserved for the system"
    if problem is None and name.startswith(WORKSPACE_PREFIX):
        problem = (
            f"username {name!r} is not allowed: names starting with "
            f"{WORKSPACE_PREFIX!r} belong to team workspaces"
        )
    return problem


def validate_username(name):
    """Return ``name`` if it is a valid sandbox username, else raise.

    Valid names match ``[a-z][a-z0-9_-]*``, have at most 32 characters, do
    not start with ``team-`` (team workspaces) and are not reserved
    (``root``, ``admin``, ``daemon``, ``nobody``, ``jupyterhub``, ...).

    Parameters
    ----------
    name : str

    Returns
    -------
    str
        The same name.

    Raises
    ------
    UsernameError
        With a message saying what is wrong.

    Examples
    --------
    >>> validate_username("amina")
    'amina'
    >>> validate_username("../root")
    Traceback (most recent call last):
    ...
    ai4scale.hub.roster.UsernameError: username '../root' is not allowed: ...
    """
    problem = username_problem(name)
    if problem:
        raise UsernameError(problem)
    return name


def team_problem(team):
    """Return why ``team`` cannot be a team name, or None if it can.

    Parameters
    ----------
    team : str

    Returns
    -------
    str or None
    """
    problem = _name_problem(
        "team",
        team,
        _TEAM_RE,
        "lowercase letters, digits, '_' or '-', starting with a letter or digit",
    )
    if problem is None and team in RESERVED_TEAMS:
        problem = f"team {team!r} is reserved"
    return problem


def _check_header(fieldnames, where):
    if not fieldnames:
        return [f"{where} line 1: the file is empty; expected the header {','.join(COLUMNS)}"]
    header = [(name or "").strip().lower() for name in fieldnames]
    errors = []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        errors.append(
            f"{where} line 1: missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (header must be {','.join(COLUMNS)})"
        )
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        errors.append(
            f"{where} line 1: unknown column{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(u) for u in unknown)} (header must be {','.join(COLUMNS)})"
        )
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        errors.append(f"{where} line 1: column {', '.join(duplicated)} given twice")
    return errors


def _check_row(values, header, where, line, seen):
    """Return (entry or None, list of problems) for one data row; note its username."""
    if len(values) != len(header):
        return None, [
            f"{where}: expected {len(header)} fields ({','.join(header)}), found {len(values)}"
        ]
    row = {name: value.strip() for name, value in zip(header, values, strict=True)}
    problems = []

    username = row["username"]
    problem = username_problem(username)
    if problem:
        problems.append(problem)
    elif username in seen:
        problems.append(f"duplicate username {username!r} (first on line {seen[username]})")
    else:
        seen[username] = line

    full_name = row["full_name"]
    if not full_name:
        problems.append("full_name is empty")
    elif len(full_name) > MAX_FULL_NAME_LENGTH:
        problems.append(f"full_name is longer than {MAX_FULL_NAME_LENGTH} characters")
    elif any(ord(ch) < 32 or ord(ch) == 127 for ch in full_name):
        problems.append("full_name contains control characters")

    role = row["role"].lower()
    if role not in ROLES:
        problems.append(f"unknown role {row['role']!r} (use {' or '.join(ROLES)})")

    team = row.get("team") or None
    if team is not None:
        problem = team_problem(team)
        if problem:
            problems.append(problem)

    if problems:
        return None, [f"{where}: {p}" for p in problems]
    return RosterEntry(username, full_name, role, team), []


def read_roster(path):
    """Read and check a roster CSV file.

    Parameters
    ----------
    path : str or Path
        The CSV file (UTF-8, with or without a byte-order mark) with the
        header ``username,full_name,role,team``.

    Returns
    -------
    list of RosterEntry
        In file order.

    Raises
    ------
    RosterError
        If the file cannot be read or any line is wrong; ``errors`` holds one
        message per problem, each naming the file and line, e.g.
        ``"roster.csv line 4: username 'Root' is not allowed (use lower case): ..."``.
    """
    where_file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RosterError([f"{where_file}: no such file"]) from None
    except UnicodeDecodeError as e:
        raise RosterError([f"{where_file}: not UTF-8 text ({e.reason})"]) from None
    except OSError as e:
        raise RosterError([f"{where_file}: cannot read ({e.strerror})"]) from None

    reader = csv.reader(text.splitlines(keepends=True))
    try:
        fieldnames = next(reader, None)
        header_errors = _check_header(fieldnames, where_file)
        if header_errors:
            raise RosterError(header_errors)
        header = [name.strip().lower() for name in fieldnames]
        errors, entries, seen = [], [], {}
        for values in reader:
            if not values or all(not v.strip() for v in values):
                continue  # blank line
            line = reader.line_num
            where = f"{where_file} line {line}"
            entry, problems = _check_row(values, header, where, line, seen)
            errors.extend(problems)
            if entry is not None:
                entries.append(entry)
    except csv.Error as e:
        raise RosterError([f"{where_file} line {reader.line_num}: not valid CSV ({e})"]) from None
    if not errors and not entries:
        errors.append(
            f"{where_file}: no users in the roster (an empty roster would remove everyone)"
        )
    if errors:
        raise RosterError(errors)
    return entries
