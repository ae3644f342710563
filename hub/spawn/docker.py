"""The spawner of the docker profile: one container per learner (``ai4scale-docker``).

:class:`DockerSandboxSpawner` is DockerSpawner with what the sandbox needs
on one machine:

* **host networking** (``network_name = "host"``, the default): each
  container shares the machine's network, and its server listens on
  ``127.0.0.1`` at a port chosen free for each start, where the proxy
  reaches it; the server reaches the hub API and the course service on
  ``127.0.0.1`` as on the local profile. With a named network the servers
  are reached at their addresses on it (``use_internal_ip``), as DockerSpawner
  does;
* the start waits until the server listens, or until the container has
  ended: then the hub's pages say why, plainly, with the container's exit
  status and last log lines (:mod:`._container_report`) for the administrator;
* containers are kept until they are read after they end (no Docker
  ``auto_remove``), and removed when the server stops; the home volume stays.

Limits, volumes and the container's user come from the profile
(:func:`ai4scale.hub.profiles.docker.update_docker`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import psutil
from docker.errors import APIError
from dockerspawner import DockerSpawner
from jupyterhub.utils import random_port
from traitlets import Float, Integer, default

from ._container_report import describe_exit, last_lines

__all__ = ["DockerSandboxSpawner"]

#: Starts of a host-network server whose freshly chosen port another
#: process took before the server bound it.
PORT_ATTEMPTS = 3


async def _port_open(ip, port):
    """Return True when something accepts TCP connections at ``ip:port``."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), 5)
    except OSError:  # refused, or TimeoutError (an OSError)
        return False
    writer.close()
    return True


def _listener_cgroups(port):
    """Return the ``/proc/<pid>/cgroup`` text of the process listening on TCP ``port``.

    None when it cannot be told (no listener, or its process is not visible).
    A container's processes have its id in their cgroup paths.
    """
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            try:
                return Path(f"/proc/{conn.pid}/cgroup").read_text()
            except OSError:
                return None
    return None


class DockerSandboxSpawner(DockerSpawner):
    """DockerSpawner on the host network (a port per server) that says why a start failed."""

    log_lines = Integer(
        20,
        help="""
        Last log lines of a container that ended at start shown on the hub's
        spawn page (for the administrator the learner shows it to).
        """,
    ).tag(config=True)

    ready_interval = Float(
        0.2,
        help="Seconds between checks that a starting server listens or that its container ended.",
    ).tag(config=True)

    @default("network_name")
    def _default_network_name(self):
        return "host"

    @default("ip")
    def _ip_default(self):
        # On the host network the container's loopback is the machine's:
        # only the proxy (on this machine) needs to reach the server.
        return "127.0.0.1" if self.network_name == "host" else "0.0.0.0"

    @default("use_internal_ip")
    def _default_use_ip(self):
        # True on the host network too: no port publishing (meaningless there).
        return True

    #: Why the last server stopped, for the learner ("server not running"
    #: page, see hub/templates/not_running.html); empty when it stopped normally.
    stop_message = ""

    async def get_ip_and_port(self):
        """Return where the proxy reaches the server (on the host network: 127.0.0.1, its port)."""
        if self.network_name == "host":
            return "127.0.0.1", self.port
        return await super().get_ip_and_port()

    async def create_object(self):
        """Create the container without Docker's ``auto_remove``.

        A container that ends at start must stay until its exit status and
        logs are read; :meth:`stop` (and the next :meth:`start`) remove it.
        """
        remove, self.remove = self.remove, False
        try:
            return await super().create_object()
        finally:
            self.remove = remove

    async def start(self):
        """Start the container, then wait until its server listens.

        Returns
        -------
        (str, int)
            Where the proxy reaches the server.

        Raises
        ------
        ContainerDied
            The container ended before its server listened; its message
            (shown by the hub) says why, with the last log lines.
        """
        self.stop_message = ""
        for attempt in range(1, PORT_ATTEMPTS + 1):
            if self.network_name == "host":
                self.port = random_port()
            ip, port = await super().start()
            died = await self._wait_for_server(ip, port)
            if died is None:
                return ip, port
            if not (self.network_name == "host" and await _port_open(ip, port)):
                break
            # Another process bound the port between its choice and the
            # server's start (often a kernel's ZMQ socket): try another one.
            self.log.warning(
                "port %s was taken before the server of %s bound it (attempt %d of %d)",
                port,
                self.user.name,
                attempt,
                PORT_ATTEMPTS,
            )
            await self._remove_quietly()
        await self._remove_quietly()
        self.log.error("The container of %s ended at start: %s", self.user.name, died)
        raise died

    async def _wait_for_server(self, ip, port):
        """Wait until the server listens; return None, or the ContainerDied of an ended container.

        The hub checks a new server with a backoff that reaches seconds
        between tries, and never looks at the container: a server that
        cannot start would keep the learner waiting for ``http_timeout``.
        Waiting here returns as soon as the port opens, and fails within a
        second when the container ends (the engine is asked once a second:
        its client is one thread shared by every start).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        look = loop.time() + self.ready_interval
        while loop.time() < deadline:
            if await _port_open(ip, port) and await self._ours(port):
                return None
            if loop.time() >= look:
                info = await self.get_object()
                if not (info or {}).get("State", {}).get("Running"):
                    return await self._describe(info)
                look = loop.time() + 1.0
            await asyncio.sleep(self.ready_interval)
        return None  # the hub's own checks time out and say so

    async def _ours(self, port):
        """Return False when, on the host network, another process than the container listens."""
        if self.network_name != "host":
            return True
        owner = await asyncio.to_thread(_listener_cgroups, port)
        return owner is None or self.object_id in owner

    async def _describe(self, info):
        """Return the ContainerDied of a container that ended (``info`` from inspect, or None)."""
        if info is None:
            return describe_exit({"Error": "the container was removed before it was read"}, [])
        try:
            raw = await self.docker("logs", self.container_id, stdout=True, stderr=True, tail=200)
        except APIError as e:
            raw = f"(logs unreadable: {e})"
        limit = info.get("HostConfig", {}).get("Memory") or None
        return describe_exit(info["State"], last_lines(raw, self.log_lines), memory_limit=limit)

    async def _remove_quietly(self):
        """Remove the server's container, if any (never its volumes)."""
        if not self.object_id:
            return
        try:
            await self.docker("remove_container", self.object_id, force=True)
        except APIError as e:
            if e.status_code != 404:
                self.log.warning("Could not remove container %s: %s", self.object_name, e)
        self.object_id = ""

    async def poll(self):
        """As DockerSpawner; when memory killed a running container, say so to the learner."""
        info = await self.get_object()
        if not info:
            return 0
        state = info["State"]
        if state["Running"]:
            return None
        if state.get("OOMKilled"):
            self.stop_message = (
                "Your server was stopped because it used more memory than its limit."
                " Your files are kept. Start it again, then load less data at once"
                " or shut down notebooks you no longer use."
            )
            self.log.warning("Container of %s was killed for memory", self.user.name)
        return state.get("ExitCode") or 0

    def get_state(self):
        """Add the stop message, which outlives the server (the hub replaces spawners)."""
        state = super().get_state()
        if self.stop_message:
            state["stop_message"] = self.stop_message
        return state

    def load_state(self, state):
        """Restore the stop message."""
        super().load_state(state)
        self.stop_message = state.get("stop_message", "")
