"""Errors of the course library, each with the HTTP status the service answers."""

from __future__ import annotations

from ai4scale.hub._errors import UserError

__all__ = ["BadRequest", "Conflict", "CourseError", "Forbidden", "NotFound", "TooLarge"]


class CourseError(UserError):
    """A refused course operation; ``status`` is the HTTP status, the message says why."""

    status = 400


class BadRequest(CourseError):
    """Malformed input: a lab id, a due date, a body, a file that is not a notebook."""

    status = 400


class Forbidden(CourseError):
    """The user may not do this."""

    status = 403


class NotFound(CourseError):
    """Unknown lab, learner, item, submission or job."""

    status = 404


class Conflict(CourseError):
    """Not possible in the current state (not released, server not running, job running)."""

    status = 409


class TooLarge(CourseError):
    """A notebook or upload above the configured maximum size."""

    status = 413
