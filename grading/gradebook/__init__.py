"""The gradebook: labs, learners, teams, submissions and their results.

SQLite by default (WAL mode), PostgreSQL through a ``postgresql://`` URL;
the schema is created and migrated with the Alembic scripts shipped in
``migrations/`` (:meth:`Gradebook.upgrade`).
"""

from ._api import DEFAULT_COURSE, Gradebook
from ._db import MIGRATIONS_DIR, alembic_config, make_engine, normalize_url
from ._export import export_csv, export_json, export_table
from ._models import (
    ITEM_KINDS,
    SUBMISSION_STATUSES,
    Base,
    Course,
    Item,
    Lab,
    Learner,
    Notebook,
    Result,
    Submission,
    SubmissionFile,
    Team,
)
from ._records import ItemResult, SubmissionInfo, sha256_file

__all__ = [
    "DEFAULT_COURSE",
    "ITEM_KINDS",
    "MIGRATIONS_DIR",
    "SUBMISSION_STATUSES",
    "Base",
    "Course",
    "Gradebook",
    "Item",
    "ItemResult",
    "Lab",
    "Learner",
    "Notebook",
    "Result",
    "Submission",
    "SubmissionFile",
    "SubmissionInfo",
    "Team",
    "alembic_config",
    "export_csv",
    "export_json",
    "export_table",
    "make_engine",
    "normalize_url",
    "sha256_file",
]
