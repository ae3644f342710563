"""The in-container grading worker: serve protocol requests (see ``_protocol``).

One worker per grading container, as the container's root. ``open`` starts a
:class:`~ai4scale.grading.containers._confine.ContainerZygote` with the lab's
imports; each ``run`` forks a fresh kernel from it (as the grading account),
executes the notebook with the sandbox's timeouts and output cap, kills every
process of the run and wipes its files, and answers with the ``RunResult``.
:func:`serve` reads requests from a stream, :func:`run_document` from one
request document (a Kubernetes Job): both hand each request to the same
:meth:`Worker.handle`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback

import nbformat

from ._protocol import PROTOCOL, SETTINGS, ProtocolError, decode_files, dumps, read_document

__all__ = ["Worker", "run_document", "serve"]

log = logging.getLogger(__name__)

#: Variables of the container's environment every kernel gets too (a kernel's
#: environment is otherwise built from scratch): where the prepared datasets
#: are mounted, as in the learners' servers.
PASSED_ENV = ("AI4SCALE_DATASETS",)


def kernel_env(environ=None):
    """Return the variables of :data:`PASSED_ENV` set in ``environ`` (``os.environ``)."""
    environ = os.environ if environ is None else environ
    return {k: environ[k] for k in PASSED_ENV if environ.get(k)}


class Worker:
    """Serves ``open`` and ``run`` requests; :meth:`close` ends the zygote."""

    def __init__(self):
        self.sandbox = self.zygote = None
        self.preload = ""
        self.files = None

    # -- requests ------------------------------------------------------------

    def handle(self, request):
        """Return the event answering ``request`` (a dict)."""
        op = request.get("op") if isinstance(request, dict) else None
        run_id = request.get("id") if isinstance(request, dict) else None
        try:
            if op == "open":
                return self.open(request)
            if op == "run":
                return self.run(request)
            raise ProtocolError(f"unknown op {op!r}")
        except ProtocolError as e:
            return {"event": "error", "id": run_id, "message": str(e)}
        except Exception as e:
            traceback.print_exc()
            return {"event": "error", "id": run_id, "message": f"{type(e).__name__}: {e}"}

    def open(self, request):
        """Start the zygote with the lab's imports; return ``ready``."""
        from ._confine import ContainerSandbox

        if self.zygote is not None:
            raise ProtocolError("open was already sent")
        if request.get("protocol") != PROTOCOL:
            raise ProtocolError(f"this worker speaks protocol {PROTOCOL}")
        settings = request.get("settings") or {}
        unknown = sorted(set(settings) - set(SETTINGS))
        if unknown:
            raise ProtocolError(f"unknown settings: {', '.join(unknown)}")
        self.sandbox = ContainerSandbox(**settings)
        self.preload = request.get("preload") or ""
        self.files = decode_files(request.get("files"))
        started = time.monotonic()
        self._start_zygote()
        return {
            "event": "ready",
            "protocol": PROTOCOL,
            "seconds": round(time.monotonic() - started, 3),
            "modules": self.zygote.ready.get("modules"),
        }

    def _start_zygote(self):
        from ._confine import ContainerZygote

        if self.zygote is not None:
            self.zygote.close()
        self.zygote = None
        self.zygote = ContainerZygote(self.sandbox, preload=self.preload).start()

    def run(self, request):
        """Execute the request's notebook in a fresh forked kernel; return ``result``."""
        if self.zygote is None:
            raise ProtocolError("run before open")
        run_id = str(request.get("id"))
        try:
            nb = nbformat.reads(json.dumps(request["notebook"]), as_version=4)
        except (KeyError, TypeError, AttributeError, ValueError) as e:
            raise ProtocolError(f"run {run_id} has no notebook: {e}") from None
        files = request.get("files")
        files = self.files if files is None else decode_files(files)
        result = self._execute(nb, files)
        return {"event": "result", "id": run_id, "result": result.to_dict()}

    def _execute(self, nb, files):
        from ai4scale.grading.sandbox import RunResult, ZygoteError

        started = time.monotonic()
        for attempt in (1, 2):
            if not self.zygote.alive():
                self._start_zygote()
            try:
                kernel = self.sandbox.start(
                    workdir_files=files, env=kernel_env(), zygote=self.zygote
                )
            except ZygoteError as e:
                if attempt == 2:
                    return RunResult("startup_failed", f"the kernel could not be forked: {e}")
                self.zygote.close()
                continue
            try:
                result = kernel.execute(nb)
            finally:
                kernel.close()
            result.timings["teardown"] = kernel.timings.get("teardown", 0.0)
            if getattr(kernel.proc, "lost", False) and attempt == 1:
                # The zygote died (not the learner's kernel): not the learner's fault.
                log.warning("the zygote died during a run: running it again")
                continue
            result.seconds = time.monotonic() - started
            return result
        return result

    def close(self):
        """Stop the zygote (and whatever it still runs)."""
        if self.zygote is not None:
            self.zygote.close()
            self.zygote = None


def _replies():
    """Return a private copy of stdout for events; route fd 1 to stderr."""
    sys.stdout.flush()
    fd = os.dup(1)
    os.dup2(2, 1)
    return fd


def _write(fd, event):
    data = dumps(event)
    while data:
        data = data[os.write(fd, data) :]


def serve(stream=None):
    """Answer JSON-line requests from ``stream`` (stdin) until EOF; return 0.

    Events go to stdout only; anything printed by libraries goes to stderr.
    """
    out = _replies()
    worker = Worker()
    stream = stream if stream is not None else sys.stdin.buffer
    try:
        for line in stream:
            if not line.strip():
                continue
            try:
                request = json.loads(line)
            except ValueError as e:
                _write(out, {"event": "error", "id": None, "message": f"not JSON: {e}"})
                continue
            _write(out, worker.handle(request))
    finally:
        worker.close()
    return 0


def run_document(path):
    """Serve the requests of the request document at ``path``; return the exit status.

    0: every run has a result; 1: ``open`` failed or a run was refused; 2: a
    bad document (nothing ran).
    """
    out = _replies()
    try:
        with open(path, encoding="utf-8") as f:
            requests = read_document(f.read())
    except (OSError, ProtocolError) as e:
        _write(out, {"event": "error", "id": None, "message": str(e)})
        return 2
    worker = Worker()
    status, runs = 0, 0
    try:
        for request in requests:
            event = worker.handle(request)
            _write(out, event)
            if event["event"] == "error":
                status = 1
                if request["op"] == "open":
                    break
            elif event["event"] == "result":
                runs += 1
    finally:
        worker.close()
    _write(out, {"event": "done", "runs": runs})
    return status
