"""The use cases' database rows, as the service side names them.

The classes are defined in :mod:`ai4scale.grading.gradebook._usecases`,
beside the gradebook's own models, so that the gradebook's Alembic
migrations include their tables without importing the hub (data flows from
the hub down to the gradebook, never back up). This module re-exports them.
"""

from ai4scale.grading.gradebook._usecases import (
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
    "MODEL_KINDS",
    "UseCase",
    "UseCaseAnswer",
    "UseCaseComment",
    "UseCaseDataset",
    "UseCaseModel",
    "UseCaseResult",
    "UseCaseVersion",
]
