"""The gradebook: labs, learners, teams, submissions and their results.

SQLite by default (WAL mode), PostgreSQL through a ``postgresql://`` URL;
the schema is created and migrated with the Alembic scripts shipped in
``migrations/`` (:meth:`Gradebook.upgrade`).
"""

from ._api import DEFAULT_COURSE, Gradebook
from ._course import CourseRecords, FetchInfo, ReleaseInfo
from ._db import MIGRATIONS_DIR, alembic_config, make_engine, normalize_url
from ._export import export_csv, export_json, export_table, write_csv
from ._models import (
    ITEM_KINDS,
    SUBMISSION_STATUSES,
    Base,
    Course,
    Fetch,
    Item,
    Lab,
    Learner,
    Notebook,
    Release,
    Result,
    Submission,
    SubmissionFile,
    Team,
)
from ._records import ItemResult, SubmissionInfo, sha256_file, submission_digest
from ._usecases import (
    MODEL_KINDS,
    UseCase,
    UseCaseAnswer,
    UseCaseComment,
    UseCaseDataset,
    UseCaseModel,
    UseCaseResult,
    UseCaseVersion,
)

__all__ = [
    "DEFAULT_COURSE",
    "ITEM_KINDS",
    "MIGRATIONS_DIR",
    "MODEL_KINDS",
    "SUBMISSION_STATUSES",
    "Base",
    "Course",
    "CourseRecords",
    "Fetch",
    "FetchInfo",
    "Gradebook",
    "Item",
    "ItemResult",
    "Lab",
    "Learner",
    "Notebook",
    "Release",
    "ReleaseInfo",
    "Result",
    "Submission",
    "SubmissionFile",
    "SubmissionInfo",
    "Team",
    "UseCase",
    "UseCaseAnswer",
    "UseCaseComment",
    "UseCaseDataset",
    "UseCaseModel",
    "UseCaseResult",
    "UseCaseVersion",
    "alembic_config",
    "export_csv",
    "write_csv",
    "export_json",
    "export_table",
    "make_engine",
    "normalize_url",
    "sha256_file",
    "submission_digest",
]
