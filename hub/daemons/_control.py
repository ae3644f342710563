"""Start, stop and find the proxy, the hub and what the hub left behind.

The layout the local profile runs (and the systemd units of
:mod:`._systemd` describe):

* the **proxy** (:mod:`.proxy`) owns the public port and runs on its own;
* the **hub** (JupyterHub) runs with ``cleanup_servers = False`` and does
  not start or stop the proxy: stopping it, restarting it or killing it
  leaves the proxy, learners' servers and their kernels running;
* the hub's managed services (course service, idle culler) run through
  :mod:`.parent_death`, so they end with the hub even when it is killed.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path

import psutil

from .._errors import UserError
from .._state import state_dir
from . import proxy as _proxy_daemon
from ._files import hub_log, hub_pid_file, proxy_log, proxy_pid_file, proxy_token
from ._processes import running_pid, start_detached, terminate, wait_for

__all__ = [
    "HUB_CONFIG",
    "DaemonError",
    "MANAGED_SERVICES",
    "ensure_proxy",
    "hub_answers",
    "hub_command",
    "hub_pid",
    "proxy_answers",
    "proxy_pid",
    "reap_orphans",
    "start_hub",
    "stop_hub",
    "stop_proxy",
    "stop_forkservers",
    "stop_servers",
]

#: The configuration file JupyterHub runs with (two lines over ``apply_config``).
HUB_CONFIG = Path(__file__).parent.parent / "jupyterhub_config.py"

#: Services the hub starts (``JupyterHub.services`` with a command).
MANAGED_SERVICES = ("course", "idle-culler")


class DaemonError(UserError):
    """The proxy or the hub could not be started or stopped."""


# -- the proxy ---------------------------------------------------------------


def proxy_answers(settings, timeout=1.0):
    """Return True if the proxy's API answers with our token."""
    url = f"http://127.0.0.1:{settings['hub']['proxy_api_port']}/api/routes"
    req = urllib.request.Request(url, headers={"Authorization": f"token {proxy_token(settings)}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


def proxy_pid(settings):
    """Return the pid of the proxy started from ``settings``' state directory, or None."""
    return running_pid(proxy_pid_file(settings), marker=_proxy_daemon.MARKER)


def ensure_proxy(settings, settings_file, *, timeout=20):
    """Start the proxy unless it runs; return what was done.

    Raises
    ------
    DaemonError
        The proxy did not answer within ``timeout`` seconds (the message
        quotes its log), or another program answers on the proxy's API port.
    """
    pid = proxy_pid(settings)
    if pid is not None and wait_for(lambda: proxy_answers(settings), timeout=timeout):
        return f"proxy: running (pid {pid})"
    if pid is None and proxy_answers(settings):
        return "proxy: running (started by a service manager)"
    state = state_dir(settings)
    log = proxy_log(settings)
    cmd = _proxy_daemon.proxy_command(settings, settings_file)
    env = dict(os.environ, AI4SCALE_CONFIG=str(settings_file))
    proc = start_detached(cmd, env=env, log=log, cwd=state, pid_file=proxy_pid_file(settings))

    def up():
        return proc.poll() is not None or proxy_answers(settings)

    wait_for(up, timeout=timeout)
    if proc.poll() is not None or not proxy_answers(settings):
        proc.kill()
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise DaemonError(f"the proxy did not start; last lines of {log}:\n{tail}")
    return f"proxy: started (pid {proc.pid}, log {log})"


def stop_proxy(settings, *, timeout=15):
    """Stop the proxy started from this state directory; return what was done."""
    pid = proxy_pid(settings)
    if pid is None:
        return "proxy: not running"
    result = terminate(pid, timeout=timeout)
    proxy_pid_file(settings).unlink(missing_ok=True)
    return f"proxy: {result}"


# -- the hub -----------------------------------------------------------------


def hub_command(settings, settings_file):
    """Return the command line and environment that run JupyterHub with ``settings``."""
    hub = settings["hub"]
    venv_bin = Path(settings["paths"]["venv"]) / "bin"
    jupyterhub = venv_bin / "jupyterhub"
    if not jupyterhub.exists():
        jupyterhub = Path(sys.executable).with_name("jupyterhub")
    cmd = [
        str(jupyterhub),
        "-f",
        str(HUB_CONFIG),
        f"--JupyterHub.bind_url=http://{hub['ip']}:{hub['port']}",
    ]
    env = dict(os.environ, AI4SCALE_CONFIG=str(settings_file))
    env["PATH"] = f"{venv_bin}:{env.get('PATH', '/usr/bin:/bin')}"
    return cmd, env


def hub_answers(settings, timeout=1.0):
    """Return True if the hub's own API (not through the proxy) answers."""
    url = f"http://127.0.0.1:{settings['hub']['api_port']}/hub/api/"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


def hub_pid(settings):
    """Return the pid of the hub running from this state directory, or None."""
    return running_pid(hub_pid_file(settings), marker="jupyterhub")


def start_hub(settings, settings_file, *, config_file=None, log=None):
    """Start JupyterHub in a session of its own (it outlives the caller).

    Run :func:`reap_orphans` and :func:`ensure_proxy` first. The fork servers
    (``spawn.fork``, ``kernels.fork``) start beside it, so they have imported
    their libraries by the first sign-in; they, too, outlive the hub. The
    docker profile is checked first (engine, image, network).

    Returns
    -------
    subprocess.Popen

    Raises
    ------
    DockerProfileUnavailable
        The docker profile cannot start learners' servers here.
    """
    from ..forkserver import forkservers_for
    from ..spawn.docker_checks import check_docker_profile

    check_docker_profile(settings)

    forkservers, roles = forkservers_for(settings)
    forkservers.start(roles)
    cmd, env = hub_command(settings, settings_file)
    if config_file is not None:
        cmd[cmd.index("-f") + 1] = str(config_file)
    state = state_dir(settings)
    state.mkdir(parents=True, exist_ok=True)
    return start_detached(cmd, env=env, log=log or hub_log(settings), cwd=state)


def stop_hub(settings, *, timeout=90):
    """Stop the hub gracefully (SIGTERM, as a service manager does); return what was done.

    Learners' servers and the proxy keep running (``cleanup_servers`` is off);
    the hub stops its managed services itself.
    """
    pid = hub_pid(settings)
    if pid is None:
        return "hub: not running"
    return f"hub: {terminate(pid, timeout=timeout)}"


def stop_forkservers(settings):
    """Stop the hub's fork servers (the servers and kernels they forked keep running)."""
    from ..forkserver import forkservers_for

    forkservers, _ = forkservers_for(settings)
    return forkservers.stop()


def stop_servers(settings, *, wait=120):
    """Stop every learner's and workspace's server through the hub; return how many."""
    from ..hubapi import _is_running, _stop_servers, connect

    hub = connect(settings)
    if hub is None:
        return 0
    stopped = 0
    for model in hub.list("/users"):
        if _is_running(model) or model.get("pending"):
            _stop_servers(hub, model["name"], model, wait=wait)
            stopped += 1
    return stopped


# -- what a killed hub leaves ------------------------------------------------


def _is_hub(proc):
    try:
        return any("jupyterhub" in part for part in proc.cmdline()[:3])
    except psutil.Error:
        return False


def reap_orphans(settings, *, timeout=10):
    """Stop managed services of this hub whose hub is gone; return their descriptions.

    A service belongs to this hub when its environment names one of
    :data:`MANAGED_SERVICES` and this hub's API port. It is an orphan when
    its parent is no longer a JupyterHub process (a hub killed outright).
    :mod:`.parent_death` normally ends them already; this catches the rest
    (a service started by an older version, a launcher that lost the race).
    """
    api = f":{settings['hub']['api_port']}/"
    found = []
    for proc in psutil.process_iter(["pid", "ppid"]):
        try:
            env = proc.environ()
        except (psutil.Error, OSError):
            continue
        name = env.get("JUPYTERHUB_SERVICE_NAME")
        if name not in MANAGED_SERVICES or api not in env.get("JUPYTERHUB_API_URL", ""):
            continue
        try:
            parent = proc.parent()
        except psutil.Error:
            parent = None
        if parent is not None and _is_hub(parent):
            continue
        found.append((proc, name))
    done = []
    for proc, name in found:
        result = terminate(proc.pid, timeout=timeout)
        done.append(f"{name} (pid {proc.pid}): {result}")
    return done
