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
"intake"), imported when first used. Tables and models are in
:mod:`._files` (a mixin of :class:`UseCaseStore`); names, the Annex III
points and who may act in :mod:`._access`.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from ai4scale.hub.course._errors import BadRequest, Conflict, Forbidden, NotFound
from sqlalchemy import select

from ._access import (
    _FORMAT_KEYS,
    _KEY_FILE,
    _MAX_FIELD,
    _SHA256,
    ANNEX_III,
    FIELDS,
    RESERVED_IDS,
    _iso,
    _lock,
    _mkdir,
    _slug,
    _teams_of,
    _write_atomic,
    check_name,
    check_question_id,
    check_usecase_id,
    check_workspace_path,
    may_access,
    questionnaire,
)
from ._files import FilesMixin

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


class UseCaseStore(FilesMixin):
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
