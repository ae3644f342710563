"""The course service: release, fetch, check, submit, collect, grade, feedback.

A JupyterHub managed service at ``/services/course/`` (hub OAuth). Its own
storage is the gradebook database plus a root-only directory; notebooks move
to and from learners' servers only through their Jupyter Server contents API,
called with the service's own hub token, so nothing assumes a shared
filesystem. The REST API is described in ``openapi.yaml``.

Names are imported on first use, as in :mod:`ai4scale.hub`.
"""

import importlib

_LAZY = {
    "BadRequest": "._errors",
    "Conflict": "._errors",
    "Course": "._course",
    "CourseConfig": "._config",
    "CourseError": "._errors",
    "Forbidden": "._errors",
    "HubClient": "._hub",
    "Job": "._grading",
    "NotFound": "._errors",
    "Owner": "._people",
    "Person": "._people",
    "TooLarge": "._errors",
    "autograde": "._grading",
    "check_work": "._check",
    "collect": "._grading",
    "dashboard": "._reports",
    "gradebook_csv": "._reports",
    "gradebook_table": "._reports",
    "instructor_labs": "._labs",
    "lab_status": "._reports",
    "learner_feedback": "._grading",
    "learner_labs": "._labs",
    "main": "._app",
    "make_app": "._app",
    "parse_due": "._names",
    "release": "._labs",
    "release_feedback": "._grading",
    "set_grade": "._grading",
    "source_labs_dir": "._config",
    "store_submission": "._submissions",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
