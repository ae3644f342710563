"""Errors of the dataset registry, each printed as one clear line by the CLI."""

import difflib

from ai4scale.hub._errors import UserError

__all__ = [
    "CardError",
    "ChecksumError",
    "CourseServiceError",
    "DataNotReadyError",
    "DatasetError",
    "DatasetNotPreparedError",
    "NotInTeamError",
    "NotLoggedInError",
    "PreparationError",
    "ServiceUnavailableError",
    "SourceMismatchError",
    "UnknownDatasetError",
    "UseCaseReferenceError",
]


class DatasetError(UserError):
    """Base class of the dataset errors."""


class UnknownDatasetError(DatasetError, KeyError):
    """No dataset has this name; the message suggests the closest names."""

    def __init__(self, name, known):
        self.name = name
        self.suggestions = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.4)
        if self.suggestions:
            hint = "did you mean " + " or ".join(repr(s) for s in self.suggestions) + "?"
        else:
            hint = "known datasets: " + ", ".join(sorted(known))
        super().__init__(f"unknown dataset {name!r}: {hint}")

    def __str__(self):  # KeyError would quote the whole message
        return self.args[0]


class DatasetNotPreparedError(DatasetError, FileNotFoundError):
    """The dataset is known but has not been prepared in the data directory."""

    def __init__(self, name, data_dir):
        self.name = name
        self.data_dir = str(data_dir)
        super().__init__(
            f"dataset {name!r} is not prepared in {data_dir}: "
            f"run `sudo ai4scale datasets prepare {name}`"
        )


class ChecksumError(DatasetError):
    """A prepared file no longer matches the sha256 recorded in the manifest."""

    def __init__(self, path, expected, actual):
        self.path = str(path)
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{path}: checksum mismatch (manifest sha256 {expected}, file sha256 {actual}); "
            "the file was modified or damaged: prepare the dataset again "
            "(`sudo ai4scale datasets prepare --force NAME`)"
        )


class SourceMismatchError(DatasetError):
    """A source distribution or member file differs from the one pinned in the card."""

    def __init__(self, what, expected, actual):
        self.what = what
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{what}: sha256 differs from the pinned one "
            f"(card: {expected}, observed: {actual}); preparation stopped"
        )


class CardError(DatasetError, ValueError):
    """A dataset card is not valid (schema or consistency)."""


class PreparationError(DatasetError):
    """The prepared frame does not match its card (columns, dtypes, rows)."""


# -- use-case data, fetched from the course service (see ``_service.py``) --------------


class UseCaseReferenceError(DatasetError, ValueError):
    """A ``usecase:`` name that is not ``usecase:<use case>/<dataset>``."""

    def __init__(self, name):
        self.name = name
        super().__init__(
            f"{name!r} is not the name of a use case's data: write "
            "'usecase:<use case>/<dataset>', as shown on the use case's page "
            "(for example 'usecase:benefit-checks/applications')"
        )


class CourseServiceError(DatasetError):
    """The course service refused or could not answer a request from this notebook.

    ``status`` is the HTTP status (None when no answer came), ``detail`` the
    service's own words (may be empty).
    """

    def __init__(self, message, *, status=None, detail=""):
        self.status = status
        self.detail = detail
        super().__init__(message)


class NotLoggedInError(CourseServiceError, PermissionError):
    """The notebook has no valid sandbox login (not on the sandbox, or the login was refused)."""


class NotInTeamError(CourseServiceError, PermissionError):
    """The use case belongs to another team (or to nobody this server's owner may see)."""


class DataNotReadyError(CourseServiceError):
    """The use case's table exists but is not ready (personal-data check unfinished)."""


class ServiceUnavailableError(CourseServiceError, ConnectionError):
    """The course service did not answer (stopped, restarting, or unreachable)."""
