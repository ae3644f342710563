"""Checks of every name and date that comes from a request, before any path is built."""

from __future__ import annotations

import datetime as dt
import re

from ._errors import BadRequest

__all__ = ["LAB_ID", "check_grade_id", "check_group", "check_lab_id", "check_owner", "parse_due"]

#: Lab ids, as lab.toml requires them.
LAB_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_OWNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$")
_GRADE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
_GROUP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,199}$")


def check_lab_id(lab):
    """Return ``lab`` if it is a valid lab id, else raise :class:`BadRequest`.

    Examples
    --------
    >>> check_lab_id("example-intro")
    'example-intro'
    """
    if not isinstance(lab, str) or not LAB_ID.match(lab):
        raise BadRequest(
            f"invalid lab id {str(lab)[:80]!r}: lowercase letters, digits and '-', "
            "starting with a letter or digit, at most 63 characters"
        )
    return lab


def check_owner(owner):
    """Return ``owner`` (a username or team name) if safe as a path component."""
    if not isinstance(owner, str) or not _OWNER.match(owner) or ".." in owner:
        raise BadRequest(f"invalid learner or team name {str(owner)[:80]!r}")
    return owner


def check_grade_id(grade_id):
    """Return ``grade_id`` if it looks like an nbgrader grade id."""
    if not isinstance(grade_id, str) or not _GRADE_ID.match(grade_id):
        raise BadRequest(f"invalid item id {str(grade_id)[:80]!r}")
    return grade_id


def check_group(group):
    """Return ``group`` if it looks like a hub group name."""
    if not isinstance(group, str) or not _GROUP.match(group):
        raise BadRequest(f"invalid group name {str(group)[:80]!r}")
    return group


def parse_due(value):
    """Parse a due date: ISO 8601 with a time zone; None or "" for no due date.

    Parameters
    ----------
    value : str or None
        E.g. ``"2025-03-01T17:00:00+01:00"`` or ``"2025-03-01T16:00Z"``.

    Returns
    -------
    datetime.datetime or None
        Timezone-aware, in UTC.

    Raises
    ------
    BadRequest
        Not a string, not ISO 8601, or without a time zone.

    Examples
    --------
    >>> parse_due("2025-03-01T17:00:00+01:00").isoformat()
    '2025-03-01T16:00:00+00:00'
    """
    if value is None or value == "":
        return None
    example = "e.g. 2025-03-01T17:00:00+01:00"
    if not isinstance(value, str) or len(value) > 64:
        raise BadRequest(f"due date must be an ISO 8601 string with a time zone ({example})")
    try:
        when = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest(
            f"due date {value!r} is not ISO 8601 date and time with a time zone ({example})"
        ) from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise BadRequest(f"due date {value!r} has no time zone ({example})")
    return when.astimezone(dt.UTC)
