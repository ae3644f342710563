"""The gradebook's library API, called by the grading engine and the course service."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ._course import CourseRecords
from ._db import make_engine, upgrade
from ._models import (
    ITEM_KINDS,
    SUBMISSION_STATUSES,
    Course,
    Item,
    Lab,
    Learner,
    Notebook,
    Submission,
    SubmissionFile,
    Team,
)
from ._records import (
    ItemResult,
    SubmissionInfo,
    _get_or_create,
    _item,
    _lab,
    _refuse_if_results,
    _require_aware,
    _result_row,
    _submission,
    _submissions,
    item_keys,
    sha256_file,
    submission_digest,
)

__all__ = ["DEFAULT_COURSE", "Gradebook"]

#: Course of labs upserted without one.
DEFAULT_COURSE = "default"

_FINAL_STATUSES = ("graded", "rejected")
_RETRIES = 5


class Gradebook(CourseRecords):
    """The gradebook database at ``url``.

    Parameters
    ----------
    url : str
        SQLAlchemy URL: ``sqlite:///path/gradebook.sqlite`` (WAL mode) or
        ``postgresql://user:password@host/db`` (psycopg 3).
    echo : bool
        Log every SQL statement.

    Examples
    --------
    >>> gb = Gradebook("sqlite:////tmp/gb.sqlite")  # doctest: +SKIP
    >>> gb.upgrade()  # doctest: +SKIP
    >>> gb.upsert_lab("lab-1", notebooks={"lab.ipynb": [{"grade_id": "q1", "points": 2}]})
    ... # doctest: +SKIP
    """

    def __init__(self, url, *, echo=False):
        self.url = url
        self.echo = echo
        self._engine = None

    @property
    def engine(self):
        """The SQLAlchemy engine, created on first use."""
        if self._engine is None:
            self._engine = make_engine(self.url, echo=self.echo)
        return self._engine

    def close(self):
        """Release the database connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def upgrade(self, revision="head"):
        """Create or migrate the schema (``alembic upgrade head``).

        Parameters
        ----------
        revision : str
            Target Alembic revision.
        """
        upgrade(self.engine, revision)

    def current_revision(self):
        """Return the schema's Alembic revision, or None before :meth:`upgrade`."""
        from alembic.runtime.migration import MigrationContext

        from ._db import VERSION_TABLE

        with self.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            return ctx.get_current_revision()

    def session(self):
        """Return a new ORM session (``with gb.session() as s, s.begin(): ...``)."""
        return Session(self.engine, expire_on_commit=False)

    # -- labs, learners, teams ---------------------------------------------

    def upsert_lab(self, lab, *, notebooks, title="", course=DEFAULT_COURSE, due_at=None):
        """Create or update a lab, its notebooks and items.

        Items keep their id (and their results) when their ``grade_id`` stays;
        items and notebooks absent from ``notebooks`` are removed, which is
        refused while results of theirs exist.

        Parameters
        ----------
        lab : str
            Lab id (``labs/<lab>/``).
        notebooks : Mapping[str, Iterable[Mapping]]
            Notebook name -> items in notebook order, each a mapping with
            ``grade_id``, ``points``, optional ``kind`` (``"auto"`` or
            ``"manual"``, default ``"auto"``) and ``task`` (bool).
        title : str
        course : str
            Course code; the course is created when missing.
        due_at : datetime.datetime, optional
            Timezone-aware due date; submissions after it are flagged late.

        Raises
        ------
        ValueError
            On a bad item, or when removing an item that has results.
        """
        if due_at is not None:
            _require_aware(due_at)
        with self.session() as s, s.begin():
            course_row = _get_or_create(s, Course, code=course)
            row = s.scalar(select(Lab).where(Lab.slug == lab))
            if row is None:
                row = Lab(slug=lab, course=course_row)
                s.add(row)
            row.course, row.title, row.due_at = course_row, title, due_at
            old = {nb.name: nb for nb in row.notebooks}
            for pos, (name, items) in enumerate(notebooks.items()):
                nb = old.pop(name, None)
                if nb is None:
                    nb = Notebook(name=name)
                    row.notebooks.append(nb)
                nb.position = pos
                self._set_items(s, nb, list(items))
            for nb in old.values():
                for item in nb.items:
                    _refuse_if_results(s, item)
                row.notebooks.remove(nb)

    def _set_items(self, s, nb, items):
        old = {it.grade_id: it for it in nb.items}
        seen = set()
        for pos, spec in enumerate(items):
            grade_id = spec["grade_id"]
            kind = spec.get("kind", "auto")
            if kind not in ITEM_KINDS:
                raise ValueError(f"item {grade_id}: kind must be one of {ITEM_KINDS}")
            if float(spec["points"]) < 0:
                raise ValueError(f"item {grade_id}: negative points")
            if grade_id in seen:
                raise ValueError(f"item {grade_id}: duplicated grade_id in {nb.name}")
            seen.add(grade_id)
            item = old.pop(grade_id, None)
            if item is None:
                item = Item(grade_id=grade_id)
                nb.items.append(item)
            item.points = float(spec["points"])
            item.kind = kind
            item.task = bool(spec.get("task", False))
            item.position = pos
        for item in old.values():
            _refuse_if_results(s, item)
            nb.items.remove(item)

    def upsert_learner(self, username, *, full_name=""):
        """Create a learner or update their full name.

        Parameters
        ----------
        username : str
            Hub username.
        full_name : str
        """
        with self.session() as s, s.begin():
            _get_or_create(s, Learner, username=username).full_name = full_name

    def upsert_team(self, name, *, members):
        """Create a team or set its members (learners are created when missing).

        Parameters
        ----------
        name : str
            Team name (hub group ``team-<name>``).
        members : Iterable[str]
            Usernames; replaces the previous membership.
        """
        with self.session() as s, s.begin():
            team = _get_or_create(s, Team, name=name)
            team.members = [_get_or_create(s, Learner, username=u) for u in sorted(set(members))]

    # -- submissions --------------------------------------------------------

    def add_submission(
        self,
        lab,
        *,
        files,
        learner=None,
        team=None,
        submitted_at=None,
        late=None,
        dedupe=False,
        submitted_by="",
    ):
        """Store a new version of a learner's or a team's submission.

        Parameters
        ----------
        lab : str
            Lab id (must exist).
        files : Mapping[str, bytes or os.PathLike]
            Path in the submission -> content, or a file whose sha256 is taken.
        learner, team : str, optional
            Exactly one: the username or team name (created when missing).
        submitted_at : datetime.datetime, optional
            Timezone-aware; default now.
        late : bool, optional
            Default: ``submitted_at`` after the lab's due date.
        dedupe : bool
            Return the current submission instead of a new version when its
            files have the same sha256 (for re-collecting the same folder).
        submitted_by : str
            Who handed it in (the member, for a team).

        Returns
        -------
        SubmissionInfo
        """
        if (learner is None) == (team is None):
            raise ValueError("give exactly one of learner= or team=")
        hashes = {}
        for path, content in files.items():
            if isinstance(content, bytes | bytearray):
                hashes[path] = (hashlib.sha256(content).hexdigest(), len(content))
            else:
                hashes[path] = (sha256_file(content), os.path.getsize(Path(content)))
        when = submitted_at or dt.datetime.now(dt.UTC)
        _require_aware(when)
        for attempt in range(_RETRIES):
            try:
                return self._add_submission(
                    lab, learner, team, hashes, when, late, dedupe, submitted_by
                )
            except IntegrityError:  # another writer created the same owner first
                if attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _add_submission(self, lab, learner, team, hashes, when, late, dedupe, submitted_by):
        with self.session() as s, s.begin():
            lab_row = _lab(s, lab)
            model, key = (
                (Learner, {"username": learner}) if learner is not None else (Team, {"name": team})
            )
            owner = _get_or_create(s, model, **key)
            # Serialise the owner's submissions (PostgreSQL; SQLite's BEGIN
            # IMMEDIATE already does), so versions are taken one at a time.
            s.execute(select(model.id).where(model.id == owner.id).with_for_update())
            if learner is not None:
                where = Submission.learner_id == owner.id
            else:
                where = Submission.team_id == owner.id
            current = s.scalar(
                select(Submission)
                .where(Submission.lab_id == lab_row.id, where)
                .order_by(Submission.version.desc())
                .limit(1)
            )
            if dedupe and current is not None:
                if {f.path: f.sha256 for f in current.files} == {
                    p: h for p, (h, _) in hashes.items()
                }:
                    return SubmissionInfo._of(current)
            if late is None:
                late = lab_row.due_at is not None and when > lab_row.due_at
            sub = Submission(
                lab=lab_row,
                learner=owner if learner is not None else None,
                team=owner if team is not None else None,
                version=(current.version + 1) if current else 1,
                submitted_at=when,
                late=bool(late),
                status="submitted",
                flags={},
                message="",
                files=[SubmissionFile(path=p, sha256=h, size=n) for p, (h, n) in hashes.items()],
                sha256=submission_digest({p: h for p, (h, _) in hashes.items()}),
                submitted_by=submitted_by,
            )
            s.add(sub)
            s.flush()
            return SubmissionInfo._of(sub)

    def submissions(self, lab, *, current_only=True, status=None):
        """Return the submissions of ``lab``.

        Parameters
        ----------
        lab : str
        current_only : bool
            Only the highest version of each learner and team.
        status : str or Iterable[str], optional
            Keep only these statuses.

        Returns
        -------
        list of SubmissionInfo
            Ordered by owner, then version.
        """
        with self.session() as s:
            subs = _submissions(s, lab, current_only)
            if status is not None:
                keep = {status} if isinstance(status, str) else set(status)
                subs = [x for x in subs if x.status in keep]
            return [SubmissionInfo._of(x) for x in subs]

    def graded_submission_ids(self, lab):
        """Return the ids of the submissions of ``lab`` that need no grading.

        Graded and rejected submissions count, of every version, so that
        ``--resume`` grades exactly what is missing.

        Parameters
        ----------
        lab : str

        Returns
        -------
        set of int
        """
        with self.session() as s:
            return set(
                s.scalars(
                    select(Submission.id)
                    .join(Lab)
                    .where(Lab.slug == lab, Submission.status.in_(_FINAL_STATUSES))
                )
            )

    # -- results ------------------------------------------------------------

    def record_results(self, submission_id, results, *, flags=None, status="graded", message=""):
        """Record the automatic results of a submission in one transaction.

        Idempotent: an item recorded again replaces its earlier automatic
        score, flags and failure message; manual scores and comments stay.

        Parameters
        ----------
        submission_id : int
        results : Iterable[ItemResult or Mapping]
            One per item (mappings take the ItemResult field names).
        flags : Mapping, optional
            Submission-wide flags (e.g. ``{"tampered": "..."}``), replacing earlier ones.
        status : str or None
            New status of the submission (``"graded"`` or ``"rejected"``);
            None leaves status, message and grading time as they are.
        message : str
            Why a submission was rejected, or a note of the grader.
        """
        if status is not None and status not in SUBMISSION_STATUSES:
            raise ValueError(f"status must be one of {SUBMISSION_STATUSES}")
        with self.session() as s, s.begin():
            sub = _submission(s, submission_id)
            for r in results:
                r = r if isinstance(r, ItemResult) else ItemResult(**r)
                item = _item(s, sub.lab_id, r.grade_id, r.notebook)
                res = _result_row(s, sub, item)
                res.auto_score = None if r.score is None else float(r.score)
                res.max_points = item.points if r.max_points is None else float(r.max_points)
                res.flags = dict(r.flags)
                res.failure = r.failure
            if flags is not None:
                sub.flags = dict(flags)
            if status is not None:
                sub.status = status
                sub.message = message
                sub.graded_at = dt.datetime.now(dt.UTC)

    def record_result(self, submission_id, result):
        """Record one item's automatic result (see :meth:`record_results`).

        The submission's status is left as it is.

        Parameters
        ----------
        submission_id : int
        result : ItemResult or Mapping
        """
        self.record_results(submission_id, [result], status=None)

    def set_manual_score(
        self, submission_id, grade_id, score, *, notebook=None, comments=None, grader=""
    ):
        """Set (or clear, with ``score=None``) the manual score of an item.

        Parameters
        ----------
        submission_id : int
        grade_id : str
        score : float or None
            Between 0 and the item's points; overrides the automatic score.
        notebook : str, optional
            Needed when ``grade_id`` is not unique in the lab.
        comments : str, optional
            Replaces the comments when given.
        grader : str
            Who graded.
        """
        with self.session() as s, s.begin():
            sub = _submission(s, submission_id)
            item = _item(s, sub.lab_id, grade_id, notebook)
            if score is not None and not 0 <= float(score) <= item.points:
                raise ValueError(f"item {grade_id}: score {score} not in [0, {item.points}]")
            res = _result_row(s, sub, item)
            res.manual_score = None if score is None else float(score)
            if comments is not None:
                res.comments = comments
            res.grader = grader

    def scores(self, lab, *, current_only=True):
        """Return the scores of the submissions of ``lab``.

        Parameters
        ----------
        lab : str
        current_only : bool
            Only the highest version of each learner and team.

        Returns
        -------
        list of dict
            One per submission: ``submission`` (SubmissionInfo), ``flags``
            (submission-wide flags of the grading engine), ``total``
            (sum of the scores that count; None when nothing is scored),
            ``max_total`` (the lab's points) and ``items``: item key ->
            dict(score, auto_score, manual_score, max_points, flags, failure,
            comments). Item keys are ``grade_id``, or ``notebook/grade_id``
            when a ``grade_id`` repeats across the lab's notebooks.
        """
        with self.session() as s:
            lab_row = _lab(s, lab)
            keys = item_keys(lab_row)
            max_total = sum(it.points for nb in lab_row.notebooks for it in nb.items)
            out = []
            for sub in _submissions(s, lab, current_only):
                items = {}
                for res in sub.results:
                    items[keys[res.item_id]] = {
                        "score": res.score,
                        "auto_score": res.auto_score,
                        "manual_score": res.manual_score,
                        "max_points": res.max_points,
                        "flags": dict(res.flags or {}),
                        "failure": res.failure,
                        "comments": res.comments,
                    }
                scored = [v["score"] for v in items.values() if v["score"] is not None]
                out.append(
                    {
                        "submission": SubmissionInfo._of(sub),
                        "flags": dict(sub.flags or {}),
                        "total": sum(scored) if scored else None,
                        "max_total": max_total,
                        "items": items,
                    }
                )
            return out
