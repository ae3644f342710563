"""The Docker engine: reach it, or say how to start one.

The docker profile and the ``docker`` grading executor talk to the engine
through the Docker SDK for Python (``docker``, a dependency of DockerSpawner),
at ``$DOCKER_HOST`` or the default socket ``/var/run/docker.sock``.
"""

from __future__ import annotations

import os

__all__ = ["EngineUnavailable", "START_HINT", "docker_client", "engine_unavailable_reason"]

#: How an administrator starts an engine on a Debian machine (no default
#: bridge: containers use host networking or user-defined networks).
START_HINT = (
    "install and start one: `apt-get install docker.io` then `systemctl start docker`; "
    "without systemd: `dockerd --bridge=none --iptables=false --ip-masq=false &` "
    "(or point DOCKER_HOST at a running engine)"
)


class EngineUnavailable(RuntimeError):
    """No Docker engine answers; the message says where it looked and how to start one."""


def _where():
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def docker_client(*, timeout=60):
    """Return a Docker SDK client whose engine answered a ping.

    Parameters
    ----------
    timeout : float
        Seconds for each API call of the client.

    Returns
    -------
    docker.DockerClient

    Raises
    ------
    EngineUnavailable
        No engine at ``$DOCKER_HOST`` (default ``/var/run/docker.sock``).
    """
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except (DockerException, OSError) as e:
        reason = str(e).split("(Caused by", 1)[0].strip() or type(e).__name__
        raise EngineUnavailable(
            f"no Docker engine answers at {_where()} ({reason}): {START_HINT}"
        ) from None
    return client


def engine_unavailable_reason():
    """Return why no Docker engine can be used here, or ``""`` when one answers."""
    try:
        docker_client(timeout=10).close()
    except EngineUnavailable as e:
        return str(e)
    return ""
