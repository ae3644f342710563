"""Prepared public-sector datasets with datasheets, for learners to audit.

Learners load prepared datasets sklearn-style::

    from ai4scale import datasets
    datasets.list()                       # ids of the known datasets
    print(datasets.describe("compas-recidivism"))   # the datasheet (Markdown)
    b = datasets.load("compas-recidivism")
    b.frame, b.data, b.target, b.sensitive, b.card

In a team's workspace or its members' servers, a use case's table (brought by
the team, personal data resolved) loads from the course service::

    df = datasets.load("usecase:benefit-checks/applications")

Operators prepare them once (``sudo ai4scale datasets prepare --all``). Only
the loader and the errors are imported eagerly: card validation (YAML,
jsonschema) and the preparation pipeline load on first use, so that a
learner's kernel pays only for pandas when it loads data.
"""

import importlib

from ._errors import (
    CardError,
    ChecksumError,
    CourseServiceError,
    DataNotReadyError,
    DatasetError,
    DatasetNotPreparedError,
    NotInTeamError,
    NotLoggedInError,
    PreparationError,
    ServiceUnavailableError,
    SourceMismatchError,
    UnknownDatasetError,
    UseCaseReferenceError,
)
from ._load import Bunch, describe, get_data_home, list_datasets, load

__all__ = [
    "Bunch",
    "CardError",
    "ChecksumError",
    "CourseServiceError",
    "DataNotReadyError",
    "DatasetError",
    "DatasetNotPreparedError",
    "NotInTeamError",
    "NotLoggedInError",
    "PrepareResult",
    "PreparationError",
    "ServiceUnavailableError",
    "SourceMismatchError",
    "UnknownDatasetError",
    "UseCaseReferenceError",
    "card_ids",
    "describe",
    "get_data_home",
    "list_datasets",
    "load",
    "load_card",
    "prepare",
    "render_html",
    "render_markdown",
    "validate_card",
]

_LAZY = {
    "card_ids": "._cards",
    "load_card": "._cards",
    "render_html": "._cards",
    "render_markdown": "._cards",
    "validate_card": "._cards",
    "prepare": "._prepare",
    "PrepareResult": "._prepare",
}


def __getattr__(name):
    # ``datasets.list()`` as the issue asks, without shadowing the builtin in
    # this namespace or in ``from ai4scale.datasets import *``.
    if name == "list":
        return list_datasets
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
