"""What the course service records besides submissions: releases, fetches, collection, feedback.

:class:`CourseRecords` is mixed into :class:`~ai4scale.grading.gradebook.Gradebook`;
its methods work on the same database and sessions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ._models import Fetch, Lab, Learner, Release, Submission, Team
from ._records import (
    SubmissionInfo,
    _get_or_create,
    _item,
    _lab,
    _require_aware,
    _result_row,
    _submission,
    item_keys,
)

__all__ = ["CourseRecords", "FetchInfo", "ReleaseInfo"]


def _now():
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ReleaseInfo:
    """A lab released to a hub group."""

    lab: str
    group: str
    due_at: dt.datetime | None
    released_at: dt.datetime
    released_by: str
    track: str = "guided"

    @classmethod
    def _of(cls, row):
        return cls(
            row.lab.slug,
            row.group_name,
            row.due_at,
            row.released_at,
            row.released_by,
            row.track or "guided",
        )


@dataclass(frozen=True)
class FetchInfo:
    """When an owner (learner or team) fetched a lab."""

    lab: str
    owner: str
    owner_kind: str
    fetched_at: dt.datetime
    last_fetched_at: dt.datetime
    fetched_by: str


def _owner(s, learner, team):
    if (learner is None) == (team is None):
        raise ValueError("give exactly one of learner= or team=")
    if learner is not None:
        return Learner, _get_or_create(s, Learner, username=learner)
    return Team, _get_or_create(s, Team, name=team)


def _owner_filter(model, owner, column_owner):
    learner_col, team_col = column_owner
    return (learner_col if model is Learner else team_col) == owner.id


class CourseRecords:
    """Gradebook methods of the course service (mixed into ``Gradebook``)."""

    # -- releases -----------------------------------------------------------

    def record_release(self, lab, *, group, due_at=None, released_by="", when=None, track="guided"):
        """Release ``lab`` to hub group ``group``, or update that release's due date.

        The lab's own due date (used for the late flag of submissions that
        give none) becomes ``due_at``.

        Parameters
        ----------
        lab : str
            Lab id (must be in the gradebook: ``upsert_lab`` first).
        group : str
            Hub group name.
        due_at : datetime.datetime, optional
            Timezone-aware.
        released_by : str
            Who released it.
        when : datetime.datetime, optional
            Default now.
        track : {"guided", "analyst"}
            The learner version the group gets.

        Returns
        -------
        ReleaseInfo
        """
        if due_at is not None:
            _require_aware(due_at)
        with self.session() as s, s.begin():
            lab_row = _lab(s, lab)
            row = s.scalar(
                select(Release).where(Release.lab_id == lab_row.id, Release.group_name == group)
            )
            if row is None:
                row = Release(lab=lab_row, group_name=group)
                s.add(row)
            row.due_at, row.released_by, row.track = due_at, released_by, track
            row.released_at = when or _now()
            lab_row.due_at = due_at
            s.flush()
            return ReleaseInfo._of(row)

    def releases(self, lab=None):
        """Return the releases (of ``lab``, or all), newest first.

        Returns
        -------
        list of ReleaseInfo
        """
        with self.session() as s:
            q = select(Release).options(selectinload(Release.lab))
            if lab is not None:
                q = q.where(Release.lab_id == _lab(s, lab).id)
            rows = s.scalars(q.order_by(Release.released_at.desc(), Release.id.desc()))
            return [ReleaseInfo._of(r) for r in rows]

    # -- archive ------------------------------------------------------------

    def set_archived(self, *, lab=None, learner=None, archived=True, when=None):
        """Archive (or restore) a lab or a learner: kept with every grade, out of the views.

        Parameters
        ----------
        lab, learner : str
            One of them: a lab id or a learner's username.
        archived : bool
            False restores.

        Raises
        ------
        KeyError
            Unknown lab or learner.
        """
        if (lab is None) == (learner is None):
            raise ValueError("name a lab or a learner")
        stamp = (when or _now()) if archived else None
        with self.session() as s, s.begin():
            if lab is not None:
                row = _lab(s, lab)
            else:
                row = s.scalar(select(Learner).where(Learner.username == learner))
                if row is None:
                    raise KeyError(f"unknown learner {learner!r}")
            row.archived_at = stamp

    def archived(self):
        """Return ``{"labs": [...], "learners": [...]}``: the archived ids, sorted."""
        with self.session() as s:
            labs = s.scalars(select(Lab.slug).where(Lab.archived_at.is_not(None)))
            people = s.scalars(select(Learner.username).where(Learner.archived_at.is_not(None)))
            return {"labs": sorted(labs), "learners": sorted(people)}

    # -- fetches ------------------------------------------------------------

    def record_fetch(self, lab, *, learner=None, team=None, fetched_by="", when=None):
        """Record that a learner (or a team) fetched ``lab``; keeps the first time.

        Returns
        -------
        FetchInfo
        """
        when = when or _now()
        with self.session() as s, s.begin():
            lab_row = _lab(s, lab)
            model, owner = _owner(s, learner, team)
            where = _owner_filter(model, owner, (Fetch.learner_id, Fetch.team_id))
            row = s.scalar(select(Fetch).where(Fetch.lab_id == lab_row.id, where))
            if row is None:
                row = Fetch(lab=lab_row, fetched_at=when, fetched_by=fetched_by)
                if model is Learner:
                    row.learner = owner
                else:
                    row.team = owner
                s.add(row)
            row.last_fetched_at = when
            s.flush()
            kind = "learner" if model is Learner else "team"
            name = learner if learner is not None else team
            return FetchInfo(lab, name, kind, row.fetched_at, row.last_fetched_at, row.fetched_by)

    def fetches(self, lab):
        """Return ``{(owner_kind, owner): FetchInfo}`` of ``lab``."""
        with self.session() as s:
            lab_row = _lab(s, lab)
            q = (
                select(Fetch)
                .where(Fetch.lab_id == lab_row.id)
                .options(selectinload(Fetch.learner), selectinload(Fetch.team))
            )
            out = {}
            for row in s.scalars(q):
                kind, name = (
                    ("learner", row.learner.username)
                    if row.learner
                    else (
                        "team",
                        row.team.name,
                    )
                )
                out[(kind, name)] = FetchInfo(
                    lab, name, kind, row.fetched_at, row.last_fetched_at, row.fetched_by
                )
            return out

    # -- one owner's submissions ---------------------------------------------

    def owner_submissions(self, lab, *, learner=None, team=None):
        """Return every submission of one owner of ``lab``, oldest first.

        Returns
        -------
        list of SubmissionInfo
        """
        with self.session() as s:
            lab_row = _lab(s, lab)
            model = Learner if learner is not None else Team
            if (learner is None) == (team is None):
                raise ValueError("give exactly one of learner= or team=")
            key = {"username": learner} if learner is not None else {"name": team}
            owner = s.scalar(select(model).filter_by(**key))
            if owner is None:
                return []
            where = _owner_filter(model, owner, (Submission.learner_id, Submission.team_id))
            q = (
                select(Submission)
                .where(Submission.lab_id == lab_row.id, where)
                .order_by(Submission.version)
                .options(
                    selectinload(Submission.files),
                    selectinload(Submission.learner),
                    selectinload(Submission.team),
                    selectinload(Submission.lab),
                )
            )
            return [SubmissionInfo._of(x) for x in s.scalars(q)]

    def submission(self, submission_id):
        """Return one submission as a :class:`SubmissionInfo` (KeyError if unknown)."""
        with self.session() as s:
            return SubmissionInfo._of(_submission(s, submission_id))

    # -- collection -----------------------------------------------------------

    def mark_collected(self, submission_ids, *, when=None):
        """Record that these submissions were taken into grading."""
        when = when or _now()
        with self.session() as s, s.begin():
            for sid in submission_ids:
                _submission(s, sid).collected_at = when

    def collected_submissions(self, lab):
        """Return, per owner, the newest collected submission of ``lab``.

        Returns
        -------
        list of SubmissionInfo
            Ordered by owner kind (learners first) and name.
        """
        with self.session() as s:
            lab_row = _lab(s, lab)
            q = (
                select(Submission)
                .where(Submission.lab_id == lab_row.id, Submission.collected_at.is_not(None))
                .options(
                    selectinload(Submission.files),
                    selectinload(Submission.learner),
                    selectinload(Submission.team),
                    selectinload(Submission.lab),
                )
            )
            newest = {}
            for sub in s.scalars(q):
                key = (sub.learner is None, sub.learner.username if sub.learner else sub.team.name)
                if key not in newest or sub.version > newest[key].version:
                    newest[key] = sub
            return [SubmissionInfo._of(newest[k]) for k in sorted(newest)]

    # -- grades -----------------------------------------------------------------

    def set_grade(
        self, submission_id, grade_id, *, points, level=None, comment=None, grader="", notebook=None
    ):
        """Set a person's grade of one item: points, rubric level and comment.

        Parameters
        ----------
        submission_id : int
        grade_id : str
        points : float or None
            Between 0 and the item's points (None clears the manual score).
        level : int, optional
            Index of the rubric level chosen (None: no level).
        comment : str, optional
            Replaces the comment when given.
        grader : str
        notebook : str, optional
            Needed when ``grade_id`` repeats across the lab's notebooks.

        Returns
        -------
        dict
            The saved ``points``, ``max_points``, ``level``, ``comment``, ``grader``.
        """
        with self.session() as s, s.begin():
            sub = _submission(s, submission_id)
            item = _item(s, sub.lab_id, grade_id, notebook)
            if points is not None and not 0 <= float(points) <= item.points:
                raise ValueError(f"item {grade_id}: {points} points not in [0, {item.points:g}]")
            res = _result_row(s, sub, item)
            res.manual_score = None if points is None else float(points)
            res.rubric_level = level
            if comment is not None:
                res.comments = comment
            res.grader = grader
            return {
                "points": res.manual_score,
                "max_points": item.points,
                "level": res.rubric_level,
                "comment": res.comments,
                "grader": res.grader,
            }

    def submission_results(self, submission_id):
        """Return the results of one submission: item key -> details.

        Returns
        -------
        dict
            Item key (``grade_id`` or ``notebook/grade_id``) -> dict with
            notebook, grade_id, score, auto_score, manual_score, max_points,
            level, comments, flags, failure, grader.
        """
        with self.session() as s:
            sub = _submission(s, submission_id)
            lab_row = _lab(s, sub.lab.slug)
            keys = item_keys(lab_row)
            names = {it.id: (nb.name, it.grade_id) for nb in lab_row.notebooks for it in nb.items}
            out = {}
            for res in sub.results:
                notebook, gid = names[res.item_id]
                out[keys[res.item_id]] = {
                    "notebook": notebook,
                    "grade_id": gid,
                    "score": res.score,
                    "auto_score": res.auto_score,
                    "manual_score": res.manual_score,
                    "max_points": res.max_points,
                    "level": res.rubric_level,
                    "comments": res.comments,
                    "flags": dict(res.flags or {}),
                    "failure": res.failure,
                    "grader": res.grader,
                }
            return out

    def submission_state(self, submission_id):
        """Return ``(status, flags, message, graded_at)`` of one submission."""
        with self.session() as s:
            sub = _submission(s, submission_id)
            return sub.status, dict(sub.flags or {}), sub.message, sub.graded_at

    # -- feedback -------------------------------------------------------------

    def mark_feedback_released(self, submission_ids, *, when=None):
        """Record that the feedback of these submissions is released to their owners."""
        when = when or _now()
        with self.session() as s, s.begin():
            for sid in submission_ids:
                _submission(s, sid).feedback_released_at = when
        return when
