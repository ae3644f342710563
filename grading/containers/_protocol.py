"""What the grader and a grading container say to each other (version 1).

The in-container worker (``python -m ai4scale.grading.containers``) reads
*requests* and writes *events*, one JSON object per line (UTF-8, newline
ended). Nothing else is ever written to its stdout: what libraries print
goes to stderr. There are two ways in, one code path:

``serve`` (the ``docker`` executor)
    Requests on stdin, events on stdout, for as long as stdin is open.
    EOF on stdin ends the worker (and every process of its runs).

``run --request FILE`` (a Kubernetes Job, FILE mounted from a Secret)
    One *request document* (below) read from FILE; it is turned into the
    same requests (``open``, one ``run`` per notebook) and served as if they
    came on stdin, then the worker prints ``done`` and exits: 0 when every
    run produced a result, 1 when ``open`` failed, 2 for a bad document.

Requests
--------
``{"op": "open", "protocol": 1, "settings": {...}, "preload": "...", "files": {...}}``
    Once, first. ``settings``: the :class:`~ai4scale.grading.sandbox.Sandbox`
    traits of :data:`SETTINGS` (timeouts, caps, grading account; unknown
    keys are refused). ``preload``: the lab's import lines (trusted code,
    never a learner's), imported once by the zygote. ``files``: the lab's
    working-directory files (see *files* below), used by every ``run`` that
    has none of its own. Answered by ``ready`` or ``error``.
``{"op": "run", "id": "...", "notebook": {...}, "files": {...}}``
    One notebook (nbformat 4 JSON, as ``nbformat.writes`` gives it) to
    execute in a fresh kernel forked from the zygote. ``files`` is optional:
    absent or ``null`` means the ``open`` request's. Answered by ``result``
    (always, whatever the learner's code did) or ``error`` (a bad request).

*files* is ``{"relative/path": "<base64 of the content>"}``: no absolute
path, no ``..``, directories given by their files.

Events
------
``{"event": "ready", "protocol": 1, "seconds": 1.2, "modules": 812}``
    The zygote imported ``preload`` in ``seconds``.
``{"event": "result", "id": "...", "result": {...}}``
    :meth:`ai4scale.grading.sandbox.RunResult.to_dict` of the run ``id``.
``{"event": "error", "id": "..." or null, "message": "..."}``
    A request that could not be served (bad JSON, unknown op, ``open``
    failed); ``id`` is the run's, when there is one.
``{"event": "done", "runs": 3}``
    File mode only: the end of the document.

Request document (file mode)
----------------------------
``{"protocol": 1, "settings": {...}, "preload": "...", "files": {...},
"runs": [{"id": "...", "notebook": {...}, "files": {...}}, ...]}``
"""

from __future__ import annotations

import base64
import json
from pathlib import Path, PurePosixPath

__all__ = [
    "PROTOCOL",
    "SETTINGS",
    "ProtocolError",
    "decode_files",
    "dumps",
    "encode_files",
    "open_request",
    "read_document",
    "result_from_dict",
    "run_request",
]

#: Version of this protocol; ``open`` and documents carry it.
PROTOCOL = 1

#: Sandbox traits a request's ``settings`` may set.
SETTINGS = (
    "user",
    "kernel_name",
    "cell_timeout",
    "notebook_timeout",
    "startup_timeout",
    "preload_timeout",
    "memory",
    "cpu",
    "max_pids",
    "disk",
    "tmp_disk",
    "zygote_memory",
    "max_output_bytes",
    "output_stop_bytes",
)


class ProtocolError(ValueError):
    """A request or document that does not follow the protocol."""


def dumps(message):
    """Return ``message`` as one protocol line (bytes, ending in a newline)."""
    return (json.dumps(message, separators=(",", ":")) + "\n").encode()


def _check_name(name):
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or not path.parts:
        raise ProtocolError(f"file name must be relative, not {name!r}")
    return str(path)


def encode_files(files):
    """Return working-directory ``files`` as the protocol's ``{name: base64}``.

    Parameters
    ----------
    files : dict or list or None
        ``{relative name: Path or bytes}`` or a list of Paths (under their own
        names), as the executors take them; directories are walked.

    Returns
    -------
    dict or None
    """
    if files is None:
        return None
    if not isinstance(files, dict):
        files = {Path(p).name: Path(p) for p in files}
    out = {}
    for name, source in files.items():
        name = _check_name(str(name))
        if isinstance(source, bytes):
            out[name] = base64.b64encode(source).decode()
        elif Path(source).is_dir():
            for path in sorted(Path(source).rglob("*")):
                if path.is_file():
                    rel = f"{name}/{path.relative_to(source).as_posix()}"
                    out[rel] = base64.b64encode(path.read_bytes()).decode()
        else:
            out[name] = base64.b64encode(Path(source).read_bytes()).decode()
    return out


def decode_files(files):
    """Return the protocol's ``{name: base64}`` as ``{name: bytes}`` (names checked)."""
    if files is None:
        return None
    if not isinstance(files, dict):
        raise ProtocolError("files must be an object of {name: base64}")
    try:
        return {_check_name(n): base64.b64decode(v, validate=True) for n, v in files.items()}
    except (TypeError, ValueError) as e:
        raise ProtocolError(f"bad file content: {e}") from None


def open_request(*, settings, preload="", files=None):
    """Return the ``open`` request (``files`` as the executors take them)."""
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise ProtocolError(f"unknown settings: {', '.join(unknown)}")
    return {
        "op": "open",
        "protocol": PROTOCOL,
        "settings": dict(settings),
        "preload": preload or "",
        "files": encode_files(files),
    }


def run_request(run_id, nb, *, files=None, same_files=True):
    """Return the ``run`` request of notebook ``nb``.

    ``same_files`` leaves ``files`` out: the worker uses the ``open`` request's.
    """
    import nbformat

    request = {"op": "run", "id": str(run_id), "notebook": json.loads(nbformat.writes(nb))}
    if not same_files:
        request["files"] = encode_files(files) or {}
    return request


def read_document(text):
    """Return the requests of a request document: ``open``, then each ``run``.

    Raises
    ------
    ProtocolError
        When it is not JSON, not protocol 1, or misses a part.
    """
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise ProtocolError(f"the request is not JSON: {e}") from None
    if not isinstance(doc, dict) or doc.get("protocol") != PROTOCOL:
        raise ProtocolError(f"the request is not a protocol {PROTOCOL} document")
    runs = doc.get("runs")
    if not isinstance(runs, list):
        raise ProtocolError("the request has no list of runs")
    first = {
        "op": "open",
        "protocol": PROTOCOL,
        "settings": doc.get("settings") or {},
        "preload": doc.get("preload") or "",
        "files": doc.get("files"),
    }
    requests = [first]
    for i, run in enumerate(runs):
        if not isinstance(run, dict) or not isinstance(run.get("notebook"), dict):
            raise ProtocolError(f"run {i} has no notebook")
        requests.append({**run, "op": "run", "id": str(run.get("id", i))})
    return requests


def result_from_dict(data):
    """Return the :class:`~ai4scale.grading.sandbox.RunResult` of a ``result`` event."""
    from ai4scale.grading.sandbox import CellResult, RunResult

    data = dict(data)
    cells = [CellResult(**c) for c in data.pop("cells", [])]
    return RunResult(cells=cells, **data)
