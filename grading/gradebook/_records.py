"""Values exchanged with the gradebook's callers, and the queries behind its API."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ._models import Item, Lab, Notebook, Result, Submission

__all__ = ["ItemResult", "SubmissionInfo", "item_keys", "sha256_file", "submission_digest"]


def sha256_file(path):
    """Return the hex sha256 of the file at ``path``.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    str
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def submission_digest(hashes):
    """Return the sha256 of a submission: over ``sha256sum``-style lines of its files.

    Parameters
    ----------
    hashes : Mapping[str, str]
        Path in the submission -> hex sha256 of the file.

    Returns
    -------
    str
        The hex sha256 of one ``<sha256>  <path>`` line per file (each ending
        in a newline) sorted by path: ``sha256sum`` output, sorted.
    """
    listing = "".join(f"{hashes[p]}  {p}\n" for p in sorted(hashes))
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SubmissionInfo:
    """A submission as the callers see it (a plain value, no session attached)."""

    id: int
    lab: str
    owner: str
    owner_kind: str  # "learner" or "team"
    version: int
    submitted_at: dt.datetime
    late: bool
    status: str
    files: dict = field(default_factory=dict)  # path -> sha256
    sha256: str = ""  # submission_digest(files)
    submitted_by: str = ""
    collected_at: dt.datetime | None = None
    feedback_released_at: dt.datetime | None = None

    @classmethod
    def _of(cls, sub):
        owner, kind = (sub.learner.username, "learner") if sub.learner else (sub.team.name, "team")
        return cls(
            id=sub.id,
            lab=sub.lab.slug,
            owner=owner,
            owner_kind=kind,
            version=sub.version,
            submitted_at=sub.submitted_at,
            late=sub.late,
            status=sub.status,
            files={f.path: f.sha256 for f in sub.files},
            sha256=sub.sha256,
            submitted_by=sub.submitted_by,
            collected_at=sub.collected_at,
            feedback_released_at=sub.feedback_released_at,
        )


@dataclass(frozen=True)
class ItemResult:
    """The automatic result of one item, as the grading engine reports it.

    ``notebook`` may be left out when the ``grade_id`` is unique in the lab.
    """

    grade_id: str
    score: float | None
    notebook: str | None = None
    max_points: float | None = None
    flags: dict = field(default_factory=dict)
    failure: str = ""


def item_keys(lab_row):
    """Return item id -> column key (``grade_id`` or ``notebook/grade_id``) of a Lab row."""
    items = [(nb, it) for nb in lab_row.notebooks for it in nb.items]
    counts = {}
    for _, it in items:
        counts[it.grade_id] = counts.get(it.grade_id, 0) + 1
    return {
        it.id: it.grade_id if counts[it.grade_id] == 1 else f"{nb.name}/{it.grade_id}"
        for nb, it in items
    }


def _require_aware(when):
    if when.tzinfo is None:
        raise ValueError(f"naive datetime {when!r}: give a timezone-aware one")


def _get_or_create(s, model, defaults=None, **key):
    row = s.scalar(select(model).filter_by(**key))
    if row is None:
        row = model(**key, **(defaults or {}))
        s.add(row)
        s.flush()
    return row


def _result_row(s, sub, item):
    defaults = {"max_points": item.points, "flags": {}, "failure": "", "comments": "", "grader": ""}
    return _get_or_create(s, Result, defaults, submission_id=sub.id, item_id=item.id)


def _lab(s, slug):
    row = s.scalar(
        select(Lab)
        .where(Lab.slug == slug)
        .options(selectinload(Lab.notebooks).selectinload(Notebook.items))
    )
    if row is None:
        raise KeyError(f"unknown lab {slug!r}")
    return row


def _submission(s, submission_id):
    sub = s.get(Submission, submission_id)
    if sub is None:
        raise KeyError(f"unknown submission {submission_id}")
    return sub


def _item(s, lab_id, grade_id, notebook):
    q = select(Item).join(Notebook).where(Notebook.lab_id == lab_id, Item.grade_id == grade_id)
    if notebook is not None:
        q = q.where(Notebook.name == notebook)
    found = list(s.scalars(q))
    if not found:
        raise KeyError(f"unknown item {grade_id!r}" + (f" in {notebook}" if notebook else ""))
    if len(found) > 1:
        raise KeyError(f"item {grade_id!r} is in several notebooks: give notebook=")
    return found[0]


def _refuse_if_results(s, item):
    if s.scalar(select(func.count()).select_from(Result).where(Result.item_id == item.id)):
        raise ValueError(
            f"item {item.grade_id!r} has recorded results: it cannot be removed from the lab"
        )


def _submissions(s, lab, current_only):
    lab_row = _lab(s, lab)
    q = (
        select(Submission)
        .where(Submission.lab_id == lab_row.id)
        .options(
            selectinload(Submission.files),
            selectinload(Submission.results),
            selectinload(Submission.learner),
            selectinload(Submission.team),
        )
    )
    if current_only:
        newest = (
            select(
                Submission.learner_id,
                Submission.team_id,
                func.max(Submission.version).label("v"),
            )
            .where(Submission.lab_id == lab_row.id)
            .group_by(Submission.learner_id, Submission.team_id)
            .subquery()
        )
        q = q.join(
            newest,
            (Submission.version == newest.c.v)
            & (
                (Submission.learner_id == newest.c.learner_id)
                | (Submission.team_id == newest.c.team_id)
            ),
        )
    subs = list(s.scalars(q))
    subs.sort(key=lambda x: (x.learner is None, _owner_name(x), x.version))
    return subs


def _owner_name(sub):
    return sub.learner.username if sub.learner else sub.team.name
