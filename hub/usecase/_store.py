"""Use cases in the gradebook database and the course service's root-only area.

The library layer under the REST API (:mod:`._handlers`) and the ``ai4scale
usecase`` command: every function takes the :class:`~ai4scale.hub.course.Person`
who acts and checks, here on the server, that they may (members of the owner
team, the team's workspace user, instructors). Files live under
``course.path("usecases", <id>)`` (mode 0700)::

    usecases/<id>/pseudonym.key          the keyed-hash key (never exported)
    usecases/<id>/datasets/<name>/       an Intake folder (intake.json, table.parquet)
    usecases/<id>/models/<name>/<file>   the uploaded model, as uploaded
    usecases/.uploads/                   requests being received (deleted after)

Datasets go through :class:`ai4scale.hub.usecase._intake.Intake` (part
"intake"), imported when first used.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
from pathlib import Path, PurePosixPath

from ai4scale.hub.course._errors import BadRequest, Conflict, Forbidden, NotFound
from sqlalchemy import select

__all__ = [
    "ANNEX_III",
    "FIELDS",
    "UseCaseStore",
    "check_name",
    "check_usecase_id",
    "check_workspace_path",
    "generate_notebook",
    "may_access",
    "questionnaire",
]

#: The use case's versioned fields (``PUT /usecases/{id}`` takes any of them).
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


class UseCaseStore:
    """Use cases of a course: rows in its gradebook, files in its service directory.

    Parameters
    ----------
    course : ai4scale.hub.course.Course

    Examples
    --------
    >>> store = UseCaseStore(course)  # doctest: +SKIP
    >>> uc = store.create(person, {"title": "Benefit check", "ai_act_area": "5a"})
    ... # doctest: +SKIP
    """

    def __init__(self, course):
        self.course = course

    # -- plumbing ---------------------------------------------------------------------

    @property
    def gradebook(self):
        """The course's gradebook (migrated on first use)."""
        return self.course.gradebook

    def session(self):
        """Return a new ORM session of the gradebook."""
        return self.gradebook.session()

    def folder(self, usecase_id, *parts):
        """Return (creating, mode 0700) a folder of the use case's area."""
        root = _mkdir(self.course.path("usecases"))
        path = root / check_usecase_id(usecase_id)
        for part in parts:
            path = path / part
        return _mkdir(path)

    def upload_dir(self):
        """Return the folder of uploads being received (root only)."""
        return _mkdir(self.course.path("usecases", ".uploads"))

    def key(self, usecase_id):
        """Return the use case's pseudonymisation key (32 bytes), made on first use.

        The key stays in the service's area: it is in no API answer, no
        snapshot and no export.
        """
        path = self.folder(usecase_id) / _KEY_FILE
        with _lock("key", usecase_id):
            if not path.exists():
                _write_atomic(path, secrets.token_bytes(32))
        return path.read_bytes()

    def _row(self, s, usecase_id, person=None):
        from ai4scale.grading.gradebook import UseCase

        check_usecase_id(usecase_id)
        row = s.get(UseCase, usecase_id)
        if person is None:
            if row is None:
                raise NotFound(f"no use case {usecase_id!r}")
            return row
        if row is None:
            # Only instructors learn that an id is free: others cannot probe ids.
            if person.instructor:
                raise NotFound(f"no use case {usecase_id!r}")
            raise Forbidden("this use case belongs to another team")
        if not may_access(person, row.team):
            raise Forbidden("this use case belongs to another team")
        return row

    def authorize(self, person, usecase_id):
        """Return the owner team of ``usecase_id`` if ``person`` may act on it.

        Raises
        ------
        Forbidden
            Not a member of the owner team, its workspace or an instructor
            (also for an unknown id, unless the person is an instructor).
        NotFound
            An instructor asked for an unknown id.
        """
        with self.session() as s:
            return self._row(s, usecase_id, person).team

    # -- use cases --------------------------------------------------------------------

    def _fields(self, data, *, base=None):
        if not isinstance(data, dict):
            raise BadRequest("the use case must be a JSON object")
        unknown = set(data) - set(FIELDS) - {"id", "team"}
        if unknown:
            raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
        fields = dict(base or dict.fromkeys(FIELDS, ""))
        for key in FIELDS:
            if key in data:
                value = data[key]
                if value is None:
                    value = ""
                if not isinstance(value, str) or len(value) > _MAX_FIELD:
                    raise BadRequest(f"{key} must be text of at most {_MAX_FIELD} characters")
                fields[key] = value.strip()
        if len(fields["title"]) > 300:
            raise BadRequest("the title is longer than 300 characters")
        if not fields["title"]:
            raise BadRequest("give the use case a title")
        area = fields["ai_act_area"]
        if area and area not in ANNEX_III:
            raise BadRequest(
                f"unknown AI Act area {area[:40]!r}: an Annex III point "
                f"({', '.join(k for k in ANNEX_III if k != 'not-high-risk')}) or 'not-high-risk'"
            )
        if area == "not-high-risk" and not fields["not_high_risk_reason"]:
            raise BadRequest("say why the use case is not high-risk (not_high_risk_reason)")
        return fields

    def create(self, person, data):
        """Register a use case; return it (:meth:`get`).

        Parameters
        ----------
        person : Person
            Who registers it: a team member (the team is theirs) or an
            instructor (who names the team).
        data : dict
            :data:`FIELDS`, optional ``team`` and ``id`` (default: from the title).

        Raises
        ------
        BadRequest, Forbidden, Conflict
        """
        from ai4scale.grading.gradebook import UseCase, UseCaseVersion
        from ai4scale.hub.course._names import check_owner

        fields = self._fields(data)
        mine = sorted(_teams_of(person))
        team = data.get("team") or (mine[0] if len(mine) == 1 else None)
        if not team:
            raise BadRequest(
                "say which team owns the use case (team)"
                if person.instructor or mine
                else "only members of a team can register a use case: ask your trainer"
            )
        team = check_owner(team)
        if not may_access(person, team):
            raise Forbidden(f"you are not in team {team}")
        wanted = data.get("id")
        base = check_usecase_id(wanted) if wanted else _slug(fields["title"])
        with self.session() as s, s.begin():
            usecase_id = base
            n = 1
            while usecase_id in RESERVED_IDS or s.get(UseCase, usecase_id) is not None:
                if wanted:
                    raise Conflict(f"the use case id {wanted!r} is taken: choose another")
                n += 1
                usecase_id = f"{base}-{n}"
            row = UseCase(id=usecase_id, team=team, created_by=person.name)
            s.add(row)
            s.add(UseCaseVersion(usecase=row, version=1, author=person.name, **fields))
        self.key(usecase_id)
        return self.get(person, usecase_id)

    def _current(self, s, usecase_id):
        from ai4scale.grading.gradebook import UseCaseVersion

        return s.scalar(
            select(UseCaseVersion)
            .where(UseCaseVersion.usecase_id == usecase_id)
            .order_by(UseCaseVersion.version.desc())
            .limit(1)
        )

    @staticmethod
    def _version_dict(v):
        return {
            "version": v.version,
            "fields": {k: getattr(v, k) for k in FIELDS},
            "author": v.author,
            "created_at": _iso(v.created_at),
        }

    def _summary(self, s, row):
        v = self._current(s, row.id)
        return {
            "id": row.id,
            "team": row.team,
            "title": v.title,
            "fields": {k: getattr(v, k) for k in FIELDS},
            "version": v.version,
            "created_by": row.created_by,
            "created_at": _iso(row.created_at),
            "updated_at": _iso(v.created_at),
        }

    def list(self, person):
        """Return summaries of the use cases ``person`` may see (instructors: all)."""
        from ai4scale.grading.gradebook import UseCase

        with self.session() as s:
            query = select(UseCase).order_by(UseCase.id)
            if not person.instructor:
                query = query.where(UseCase.team.in_(sorted(_teams_of(person)) or [""]))
            return [self._summary(s, row) for row in s.scalars(query)]

    def get(self, person, usecase_id):
        """Return a use case: current fields, version, datasets, models, results."""
        with self.session() as s:
            row = self._row(s, usecase_id, person)
            out = self._summary(s, row)
            out["datasets"] = [self._dataset_dict(d) for d in self._datasets(s, row.id)]
            out["models"] = [self._model_dict(m) for m in self._models(s, row.id)]
            result = self._latest_result(s, row.id)
            out["results"] = (
                None
                if result is None
                else {
                    "notebook_sha256": result.notebook_sha256,
                    "created_at": _iso(result.created_at),
                    "author": result.author,
                }
            )
            return out

    def update(self, person, usecase_id, data):
        """Save the fields in ``data`` as a new version (others carried over); return it.

        Saving the same fields again makes no new version.
        """
        from ai4scale.grading.gradebook import UseCaseVersion

        if "team" in data or "id" in data:
            raise BadRequest("the id and the owner team of a use case cannot change")
        with self.session() as s, s.begin():
            row = self._row(s, usecase_id, person)
            current = self._current(s, row.id)
            old = {k: getattr(current, k) for k in FIELDS}
            fields = self._fields(data, base=old)
            if fields != old:
                s.add(
                    UseCaseVersion(
                        usecase_id=row.id,
                        version=current.version + 1,
                        author=person.name,
                        **fields,
                    )
                )
        return self.get(person, usecase_id)

    def versions(self, person, usecase_id):
        """Return every version of the use case's fields, oldest first."""
        with self.session() as s:
            row = self._row(s, usecase_id, person)
            return [self._version_dict(v) for v in row.versions]

    # -- datasets ---------------------------------------------------------------------

    def _datasets(self, s, usecase_id):
        from ai4scale.grading.gradebook import UseCaseDataset

        return list(
            s.scalars(
                select(UseCaseDataset)
                .where(UseCaseDataset.usecase_id == usecase_id)
                .order_by(UseCaseDataset.name)
            )
        )

    @staticmethod
    def _dataset_dict(d):
        return {
            "name": d.name,
            "status": d.status,
            "sha256": d.sha256,
            "state": d.state,
            "created_by": d.created_by,
            "created_at": _iso(d.created_at),
            "updated_at": _iso(d.updated_at),
        }

    def _dataset_row(self, s, usecase_id, name):
        from ai4scale.grading.gradebook import UseCaseDataset

        row = s.scalar(
            select(UseCaseDataset).where(
                UseCaseDataset.usecase_id == usecase_id, UseCaseDataset.name == name
            )
        )
        if row is None:
            raise NotFound(f"no table named {name!r} in this use case")
        return row

    def dataset_dir(self, usecase_id, name):
        """Return the Intake folder of a dataset (not created)."""
        return self.folder(usecase_id, "datasets") / check_name(name, "table name")

    def _intake(self, usecase_id, name):
        return _intake_module().Intake(self.dataset_dir(usecase_id, name))

    def _intake_error(self):
        return getattr(_intake_module(), "IntakeError", ValueError)

    def _status(self, folder, state):
        if (folder / "table.parquet").is_file():
            return "ready"
        status = state.get("status") if isinstance(state, dict) else None
        if isinstance(status, str) and status:
            return status[:20]
        return (
            "scanned"
            if isinstance(state, dict) and state.get("findings") is not None
            else ("received")
        )

    def _save_state(self, usecase_id, name, intake, *, person, sha256=None, create=False):
        from ai4scale.grading.gradebook import UseCaseDataset

        state = json.loads(json.dumps(intake.state(), default=str))
        folder = self.dataset_dir(usecase_id, name)
        with self.session() as s, s.begin():
            if create:
                row = s.scalar(
                    select(UseCaseDataset).where(
                        UseCaseDataset.usecase_id == usecase_id, UseCaseDataset.name == name
                    )
                )
                if row is None:
                    row = UseCaseDataset(usecase_id=usecase_id, name=name, created_by=person.name)
                    s.add(row)
                else:
                    row.created_by, row.created_at = person.name, _utcnow()
            else:
                row = self._dataset_row(s, usecase_id, name)
            if sha256 is not None:
                row.sha256 = sha256
            row.state = state
            row.status = self._status(folder, state)
            row.updated_at = _utcnow()
            s.flush()  # the defaults (created_at) are set at the flush
            return self._dataset_dict(row)

    def receive_dataset(self, person, usecase_id, name, src, filename):
        """Take an uploaded table: detect its format (to confirm) and keep it.

        A table of the same name is replaced only when the new file is read
        without error; on an error nothing is kept and the old table stays.

        Parameters
        ----------
        person : Person
        usecase_id, name : str
        src : path-like
            The received file (the caller deletes it afterwards).
        filename : str
            The name it had on the team's computer (its extension says the format).

        Returns
        -------
        dict
            The dataset, with ``state`` (``Intake.state()``: the detected format).
        """
        self.authorize(person, usecase_id)
        check_name(name, "table name")
        if not isinstance(filename, str) or not filename or len(filename) > 300:
            raise BadRequest("give the file's name (?filename=cases.csv)")
        filename = PurePosixPath(filename.replace("\\", "/")).name
        if not filename or filename in ("..", "."):
            raise BadRequest("invalid file name")
        sha256 = _sha256_file(src)
        intake_error = self._intake_error()
        folder = self.dataset_dir(usecase_id, name)
        with _lock("dataset", usecase_id, name):
            old = None
            if folder.exists():
                old = folder.with_name(f".old-{name}-{secrets.token_hex(4)}")
                folder.rename(old)
            try:
                _mkdir(folder)
                intake = _intake_module().Intake(folder)
                intake.receive(Path(src), filename)
                out = self._save_state(
                    usecase_id, name, intake, person=person, sha256=sha256, create=True
                )
            except BaseException as e:
                shutil.rmtree(folder, ignore_errors=True)
                if old is not None:
                    old.rename(folder)
                if isinstance(e, intake_error):
                    raise BadRequest(str(e)) from None
                raise
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            return out

    def _step(self, person, usecase_id, name, step):
        self.authorize(person, usecase_id)
        check_name(name, "table name")
        with self.session() as s:
            self._dataset_row(s, usecase_id, name)
        intake_error = self._intake_error()
        with _lock("dataset", usecase_id, name):
            intake = self._intake(usecase_id, name)
            try:
                step(intake)
            except intake_error as e:
                raise BadRequest(str(e)) from None
            return self._save_state(usecase_id, name, intake, person=person)

    @staticmethod
    def _finish_if_clear(intake, intake_error):
        findings = intake.state().get("findings") or []
        if any(f.get("blocking") and not f.get("resolution") for f in findings):
            return
        try:
            intake.finish()
        except intake_error:
            pass  # the state says what still blocks

    def confirm_format(self, person, usecase_id, name, settings):
        """Confirm (or correct) the detected encoding, separator and decimal mark."""
        if not isinstance(settings, dict):
            raise BadRequest("the format must be a JSON object")
        allowed = {"encoding", "separator", "decimal"}
        unknown = set(settings) - allowed
        if unknown:
            raise BadRequest(f"unknown format setting(s): {', '.join(sorted(unknown))}")
        for key, value in settings.items():
            if value is not None and (not isinstance(value, str) or len(value) > 40):
                raise BadRequest(f"{key} must be text")
        return self._step(person, usecase_id, name, lambda i: i.confirm(**settings))

    def set_roles(self, person, usecase_id, name, roles):
        """Declare the columns' roles, then scan for personal data (the findings block)."""
        if not isinstance(roles, dict) or not roles:
            raise BadRequest("give the columns' roles as {column: role}")
        intake_error = self._intake_error()

        def step(intake):
            intake.set_roles(roles)
            intake.scan()
            self._finish_if_clear(intake, intake_error)

        return self._step(person, usecase_id, name, step)

    def resolve(self, person, usecase_id, name, column, action, reason=None):
        """Resolve one finding: ``drop``, ``pseudonymise``, ``coarsen`` or ``confirm``.

        When no finding blocks any more, ``table.parquet`` is written.
        """
        if not isinstance(column, str) or not column:
            raise BadRequest("say which column (column)")
        if action not in ("drop", "pseudonymise", "coarsen", "confirm"):
            raise BadRequest("action must be drop, pseudonymise, coarsen or confirm")
        if reason is not None and (not isinstance(reason, str) or len(reason) > _MAX_FIELD):
            raise BadRequest("the reason must be text")
        key = self.key(usecase_id)
        intake_error = self._intake_error()

        def step(intake):
            intake.resolve(column, action, reason=reason, key=key)
            self._finish_if_clear(intake, intake_error)

        return self._step(person, usecase_id, name, step)

    def datasheet(self, person, usecase_id, name):
        """Return the datasheet: the draft, with the team's edits over it."""
        self.authorize(person, usecase_id)
        with self.session() as s:
            self._dataset_row(s, usecase_id, name)
        intake_error = self._intake_error()
        folder = self.dataset_dir(usecase_id, name)
        try:
            sheet = dict(self._intake(usecase_id, name).datasheet())
        except intake_error as e:
            raise Conflict(str(e)) from None
        edits_file = folder / _EDITS_FILE
        edited = edits_file.is_file()
        if edited:
            sheet.update(json.loads(edits_file.read_text(encoding="utf-8")))
        return {"name": name, "datasheet": sheet, "edited": edited}

    def save_datasheet(self, person, usecase_id, name, sheet):
        """Keep the team's edits of the datasheet (the sections they changed)."""
        if not isinstance(sheet, dict):
            raise BadRequest("the datasheet must be a JSON object")
        self.authorize(person, usecase_id)
        with self.session() as s:
            self._dataset_row(s, usecase_id, name)
        folder = self.dataset_dir(usecase_id, name)
        with _lock("dataset", usecase_id, name):
            _write_atomic(folder / _EDITS_FILE, json.dumps(sheet, default=str).encode())
        return self.datasheet(person, usecase_id, name)

    def table_path(self, person, usecase_id, name):
        """Return the path of the dataset's ``table.parquet`` (Conflict until it is ready)."""
        self.authorize(person, usecase_id)
        with self.session() as s:
            self._dataset_row(s, usecase_id, name)
        path = self.dataset_dir(usecase_id, name) / "table.parquet"
        if not path.is_file():
            raise Conflict(
                f"the table {name!r} is not ready yet: resolve every personal-data finding first"
            )
        return path

    # -- models -----------------------------------------------------------------------

    def _models(self, s, usecase_id):
        from ai4scale.grading.gradebook import UseCaseModel

        return list(
            s.scalars(
                select(UseCaseModel)
                .where(UseCaseModel.usecase_id == usecase_id)
                .order_by(UseCaseModel.name)
            )
        )

    @staticmethod
    def _model_dict(m):
        return {
            "name": m.name,
            "kind": m.kind,
            "filename": m.filename,
            "sha256": m.sha256,
            "size": m.size,
            "column": m.column,
            "untrusted_types": list(m.untrusted_types or []),
            "needs_approval": bool(m.untrusted_types) and not m.approved_by,
            "approved_by": m.approved_by,
            "approved_at": _iso(m.approved_at),
            "created_by": m.created_by,
            "created_at": _iso(m.created_at),
        }

    def _model_row(self, s, usecase_id, name):
        from ai4scale.grading.gradebook import UseCaseModel

        row = s.scalar(
            select(UseCaseModel).where(
                UseCaseModel.usecase_id == usecase_id, UseCaseModel.name == name
            )
        )
        if row is None:
            raise NotFound(f"no model named {name!r} in this use case")
        return row

    @staticmethod
    def model_kind(filename):
        """Return ``"skops"`` or ``"onnx"`` from a model file's name; refuse pickles.

        Raises
        ------
        BadRequest
            A pickle (``.pkl``, ``.joblib``, ...): opening one runs whatever
            program it holds, so it is never opened; or an unknown extension.
        """
        lower = str(filename).lower()
        if lower.endswith(_REFUSED_MODEL_SUFFIXES):
            raise BadRequest(
                f"{filename}: pickle files (.pkl, .pickle, .joblib) are refused, because "
                "opening one can run any program hidden in it. Save the model with skops "
                "(skops.io.dump(model, 'model.skops')) or export it to ONNX, then upload that."
            )
        if lower.endswith(".skops"):
            return "skops"
        if lower.endswith(".onnx"):
            return "onnx"
        raise BadRequest(
            f"{filename}: upload a scikit-learn model saved with skops (.skops) or an "
            "ONNX model (.onnx)"
        )

    @staticmethod
    def _inspect_model(kind, path):
        if kind == "skops":
            from skops.io import get_untrusted_types

            try:  # reads the file's schema; loads nothing
                return sorted(get_untrusted_types(file=str(path)))
            except Exception as e:  # noqa: BLE001 - any failure: not a skops file
                raise BadRequest(f"this is not a model saved with skops ({e})") from None
        import onnxruntime

        try:
            onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - any failure: not a usable ONNX model
            raise BadRequest(f"this ONNX model cannot be run ({str(e)[:300]})") from None
        return []

    def receive_model(self, person, usecase_id, name, src, filename):
        """Keep an uploaded model file (skops or ONNX), never unpickling it.

        A skops file's untrusted types are recorded: an instructor approves
        them (:meth:`approve_model`) before the assessment loads the model.
        """
        from ai4scale.grading.gradebook import UseCaseModel

        self.authorize(person, usecase_id)
        check_name(name, "model name")
        if not isinstance(filename, str) or not filename:
            raise BadRequest("give the file's name (?filename=model.skops)")
        kind = self.model_kind(filename)
        untrusted = self._inspect_model(kind, src)
        sha256 = _sha256_file(src)
        size = os.path.getsize(src)
        folder = self.folder(usecase_id, "models")
        with _lock("model", usecase_id, name):
            staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=folder))
            target_name = f"model.{kind}"
            try:
                shutil.copyfile(src, staging / target_name)
                os.chmod(staging / target_name, 0o600)
                final = folder / name
                old = None
                if final.exists():
                    old = final.with_name(f".old-{name}-{secrets.token_hex(4)}")
                    final.rename(old)
                staging.rename(final)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            with self.session() as s, s.begin():
                row = s.scalar(
                    select(UseCaseModel).where(
                        UseCaseModel.usecase_id == usecase_id, UseCaseModel.name == name
                    )
                )
                if row is None:
                    row = UseCaseModel(usecase_id=usecase_id, name=name)
                    s.add(row)
                row.kind, row.filename, row.sha256, row.size = kind, filename[:300], sha256, size
                row.untrusted_types, row.column = untrusted, ""
                row.approved_by, row.approved_at = None, None
                row.created_by, row.created_at = person.name, _utcnow()
                s.flush()
                return self._model_dict(row)

    def register_model(self, person, usecase_id, name, kind, column=""):
        """Record a model without a file: ``scores`` (a column of the table) or ``baseline``."""
        from ai4scale.grading.gradebook import UseCaseModel

        self.authorize(person, usecase_id)
        check_name(name, "model name")
        if kind not in ("scores", "baseline"):
            raise BadRequest("without a file, the kind is 'scores' or 'baseline'")
        if kind == "scores" and (not isinstance(column, str) or not column or len(column) > 200):
            raise BadRequest("say which column holds the existing system's scores (column)")
        with _lock("model", usecase_id, name), self.session() as s, s.begin():
            shutil.rmtree(self.folder(usecase_id, "models") / name, ignore_errors=True)
            row = s.scalar(
                select(UseCaseModel).where(
                    UseCaseModel.usecase_id == usecase_id, UseCaseModel.name == name
                )
            )
            if row is None:
                row = UseCaseModel(usecase_id=usecase_id, name=name)
                s.add(row)
            row.kind, row.filename, row.sha256, row.size = kind, "", "", 0
            row.untrusted_types, row.column = [], column if kind == "scores" else ""
            row.approved_by, row.approved_at = None, None
            row.created_by, row.created_at = person.name, _utcnow()
            s.flush()
            return self._model_dict(row)

    def approve_model(self, person, usecase_id, name):
        """Approve a model's untrusted types (instructors only)."""
        if not person.instructor:
            raise Forbidden("only instructors may approve a model")
        with self.session() as s, s.begin():
            self._row(s, usecase_id, person)
            row = self._model_row(s, usecase_id, check_name(name, "model name"))
            row.approved_by, row.approved_at = person.name, _utcnow()
            return self._model_dict(row)

    def model_file(self, person, usecase_id, name):
        """Return (path, filename) of an uploaded model file."""
        with self.session() as s:
            self._row(s, usecase_id, person)
            row = self._model_row(s, usecase_id, check_name(name, "model name"))
            kind, filename = row.kind, row.filename
        path = self.folder(usecase_id, "models") / name / f"model.{kind}"
        if kind not in ("skops", "onnx") or not path.is_file():
            raise NotFound(f"the model {name!r} has no file")
        return path, filename

    # -- results, answers, comments ---------------------------------------------------

    def _latest_result(self, s, usecase_id):
        from ai4scale.grading.gradebook import UseCaseResult

        return s.scalar(
            select(UseCaseResult)
            .where(UseCaseResult.usecase_id == usecase_id)
            .order_by(UseCaseResult.id.desc())
            .limit(1)
        )

    def save_results(self, person, usecase_id, payload, notebook_sha256):
        """Keep the assessment results of a notebook run (``to_payload(...)``)."""
        from ai4scale.grading.gradebook import UseCaseResult

        self.authorize(person, usecase_id)
        if not isinstance(payload, dict):
            raise BadRequest("payload must be a JSON object (ai4scale.assess.to_payload)")
        if not isinstance(notebook_sha256, str) or not _SHA256.match(notebook_sha256):
            raise BadRequest("notebook_sha256 must be 64 lowercase hex digits")
        from ._dossier import DossierError, normalise_results

        try:  # what the dossier could not read is refused now, not at export
            normalise_results(payload)
        except DossierError as e:
            raise BadRequest(f"the results cannot be kept: {e}") from None
        with self.session() as s, s.begin():
            self._row(s, usecase_id, person)
            row = UseCaseResult(
                usecase_id=usecase_id,
                notebook_sha256=notebook_sha256,
                payload=payload,
                author=person.name,
            )
            s.add(row)
            s.flush()
            return {
                "id": row.id,
                "notebook_sha256": notebook_sha256,
                "created_at": _iso(row.created_at),
                "author": person.name,
            }

    def results(self, person, usecase_id):
        """Return the newest saved results, with their payload (NotFound before any)."""
        with self.session() as s:
            self._row(s, usecase_id, person)
            row = self._latest_result(s, usecase_id)
            if row is None:
                raise NotFound("no assessment results yet: run the assessment notebook first")
            return {
                "id": row.id,
                "notebook_sha256": row.notebook_sha256,
                "created_at": _iso(row.created_at),
                "author": row.author,
                "payload": row.payload,
            }

    @staticmethod
    def _result_ids(payload):
        """Return the ids (``"<step>.<name>"``) of the tables and figures of a payload."""
        if not payload:
            return set()
        from ._dossier import normalise_results

        results = normalise_results(payload)
        return set(results["tables"]) | set(results["figures"])

    def answer(self, person, usecase_id, qid, text, cites=()):
        """Save an answer to question ``qid`` (a new row every time); return it.

        The answer is checked by the questionnaire's own rules
        (:func:`._questionnaire.check_answer`): a known question, text, and
        citations only of results this use case holds.
        """
        from ai4scale.grading.gradebook import UseCaseAnswer

        from ._questionnaire import AnswerError, check_answer

        self.authorize(person, usecase_id)
        check_question_id(qid)
        with self.session() as s, s.begin():
            self._row(s, usecase_id, person)
            ids = self._result_ids(getattr(self._latest_result(s, usecase_id), "payload", None))
            try:
                checked = check_answer(qid, text, list(cites or []), ids)
            except AnswerError as e:
                if "no question" in str(e):
                    raise NotFound(str(e)) from None
                raise BadRequest(str(e)) from None
            row = UseCaseAnswer(
                usecase_id=usecase_id,
                question_id=qid,
                text=checked["text"],
                cites=checked["cites"],
                author=person.name,
            )
            s.add(row)
            s.flush()
            return self._answer_dict(row)

    @staticmethod
    def _answer_dict(a):
        return {
            "question": a.question_id,
            "text": a.text,
            "cites": list(a.cites or []),
            "author": a.author,
            "created_at": _iso(a.created_at),
        }

    def answers(self, person, usecase_id):
        """Return ``{qid: [answers, oldest first]}`` (the last is the current one)."""
        from ai4scale.grading.gradebook import UseCaseAnswer

        with self.session() as s:
            self._row(s, usecase_id, person)
            return self._grouped(s, UseCaseAnswer, usecase_id, self._answer_dict)

    def comment(self, person, usecase_id, qid, text):
        """Add an instructor's comment on question ``qid``."""
        from ai4scale.grading.gradebook import UseCaseComment

        if not person.instructor:
            raise Forbidden("only instructors may comment")
        check_question_id(qid)
        if not isinstance(text, str) or not text.strip() or len(text) > _MAX_FIELD:
            raise BadRequest("write the comment (text)")
        with self.session() as s, s.begin():
            self._row(s, usecase_id, person)
            row = UseCaseComment(
                usecase_id=usecase_id, question_id=qid, text=text.strip(), author=person.name
            )
            s.add(row)
            s.flush()
            return self._comment_dict(row) | {"question": qid}

    def comments(self, person, usecase_id):
        """Return ``{qid: [comments, oldest first]}``."""
        from ai4scale.grading.gradebook import UseCaseComment

        with self.session() as s:
            self._row(s, usecase_id, person)
            return self._grouped(s, UseCaseComment, usecase_id, self._comment_dict)

    @staticmethod
    def _comment_dict(c):
        return {"text": c.text, "author": c.author, "created_at": _iso(c.created_at)}

    @staticmethod
    def _grouped(s, model, usecase_id, to_dict):
        out = {}
        rows = s.scalars(select(model).where(model.usecase_id == usecase_id).order_by(model.id))
        for row in rows:
            out.setdefault(row.question_id, []).append(to_dict(row))
        return out

    # -- snapshot and export ----------------------------------------------------------

    def snapshot(self, usecase_id, person=None):
        """Return everything the dossier shows, as a plain dict (see the design file).

        ``person`` None: the caller (the ``ai4scale usecase`` command, run as
        root) is trusted. No row-level data and no key is in it.
        """
        from ai4scale.grading.gradebook import UseCaseAnswer, UseCaseComment

        with self.session() as s:
            row = self._row(s, usecase_id, person)
            current = self._current(s, row.id)
            datasets = []
            for d in self._datasets(s, row.id):
                state = d.state or {}
                detected = state.get("detected") or {}
                # Never the preview rows (raw values of a table not yet scanned).
                detected = {k: v for k, v in detected.items() if k in _FORMAT_KEYS}
                entry = {
                    "name": d.name,
                    "sha256": d.sha256,
                    "status": d.status,
                    "format": detected,
                    "roles": state.get("roles") or {},
                    "findings": state.get("findings") or [],
                    "datasheet": None,
                }
                datasets.append(entry)
            models = [
                {
                    k: v
                    for k, v in self._model_dict(m).items()
                    if k in ("name", "kind", "sha256", "untrusted_types", "approved_by", "column")
                }
                for m in self._models(s, row.id)
            ]
            result = self._latest_result(s, row.id)
            snap = {
                "id": row.id,
                "team": row.team,
                "version": current.version,
                "created_by": row.created_by,
                "created_at": _iso(row.created_at),
                "fields": {k: getattr(current, k) for k in FIELDS}
                | {"author": current.author, "time": _iso(current.created_at)},
                "datasets": datasets,
                "models": models,
                "results": None
                if result is None
                else {
                    "notebook_sha256": result.notebook_sha256,
                    "created_at": _iso(result.created_at),
                    "author": result.author,
                    "payload": result.payload,
                },
                "answers": self._grouped(s, UseCaseAnswer, row.id, self._answer_dict),
                "comments": self._grouped(s, UseCaseComment, row.id, self._comment_dict),
            }
        for entry in snap["datasets"]:
            try:
                entry["datasheet"] = self.datasheet(_Root, usecase_id, entry["name"])["datasheet"]
            except (Conflict, NotFound):
                entry["datasheet"] = None
        return snap

    def export(self, usecase_id, dest_dir, person=None):
        """Write the dossier (part "dossier"); return ``(html_path, zip_path)``."""
        try:
            from ._dossier import DossierError, export_dossier
        except ImportError as e:
            raise Conflict(
                f"the dossier export is not available in this installation ({e})"
            ) from None
        snap = self.snapshot(usecase_id, person)
        dest = Path(dest_dir)
        dest.mkdir(parents=True, exist_ok=True)
        try:
            return export_dossier(snap, dest)
        except DossierError as e:
            raise Conflict(f"the dossier cannot be exported: {e}") from None


class _RootPerson:
    """The service itself (snapshots for the dossier): may read every use case."""

    name = "(service)"
    groups = frozenset()
    instructor = True


_Root = _RootPerson()


# -- the team workspace ---------------------------------------------------------------


async def generate_notebook(course, hub, person, usecase_id, *, dataset=None, model=None):
    """Write the assessment notebook into the team workspace at ``use-cases/<id>/``.

    The notebook comes from :func:`ai4scale.assess.notebook` (part "assess")
    and travels like a fetched lab: through the workspace server's contents
    API, with the service's hub token. An existing notebook is never
    overwritten; the new one gets the next free name.

    Parameters
    ----------
    course : Course
    hub : HubClient
    person : Person
    usecase_id : str
    dataset : str, optional
        Name of a ready dataset (default: the first ready one).
    model : str, optional
        Name of a model of the use case.

    Returns
    -------
    dict
        ``path`` (in the workspace), ``server_url``.
    """
    import asyncio

    import nbformat
    from ai4scale.hub.teams import workspace_user

    store = UseCaseStore(course)
    loop = asyncio.get_running_loop()
    uc = await loop.run_in_executor(None, store.get, person, usecase_id)
    ready = [d["name"] for d in uc["datasets"] if d["status"] == "ready"]
    if dataset is None:
        if not ready:
            raise Conflict("bring a table and resolve its personal-data findings first")
        dataset = ready[0]
    check_name(dataset, "table name")
    if dataset not in ready:
        raise Conflict(f"the table {dataset!r} is not ready yet")
    if model is not None:
        check_name(model, "model name")
        if model not in {m["name"] for m in uc["models"]}:
            raise NotFound(f"no model named {model!r} in this use case")
    try:
        from ai4scale.assess import notebook
    except ImportError as e:
        raise Conflict(f"the assessment library is not available ({e})") from None
    # The dataset by name: the notebook loads it as "usecase:<id>/<name>".
    nb = notebook(usecase_id, dataset, model=model)
    data = nbformat.writes(nb).encode()
    user = workspace_user(uc["team"])
    await hub.require_server(user, team=True)
    folder = f"use-cases/{usecase_id}"
    await hub.mkdir(user, "use-cases")
    await hub.mkdir(user, folder)
    n = 1
    path = f"{folder}/assessment.ipynb"
    while await hub.stat(user, path) is not None:
        n += 1
        path = f"{folder}/assessment-{n}.ipynb"
    await hub.write(user, path, data)
    return {"path": path, "server_url": f"/user/{user}/"}
