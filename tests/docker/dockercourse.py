"""Helpers of the docker-profile course suite: find a learner's container, reconnect to a kernel.

Index:
- :func:`container_of` -- the container of a user's server (names escape usernames).
- :func:`nudge` -- reconnect to a kernel and wait until its broadcasts arrive, as JupyterLab does.
"""

from __future__ import annotations

import json
import time
import uuid

import docker
import websocket


def container_of(client, username, *, name_part=""):
    """Return the container of ``username``'s server (its name escapes the username)."""
    for container in client.containers.list(all=True, filters={"name": name_part}):
        if f"JUPYTERHUB_USER={username}" in container.attrs["Config"]["Env"]:
            return container
    raise docker.errors.NotFound(f"no container of {username}")


def nudge(kernel, timeout=5):
    """Reconnect and ask for the kernel's info, as JupyterLab does; True once its broadcast came.

    The reply's status broadcast (iopub) shows the new connection receives
    the kernel's output; nothing runs in the kernel (its first cell stays first).
    """
    try:
        kernel.reconnect()
    except (OSError, websocket.WebSocketException):
        return False
    msg_id = uuid.uuid4().hex
    header = {"msg_id": msg_id, "msg_type": "kernel_info_request", "username": "test"}
    header.update(session=uuid.uuid4().hex, version="5.3", date="")
    request = {"header": header, "parent_header": {}, "metadata": {}, "content": {}}
    kernel.ws.send(json.dumps({**request, "channel": "shell", "buffers": []}))
    kernel.ws.settimeout(1)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                reply = json.loads(kernel.ws.recv() or "{}")
            except websocket.WebSocketTimeoutException:
                continue
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                if reply.get("channel") == "iopub":
                    return True
        return False
    except (OSError, websocket.WebSocketException, ValueError):
        return False
    finally:
        kernel.ws.settimeout(120)
