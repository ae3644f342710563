"""Why a learner's container stopped: the words the hub's pages show, with its last log lines.

The first sentence is for the learner (plain, no technical terms); the
container's exit status and last log lines follow for the administrator the
learner shows the page to.
"""

from __future__ import annotations

import html

from tornado import web

from ..memory_notice import format_bytes

__all__ = ["ContainerDied", "describe_exit", "last_lines"]

#: Longest log line shown (longer ones are cut): a page, not a log viewer.
MAX_LINE = 400


class ContainerDied(web.HTTPError):
    """A learner's container ended before its server answered.

    ``jupyterhub_message`` and ``jupyterhub_html_message`` are what
    JupyterHub shows on the error, spawn-pending and "server not running"
    pages (``jupyterhub.utils.format_exception``). An HTTP error, because
    JupyterHub shows only those to the browser that asked for the server
    (anything else becomes "Unhandled error starting server").
    """

    def __init__(self, message, html_message, *, exit_code=None, oom_killed=False, logs=()):
        super().__init__(500, message.replace("%", "%%"))
        self.jupyterhub_message = message
        self.jupyterhub_html_message = html_message
        self.exit_code = exit_code
        self.oom_killed = oom_killed
        self.logs = list(logs)


def last_lines(raw, count):
    """Return the last ``count`` non-empty lines of a container's log output.

    Parameters
    ----------
    raw : bytes or str
        What ``docker logs`` returned (stdout and stderr interleaved).
    count : int

    Returns
    -------
    list of str
    """
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    return [line if len(line) <= MAX_LINE else line[:MAX_LINE] + " …" for line in lines[-count:]]


def describe_exit(state, logs, *, memory_limit=None):
    """Return the :class:`ContainerDied` that says why a container stopped at start.

    Parameters
    ----------
    state : dict
        ``State`` of ``docker inspect``: ``ExitCode``, ``OOMKilled``, ``Error``.
    logs : list of str
        The container's last log lines (:func:`last_lines`).
    memory_limit : int, optional
        The container's memory limit in bytes, named when memory ran out.

    Returns
    -------
    ContainerDied
    """
    code = state.get("ExitCode")
    oom = bool(state.get("OOMKilled"))
    error = (state.get("Error") or "").strip()
    if oom:
        limit = f" ({format_bytes(memory_limit)})" if memory_limit else ""
        plain = f"Your workspace could not start: it needed more memory than its limit{limit}."
    else:
        plain = "Your workspace could not start: it stopped as soon as it was started."
    plain += (
        " Your files are kept. Try again in a minute; if it happens again, show this page"
        " to your course administrator."
    )
    details = f"Container exit code {code}" + (", killed for memory (OOMKilled)" if oom else "")
    if error:
        details += f"; Docker: {error}"
    if logs:
        details += f". Last {len(logs)} log line(s):"
    else:
        details += ". The container wrote no log lines."
    message = "\n".join([plain, details, *logs])
    # Phrasing content only: the pages put it inside a <p>.
    html_message = f"{html.escape(plain)}<br><small>{html.escape(details)}</small>"
    if logs:
        lines = "<br>".join(html.escape(line) for line in logs)
        html_message += f'<code class="ai4scale-log d-block text-break mt-2">{lines}</code>'
    return ContainerDied(message, html_message, exit_code=code, oom_killed=oom, logs=logs)
