"""Grading on Kubernetes: the request a Job reads, and the results its pod's log holds.

Pure functions, apart from the cluster: :func:`request_document` builds the
worker's file-mode document (the Secret's content), :func:`parse_results`
reads its events back from the pod's log, and :func:`job_failure` and
:func:`unrun_result` say in words what became of a pod that gave no result
(evicted, killed at the memory limit or the deadline, its image missing).
"""

from __future__ import annotations

import json

__all__ = ["job_failure", "parse_results", "request_document", "unrun_result"]


def request_document(runs, *, settings, preload="", files=None):
    """Return the request document (bytes) of the worker's file mode: ``open``, then ``runs``.

    Parameters
    ----------
    runs : list of (str, nbformat.NotebookNode)
        Run ids and notebooks.
    settings : dict
        Sandbox settings of the ``open`` request (see ``_protocol.SETTINGS``).
    preload : str
        The lab's import lines.
    files : dict or list, optional
        The lab's working-directory files (as the executors take them).

    Returns
    -------
    bytes
    """
    from ._protocol import PROTOCOL, open_request, run_request

    first = open_request(settings=settings, preload=preload, files=files)
    doc = {
        "protocol": PROTOCOL,
        "settings": first["settings"],
        "preload": first["preload"],
        "files": first["files"],
        "runs": [{k: v for k, v in run_request(i, nb).items() if k != "op"} for i, nb in runs],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def parse_results(log, run_ids):
    """Return the worker's results in a pod's log, one per run id (None where missing).

    The log holds the worker's events (JSON lines on stdout) mixed with what
    libraries wrote to stderr; lines that are not events are skipped.

    Parameters
    ----------
    log : str
        The container's log.
    run_ids : list of str
        The runs of the request.

    Returns
    -------
    results : dict
        ``{run id: RunResult or None}``.
    errors : list of str
        The messages of the worker's ``error`` events (``open`` failed, a bad run).
    done : bool
        Whether the worker reached the end of the document.
    """
    from ._protocol import result_from_dict

    results = dict.fromkeys(run_ids)
    errors, done = [], False
    for line in log.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        kind = event.get("event")
        if kind == "result" and event.get("id") in results:
            results[event["id"]] = result_from_dict(event["result"])
        elif kind == "error":
            where = f"run {event['id']}: " if event.get("id") else ""
            errors.append(where + str(event.get("message", "")))
        elif kind == "done":
            done = True
    return results, errors, done


#: Reasons a container waits for ever: the Job would only fail at its deadline.
STUCK_REASONS = {
    "ErrImagePull": "the grading image could not be pulled",
    "ImagePullBackOff": "the grading image could not be pulled",
    "InvalidImageName": "the grading image's name is not valid",
    "CreateContainerConfigError": "the grading container could not be configured",
    "CreateContainerError": "the grading container could not be created",
}


def _condition(obj, kind):
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind and cond.get("status") == "True":
            return cond
    return None


def _container_state(pod):
    statuses = (pod or {}).get("status", {}).get("containerStatuses") or []
    return statuses[0].get("state") or {} if statuses else {}


def job_finished(job):
    """Return whether a Job (its API dict) has ended: ``Complete`` or ``Failed``."""
    return bool(_condition(job, "Complete") or _condition(job, "Failed"))


def pod_stuck(pod):
    """Return why the grading pod can never start (image not pulled...), or ``""``.

    Parameters
    ----------
    pod : dict
        The pod, as the API returns it (camelCase keys).
    """
    waiting = _container_state(pod).get("waiting") or {}
    what = STUCK_REASONS.get(waiting.get("reason"))
    if not what:
        return ""
    message = waiting.get("message") or waiting["reason"]
    return f"{what}: {message}"


def job_failure(job, pod, *, log="", errors=()):
    """Return ``(outcome, reason)`` for the runs of a Job that gave no result.

    Parameters
    ----------
    job : dict
        The Job, as the API returns it (camelCase keys).
    pod : dict or None
        Its pod, if one was created.
    log : str
        The pod's log; its last lines go into the reason of an unexplained exit.
    errors : sequence of str
        The worker's ``error`` messages (see :func:`parse_results`).

    Returns
    -------
    tuple of str
        An outcome of :data:`ai4scale.grading.sandbox.OUTCOMES` and the reason in words.

    Notes
    -----
    On cgroup v2 nodes (Kubernetes 1.28 and later) one OOM kill ends the whole
    container (``memory.oom.group``), the worker with the kernel: a memory
    bomb costs the pod, reported ``OOMKilled``; with one run per Job (as the
    executor sends them) that is the bomb's run only.
    """
    terminated = _container_state(pod).get("terminated") or {}
    pod_status = (pod or {}).get("status") or {}
    failed = _condition(job, "Failed") or {}
    deadline = (job.get("spec") or {}).get("activeDeadlineSeconds")
    if terminated.get("reason") == "OOMKilled":
        return "memory_limit", "the grading pod was killed at its memory limit"
    if failed.get("reason") == "DeadlineExceeded":
        return "notebook_timeout", f"the grading Job ran longer than its deadline ({deadline} s)"
    if pod_status.get("reason") == "Evicted":
        return "kernel_died", f"the grading pod was evicted: {pod_status.get('message', '')}"
    stuck = pod_stuck(pod)
    if stuck:
        return "startup_failed", stuck
    if errors:
        return "startup_failed", "the grading worker refused the request: " + "; ".join(errors)
    if pod is None:
        why = failed.get("message") or failed.get("reason") or "no pod was created"
        return "startup_failed", f"the grading Job started no pod: {why}"
    tail = "\n".join(line for line in log.splitlines() if not line.startswith("{"))[-2000:]
    code = terminated.get("exitCode")
    said = f"; it wrote:\n{tail}" if tail.strip() else ""
    if code is not None:
        return "startup_failed", f"the grading worker exited with code {code} before this run{said}"
    return "startup_failed", f"the grading pod ended without a result for this run{said}"


def unrun_result(nb, outcome, reason):
    """Return the RunResult of a notebook that never ran: every code cell ``not_run``."""
    from ai4scale.grading.sandbox import CellResult, RunResult

    cells = [
        CellResult(index=i, cell_id=c.get("id"))
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
    ]
    return RunResult(outcome, reason, cells)
