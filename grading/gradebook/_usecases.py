"""SQLAlchemy models of use cases (issue 11), in the gradebook's metadata.

A team registers one of its administration's AI use cases; everything it
adds is kept as new rows, never overwritten: every edit of the use case's
fields is a new :class:`UseCaseVersion`, every save of an answer a new
:class:`UseCaseAnswer`. Files (uploaded tables, models, the pseudonymisation
key) live in the course service's root-only directory; the rows hold their
digests and the state the service computed from them.

The classes live beside the gradebook's own models (not in
``ai4scale.hub.usecase``) so that the gradebook's Alembic migrations see
them without importing the hub: data flows from the hub down to the
gradebook, never back up.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ._models import Base, UTCDateTime, _utcnow

__all__ = [
    "MODEL_KINDS",
    "UseCase",
    "UseCaseAnswer",
    "UseCaseComment",
    "UseCaseDataset",
    "UseCaseModel",
    "UseCaseResult",
    "UseCaseVersion",
]

#: How a use case's model comes: a skops file, an ONNX file, only a column of
#: the existing system's scores, or none (the notebook trains a baseline).
MODEL_KINDS = ("skops", "onnx", "scores", "baseline")


class UseCase(Base):
    """A team's use case, by its id (a slug: ``benefit-check``)."""

    __tablename__ = "usecases"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Owner team as in the roster (``t1``; hub group ``team-t1``).
    team: Mapped[str] = mapped_column(String(200), index=True)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)

    versions: Mapped[list[UseCaseVersion]] = relationship(
        back_populates="usecase", order_by="UseCaseVersion.version", cascade="all, delete-orphan"
    )


class UseCaseVersion(Base):
    """One saved version of a use case's fields (the highest is the current one)."""

    __tablename__ = "usecase_versions"
    __table_args__ = (
        UniqueConstraint("usecase_id", "version"),
        CheckConstraint("version >= 1", name="version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    usecase_id: Mapped[str] = mapped_column(
        ForeignKey("usecases.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300), default="")
    administration: Mapped[str] = mapped_column(Text, default="")
    decision: Mapped[str] = mapped_column(Text, default="")
    affected: Mapped[str] = mapped_column(Text, default="")
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    #: An Annex III point id (``"5b"``) or ``"not-high-risk"``.
    ai_act_area: Mapped[str] = mapped_column(String(100), default="")
    not_high_risk_reason: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)

    usecase: Mapped[UseCase] = relationship(back_populates="versions")


class UseCaseDataset(Base):
    """A table brought to a use case; its files are in the service's area."""

    __tablename__ = "usecase_datasets"
    __table_args__ = (UniqueConstraint("usecase_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    usecase_id: Mapped[str] = mapped_column(
        ForeignKey("usecases.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    #: ``received`` (format to confirm), ``scanned`` (findings to resolve),
    #: ``ready`` (``table.parquet`` written).
    status: Mapped[str] = mapped_column(String(20), default="received")
    #: Digest of the file as uploaded.
    sha256: Mapped[str] = mapped_column(String(64), default="")
    #: ``Intake.state()`` after the last step.
    state: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)


class UseCaseModel(Base):
    """A model brought to a use case (a file never unpickled), or how it is replaced."""

    __tablename__ = "usecase_models"
    __table_args__ = (
        UniqueConstraint("usecase_id", "name"),
        CheckConstraint("kind IN ('skops', 'onnx', 'scores', 'baseline')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    usecase_id: Mapped[str] = mapped_column(
        ForeignKey("usecases.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(300), default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    size: Mapped[int] = mapped_column(Integer, default=0)
    #: Types skops would have to trust to load the file (empty: none).
    untrusted_types: Mapped[list] = mapped_column(JSON, default=list)
    #: ``kind == "scores"``: the column holding the existing system's scores.
    column: Mapped[str] = mapped_column(String(200), default="")
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)


class UseCaseResult(Base):
    """Assessment results saved from a notebook run (the newest is the current one)."""

    __tablename__ = "usecase_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    usecase_id: Mapped[str] = mapped_column(
        ForeignKey("usecases.id", ondelete="CASCADE"), index=True
    )
    notebook_sha256: Mapped[str] = mapped_column(String(64), default="")
    #: ``ai4scale.assess.to_payload(...)``: tables, figures (PNG base64), notes.
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    author: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)


class UseCaseAnswer(Base):
    """One save of an answer to a questionnaire question (every save a new row)."""

    __tablename__ = "usecase_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    usecase_id: Mapped[str] = mapped_column(
        ForeignKey("usecases.id", ondelete="CASCADE"), index=True
    )
    question_id: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text, default="")
    #: Result ids the answer cites (``"performance.figure"``).
    cites: Mapped[list] = mapped_column(JSON, default=list)
    author: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)


class UseCaseComment(Base):
    """An instructor's comment on one question of a use case."""

    __tablename__ = "usecase_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    usecase_id: Mapped[str] = mapped_column(
        ForeignKey("usecases.id", ondelete="CASCADE"), index=True
    )
    question_id: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)
