"""A minimal client of a jupyter-collaboration room, as JupyterLab is one.

:class:`RoomClient` joins ``/api/collaboration/room/json:notebook:<fileId>``
of a server over the Y-sync protocol (pycrdt), holds the shared notebook
(a :class:`jupyter_ydoc.YNotebook`), sends its own edits and applies the
others' as they arrive.
"""

from __future__ import annotations

import time

import requests
import websocket
from jupyter_ydoc import YNotebook
from pycrdt import (
    Doc,
    YMessageType,
    YSyncMessageType,
    create_sync_message,
    create_update_message,
    handle_sync_message,
)


class RoomClient:
    """One person in the collaboration room of notebook ``path`` on ``server`` (a URL)."""

    def __init__(self, server, path, token):
        headers = {"Authorization": f"token {token}"}
        r = requests.put(
            f"{server}/api/collaboration/session/{path}",
            json={"format": "json", "type": "notebook"},
            headers=headers,
            timeout=60,
        )
        r.raise_for_status()
        self.session = r.json()
        room = f"json:notebook:{self.session['fileId']}"
        url = server.replace("http", "ws", 1) + f"/api/collaboration/room/{room}"
        self.ws = websocket.create_connection(
            f"{url}?sessionId={self.session['sessionId']}",
            header=[f"Authorization: token {token}"],
            timeout=30,
        )
        self.doc = Doc()
        self.notebook = YNotebook(self.doc)
        self.ws.send_binary(create_sync_message(self.doc))
        self.synced = False
        self.wait_for(lambda: self.synced)

    def _receive(self, timeout):
        self.ws.settimeout(timeout)
        try:
            message = self.ws.recv()
        except websocket.WebSocketTimeoutException:
            return
        if not isinstance(message, bytes) or message[0] != YMessageType.SYNC:
            return  # awareness and other messages
        reply = handle_sync_message(message[1:], self.doc)
        if reply is not None:
            self.ws.send_binary(reply)
        if message[1] == YSyncMessageType.SYNC_STEP2:
            self.synced = True

    def wait_for(self, predicate, timeout=30):
        """Apply incoming messages until ``predicate()`` holds; return whether it did."""
        deadline = time.monotonic() + timeout
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._receive(min(left, 1.0))
        return True

    def append_markdown(self, text):
        """Add a markdown cell at the end of the shared notebook and send the change."""
        before = self.doc.get_state()
        self.notebook.append_cell({"cell_type": "markdown", "source": text, "metadata": {}})
        self.ws.send_binary(create_update_message(self.doc.get_update(before)))

    def sources(self):
        """The sources of the shared notebook's cells, as this client sees them."""
        return [cell["source"] for cell in self.notebook.get()["cells"]]

    def close(self):
        self.ws.close()
