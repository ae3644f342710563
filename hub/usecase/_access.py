"""Use cases: names, who may act, and small file helpers shared by the store's modules."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import secrets
import threading
from pathlib import PurePosixPath

from ai4scale.hub.course._errors import BadRequest, Conflict

__all__ = [
    "ANNEX_III",
    "FIELDS",
    "RESERVED_IDS",
    "check_name",
    "check_question_id",
    "check_usecase_id",
    "check_workspace_path",
    "may_access",
    "questionnaire",
]

FIELDS = (
    "title",
    "administration",
    "decision",
    "affected",
    "legal_basis",
    "ai_act_area",
    "not_high_risk_reason",
)

#: AI Act Annex III points (high-risk areas) a use case may name, or ``not-high-risk``.
ANNEX_III = {
    "1a": "Remote biometric identification",
    "1b": "Biometric categorisation by sensitive attributes",
    "1c": "Emotion recognition",
    "2": "Critical infrastructure (safety components)",
    "3a": "Education: access or admission",
    "3b": "Education: evaluating learning outcomes",
    "3c": "Education: assessing the level of education",
    "3d": "Education: monitoring behaviour during tests",
    "4a": "Employment: recruitment and selection",
    "4b": "Employment: decisions on work relationships",
    "5a": "Public assistance benefits and services: eligibility",
    "5b": "Creditworthiness and credit scores",
    "5c": "Life and health insurance: risk and pricing",
    "5d": "Emergency calls and first-response dispatch",
    "6a": "Law enforcement: risk of becoming a victim",
    "6b": "Law enforcement: polygraphs and similar tools",
    "6c": "Law enforcement: reliability of evidence",
    "6d": "Law enforcement: risk of offending or re-offending",
    "6e": "Law enforcement: profiling",
    "7a": "Migration: polygraphs and similar tools",
    "7b": "Migration: security, irregular migration or health risk",
    "7c": "Migration: asylum, visa and residence applications",
    "7d": "Migration: detecting and identifying persons",
    "8a": "Justice: assisting judicial authorities",
    "8b": "Democratic processes: influencing elections",
    "not-high-risk": "Not high-risk (give the reason)",
}

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_QID = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MAX_FIELD = 20_000
_REFUSED_MODEL_SUFFIXES = (".pkl", ".pickle", ".joblib", ".dill", ".sav")
_KEY_FILE = "pseudonym.key"
#: What a snapshot keeps of a table's detected format (no preview rows).
_FORMAT_KEYS = ("format", "encoding", "separator", "decimal", "rows", "columns", "dtypes")
_EDITS_FILE = "datasheet.edited.json"

_locks_guard = threading.Lock()
_locks = {}


def _lock(*key):
    with _locks_guard:
        return _locks.setdefault(key, threading.RLock())


def _utcnow():
    return dt.datetime.now(dt.UTC)


def _iso(when):
    return when.isoformat() if when is not None else None


# -- names -----------------------------------------------------------------------------


def check_usecase_id(usecase_id):
    """Return ``usecase_id`` if it is a valid use-case id, else raise :class:`BadRequest`."""
    if not isinstance(usecase_id, str) or not _ID.match(usecase_id):
        raise BadRequest(
            f"invalid use case id {str(usecase_id)[:80]!r}: lowercase letters, digits and "
            "'-', at most 63 characters"
        )
    return usecase_id


def check_name(name, what="name"):
    """Return a dataset or model ``name`` if safe as a file name, else raise BadRequest."""
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise BadRequest(
            f"invalid {what} {str(name)[:80]!r}: letters, digits, '_', '-' and '.', "
            "at most 100 characters, no '..'"
        )
    return name


def check_question_id(qid):
    """Return a questionnaire question id (``why.problem``) if well formed."""
    if not isinstance(qid, str) or len(qid) > 100 or not _QID.match(qid):
        raise BadRequest(f"invalid question id {str(qid)[:80]!r}")
    return qid


def check_workspace_path(path):
    """Return ``path`` (relative, in the team workspace) if it has no ``..`` and is not absolute."""
    if not isinstance(path, str) or not path or len(path) > 1000 or "\\" in path:
        raise BadRequest("give the file's path in the team workspace, e.g. data/cases.csv")
    parts = PurePosixPath(path).parts
    if path.startswith("/") or any(p in ("..", ".") for p in parts) or "\x00" in path:
        raise BadRequest(f"invalid path {path[:80]!r}: a path inside the workspace, without '..'")
    return path


#: Ids the API's own paths use (``/usecases/questionnaire``).
RESERVED_IDS = frozenset({"questionnaire"})


def _slug(text):
    slug = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")[:50].strip("-")
    return slug or "use-case"


def may_access(person, team):
    """Return whether ``person`` may see and change the use cases of ``team``.

    Members of hub group ``team-<team>``, the team's workspace user
    ``team-<team>`` and instructors may.
    """
    from ai4scale.hub.teams import team_group, workspace_user

    if person is None:
        return False
    if person.instructor:
        return True
    return person.name == workspace_user(team) or team_group(team) in person.groups


def _teams_of(person):
    from ai4scale.hub.teams import TEAM_PREFIX, WORKSPACES_GROUP, is_workspace_user

    teams = {
        g[len(TEAM_PREFIX) :]
        for g in person.groups
        if g.startswith(TEAM_PREFIX) and g != WORKSPACES_GROUP
    }
    if is_workspace_user(person.name):
        teams.add(person.name[len(TEAM_PREFIX) :])
    return teams


def questionnaire():
    """Return the questionnaire instrument (``fria.yaml``, checked) as a fresh dict."""
    from ._questionnaire import load_instrument

    return json.loads(json.dumps(load_instrument()))


def _sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_atomic(path, data):
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _mkdir(path):
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _intake_module():
    try:
        from . import _intake
    except ImportError as e:  # part "intake" not installed yet
        raise Conflict(f"reading tables is not available in this installation ({e})") from None
    return _intake
