"""SQLAlchemy models of the gradebook.

The data flows one way: labs (from ``labs/``) and learners (from the roster)
are upserted, submissions are added as they arrive, results are recorded as
each submission is graded. A submission belongs to exactly one learner or one
team; its version number counts that owner's submissions of the lab, and the
highest version is the current one.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "ITEM_KINDS",
    "SUBMISSION_STATUSES",
    "Base",
    "Course",
    "Item",
    "Lab",
    "Learner",
    "Fetch",
    "Notebook",
    "Release",
    "Result",
    "Submission",
    "SubmissionFile",
    "Team",
]

#: ``auto`` items are scored by the grading engine, ``manual`` ones by a person.
ITEM_KINDS = ("auto", "manual")

#: ``submitted``: waiting to be graded; ``graded``: results recorded (a kernel
#: that died still gives a graded submission, with failure messages);
#: ``rejected``: the files could not be graded at all (not a notebook, ...).
SUBMISSION_STATUSES = ("submitted", "graded", "rejected")

# Deterministic constraint names, the same on SQLite and PostgreSQL, so that
# later migrations can name what they alter.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _utcnow():
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on every backend.

    SQLite keeps no time zone: values are stored as naive UTC and come back
    aware, so that comparisons with due dates never mix naive and aware.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # noqa: D102
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: give a timezone-aware one")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):  # noqa: D102
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base holding the gradebook's metadata."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


team_members = Table(
    "team_members",
    Base.metadata,
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("learner_id", ForeignKey("learners.id", ondelete="CASCADE"), primary_key=True),
)


class Course(Base):
    """A course: a set of labs taught to one cohort."""

    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300), default="")

    labs: Mapped[list[Lab]] = relationship(back_populates="course")


class Lab(Base):
    """A lab (``labs/<slug>/``): one or more notebooks, a due date."""

    __tablename__ = "labs"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(300), default="")
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Set when an instructor archived the lab: kept, but out of the gradebook's views.
    archived_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    course: Mapped[Course] = relationship(back_populates="labs")
    notebooks: Mapped[list[Notebook]] = relationship(
        back_populates="lab", order_by="Notebook.position", cascade="all, delete-orphan"
    )


class Notebook(Base):
    """One source notebook of a lab."""

    __tablename__ = "notebooks"
    __table_args__ = (UniqueConstraint("lab_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)

    lab: Mapped[Lab] = relationship(back_populates="notebooks")
    items: Mapped[list[Item]] = relationship(
        back_populates="notebook", order_by="Item.position", cascade="all, delete-orphan"
    )


class Item(Base):
    """A graded cell of a notebook (nbgrader's ``grade_id``)."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("notebook_id", "grade_id"),
        CheckConstraint("kind IN ('auto', 'manual')", name="kind"),
        CheckConstraint("points >= 0", name="points"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notebook_id: Mapped[int] = mapped_column(ForeignKey("notebooks.id", ondelete="CASCADE"))
    grade_id: Mapped[str] = mapped_column(String(200))
    points: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(10), default="auto")
    task: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)

    notebook: Mapped[Notebook] = relationship(back_populates="items")


class Learner(Base):
    """A learner, by hub username."""

    __tablename__ = "learners"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    full_name: Mapped[str] = mapped_column(String(300), default="")
    #: Set when an instructor archived the learner (a test account, someone who left).
    archived_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    teams: Mapped[list[Team]] = relationship(secondary=team_members, back_populates="members")


class Team(Base):
    """A team (hub group ``team-<name>``) that submits once for all its members."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)

    members: Mapped[list[Learner]] = relationship(
        secondary=team_members, back_populates="teams", order_by="Learner.username"
    )


class Submission(Base):
    """One submission of a lab by a learner or a team; never changed once stored.

    ``version`` counts the owner's submissions of the lab from 1; the highest
    is the current submission. The unique constraints make two concurrent
    submissions of the same owner fail rather than share a version.
    """

    __tablename__ = "submissions"
    __table_args__ = (
        # NULLs are distinct in unique constraints on SQLite and PostgreSQL:
        # each constraint only binds the submissions of its kind of owner.
        UniqueConstraint("lab_id", "learner_id", "version"),
        UniqueConstraint("lab_id", "team_id", "version"),
        CheckConstraint("(learner_id IS NULL) <> (team_id IS NULL)", name="one_owner"),
        CheckConstraint("version >= 1", name="version"),
        CheckConstraint("status IN ('submitted', 'graded', 'rejected')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id", ondelete="CASCADE"), index=True)
    learner_id: Mapped[int | None] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="submitted")
    graded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Submission-wide flags (e.g. ``{"tampered": "canary passed"}``).
    flags: Mapped[dict] = mapped_column(JSON, default=dict)
    #: Why a submission was rejected, or a note of the grader.
    message: Mapped[str] = mapped_column(Text, default="")
    #: Digest over the files (see ``submission_digest``) and who handed it in
    #: (a team member for a team); empty for submissions of older schemas.
    sha256: Mapped[str] = mapped_column(String(64), default="", server_default="")
    submitted_by: Mapped[str] = mapped_column(String(200), default="", server_default="")
    #: When the course service took this version into grading, and when its
    #: feedback was released to the owner (None: not yet).
    collected_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    feedback_released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    lab: Mapped[Lab] = relationship()
    learner: Mapped[Learner | None] = relationship()
    team: Mapped[Team | None] = relationship()
    files: Mapped[list[SubmissionFile]] = relationship(
        back_populates="submission", order_by="SubmissionFile.path", cascade="all, delete-orphan"
    )
    results: Mapped[list[Result]] = relationship(
        back_populates="submission", cascade="all, delete-orphan"
    )


class SubmissionFile(Base):
    """A file of a submission, by its path in the submission and its sha256."""

    __tablename__ = "submission_files"
    __table_args__ = (UniqueConstraint("submission_id", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)

    submission: Mapped[Submission] = relationship(back_populates="files")


class Result(Base):
    """The score of one item in one submission.

    ``auto_score`` comes from the grading engine and ``manual_score`` from a
    person; the manual score, when present, is the one that counts.
    """

    __tablename__ = "results"
    __table_args__ = (UniqueConstraint("submission_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    auto_score: Mapped[float | None] = mapped_column(Float)
    manual_score: Mapped[float | None] = mapped_column(Float)
    max_points: Mapped[float] = mapped_column(Float)
    comments: Mapped[str] = mapped_column(Text, default="")
    #: Evidence about the item (e.g. ``{"edited-locked-cell": true}``).
    flags: Mapped[dict] = mapped_column(JSON, default=dict)
    failure: Mapped[str] = mapped_column(Text, default="")
    grader: Mapped[str] = mapped_column(String(200), default="")
    #: Index of the rubric level a person chose (lab.toml ``[rubrics.<grade_id>]``).
    rubric_level: Mapped[int | None] = mapped_column(Integer)

    submission: Mapped[Submission] = relationship(back_populates="results")
    item: Mapped[Item] = relationship()

    @property
    def score(self):
        """The score that counts: manual when present, else automatic (or None)."""
        return self.manual_score if self.manual_score is not None else self.auto_score


class Release(Base):
    """A lab released to a hub group, with its due date (one row per lab and group)."""

    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("lab_id", "group_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id", ondelete="CASCADE"), index=True)
    group_name: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    released_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)
    released_by: Mapped[str] = mapped_column(String(200), default="")
    #: Which learner version the group gets: "guided" or "analyst".
    track: Mapped[str] = mapped_column(String(20), default="guided", server_default="guided")

    lab: Mapped[Lab] = relationship()


class Fetch(Base):
    """When a learner (or a team) first and last fetched a lab into their server."""

    __tablename__ = "fetches"
    __table_args__ = (
        UniqueConstraint("lab_id", "learner_id"),
        UniqueConstraint("lab_id", "team_id"),
        CheckConstraint("(learner_id IS NULL) <> (team_id IS NULL)", name="one_owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id", ondelete="CASCADE"), index=True)
    learner_id: Mapped[int | None] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    fetched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)
    last_fetched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)
    fetched_by: Mapped[str] = mapped_column(String(200), default="")

    lab: Mapped[Lab] = relationship()
    learner: Mapped[Learner | None] = relationship()
    team: Mapped[Team | None] = relationship()
