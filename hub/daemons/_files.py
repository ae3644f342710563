"""Where the proxy's and the hub's pid files, logs and secrets live (the state directory)."""

from __future__ import annotations

from .._state import read_or_create_secret, state_dir

__all__ = [
    "hub_log",
    "hub_pid_file",
    "proxy_log",
    "proxy_pid_file",
    "proxy_token",
    "proxy_token_file",
]


def hub_pid_file(settings):
    """Return the pid file JupyterHub writes (``JupyterHub.pid_file``)."""
    return state_dir(settings) / "jupyterhub.pid"


def hub_log(settings):
    """Return the hub's log file when it does not run under systemd."""
    return state_dir(settings) / "jupyterhub.log"


def proxy_pid_file(settings):
    """Return the proxy's pid file."""
    return state_dir(settings) / "jupyterhub-proxy.pid"


def proxy_log(settings):
    """Return the proxy's log file when it does not run under systemd."""
    return state_dir(settings) / "proxy.log"


def proxy_token_file(settings):
    """Return the root-only file holding the proxy API's token."""
    return state_dir(settings) / "proxy-auth-token"


def proxy_token(settings):
    """Return the proxy API's token, creating it (mode 0600) on first use.

    The hub and the proxy read it from this file; it never appears on a
    command line (``/proc/<pid>/cmdline`` is world-readable).
    """
    return read_or_create_secret(proxy_token_file(settings))
