"""The course service: release, fetch, check, submit, collect, grade, feedback.

A JupyterHub managed service at ``/services/course/`` (hub OAuth). Its own
storage is the gradebook database plus a root-only directory; notebooks move
to and from learners' servers only through their Jupyter Server contents API,
called with the service's own hub token, so nothing assumes a shared
filesystem. The REST API is described in ``openapi.yaml``.

Names are imported on first use, as in :mod:`ai4scale.hub`.
"""

import importlib

__all__: list[str] = []

_LAZY: dict[str, str] = {}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
