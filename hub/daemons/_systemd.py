"""systemd units for the proxy and the hub, as The Littlest JupyterHub installs them.

``ai4scale up --service`` writes ``ai4scale-proxy.service`` and
``ai4scale-hub.service`` and enables them when systemd is the init system.
Two units, so that restarting the hub (``systemctl restart ai4scale-hub``,
or ``ai4scale restart``) leaves the proxy and every open connection alone.

The hub unit uses ``KillMode=process``: learners' servers are the hub's
children in systemd's eyes (the local profile's LocalProcessSpawner), and
systemd's default would kill the whole control group, every learner's
kernel included, at each restart. Managed services still end with the hub
(:mod:`.parent_death`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .._state import state_dir
from . import proxy as _proxy_daemon
from ._control import hub_command

__all__ = [
    "HUB_UNIT",
    "PROXY_UNIT",
    "install_units",
    "systemd_is_init",
    "systemctl",
    "unit_files",
]

PROXY_UNIT = "ai4scale-proxy.service"
HUB_UNIT = "ai4scale-hub.service"
UNIT_DIR = Path("/etc/systemd/system")


def systemd_is_init():
    """Return True when systemd runs this machine (PID 1), as ``sd_booted()`` tells."""
    return os.path.isdir("/run/systemd/system")


def _quote(arg):
    """Quote one ExecStart= argument for systemd."""
    if arg and all(c.isalnum() or c in "/._-=:" for c in arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unit_files(settings, settings_file):
    """Return ``{unit name: text}`` of the proxy's and the hub's units.

    Parameters
    ----------
    settings : dict
        Loaded settings (paths, ports).
    settings_file : str or Path
        The settings file both processes read.

    Returns
    -------
    dict of str to str
    """
    state = state_dir(settings)
    venv_bin = Path(settings["paths"]["venv"]) / "bin"
    path = f"{venv_bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    proxy_cmd = " ".join(_quote(a) for a in _proxy_daemon.proxy_command(settings, settings_file))
    hub_cmd, _ = hub_command(settings, settings_file)
    common = f"""\
User=root
WorkingDirectory={state}
Environment=AI4SCALE_CONFIG={settings_file}
Environment=PATH={path}
Restart=always
RestartSec=2
"""
    proxy = f"""\
# Written by `ai4scale up --service`: re-run it after changing settings.
[Unit]
Description=AI4Scale Sandbox proxy (configurable-http-proxy): the public port
After=network.target

[Service]
{common}ExecStart={proxy_cmd}

[Install]
WantedBy=multi-user.target
"""
    hub = f"""\
# Written by `ai4scale up --service`: re-run it after changing settings.
[Unit]
Description=AI4Scale Sandbox hub (JupyterHub)
After=network.target {PROXY_UNIT}
Wants={PROXY_UNIT}

[Service]
{common}ExecStartPre={_quote(str(venv_bin / "python"))} -m ai4scale.hub.daemons reap
ExecStart={" ".join(_quote(a) for a in hub_cmd)}
# Learners' servers and kernels survive a restart of the hub.
KillMode=process
TimeoutStopSec=90

[Install]
WantedBy=multi-user.target
"""
    return {PROXY_UNIT: proxy, HUB_UNIT: hub}


def systemctl(*args):
    """Run ``systemctl`` with ``args``; raise CalledProcessError on failure."""
    return subprocess.run(["systemctl", *args], check=True, capture_output=True, text=True)


def install_units(settings, settings_file, *, unit_dir=UNIT_DIR, start=True):
    """Write both units, reload systemd, enable them and (re)start what changed.

    Returns
    -------
    list of str
        What was done, one line each.
    """
    unit_dir = Path(unit_dir)
    unit_dir.mkdir(parents=True, exist_ok=True)
    done, changed = [], []
    for name, text in unit_files(settings, settings_file).items():
        path = unit_dir / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            path.chmod(0o644)
            changed.append(name)
            done.append(f"wrote {path}")
    if not start or not shutil.which("systemctl"):
        return done
    systemctl("daemon-reload")
    systemctl("enable", PROXY_UNIT, HUB_UNIT)
    for name in (PROXY_UNIT, HUB_UNIT):
        verb = "restart" if name in changed else "start"
        systemctl(verb, name)
        done.append(f"systemctl {verb} {name}")
    return done
