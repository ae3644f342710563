"""``ai4scale up``: prepare this machine and run the hub in the foreground."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from rich.console import Console

from ._settings import load_settings, settings_path
from ._state import state_dir
from .installer import demo_passwords_file, ensure_settings_file, install_steps

__all__ = ["hub_command", "register", "share_team_workspaces", "wait_for_hub"]

CONFIG_FILE = Path(__file__).with_name("jupyterhub_config.py")


def register(subparsers):
    """Add the ``up`` subcommand."""
    p = subparsers.add_parser(
        "up",
        help="set up this machine and run the hub (Ctrl-C stops it)",
        description="Prepare directories, secrets and the demo course, then run JupyterHub.",
    )
    p.add_argument("--ip", help="address to listen on (default: hub.ip of the settings)")
    p.add_argument("--port", type=int, help="port to listen on (default: hub.port)")
    p.add_argument("--no-demo", action="store_true", help="do not create the demo course")
    p.add_argument("--no-datasets", action="store_true", help="do not prepare the datasets")
    p.add_argument("--no-start", action="store_true", help="prepare only; do not run the hub")
    p.set_defaults(func=run_up)


def hub_url(settings):
    """Return the URL a person on this machine opens."""
    ip = settings["hub"]["ip"]
    host = "127.0.0.1" if ip in ("", "0.0.0.0") else ip
    return f"http://{host}:{settings['hub']['port']}/"


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
        str(CONFIG_FILE),
        f"--JupyterHub.bind_url=http://{hub['ip']}:{hub['port']}",
    ]
    env = dict(os.environ, AI4SCALE_CONFIG=str(settings_file))
    env["PATH"] = f"{venv_bin}:{env.get('PATH', '/usr/bin:/bin')}"
    return cmd, env


def hub_is_up(url, timeout=2.0):
    """Return True if a JupyterHub answers at ``url``."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/hub/api/", timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


def wait_for_hub(url, proc=None, timeout=90):
    """Wait until the hub answers; return False if ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if hub_is_up(url, timeout=1):
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.3)
    return False


def run_up(args):
    """Prepare the machine, then run the hub until interrupted."""
    console = Console()
    if os.geteuid() != 0:
        console.print("[red]ai4scale up must run as root[/]: it creates system users and cgroups.")
        return 1
    file = settings_path(args.config)
    overrides = {"hub": {}}
    if args.ip:
        overrides["hub"]["ip"] = args.ip
    if args.port:
        overrides["hub"]["port"] = args.port
    with console.status("Preparing the sandbox") as status:
        console.print("  " + ensure_settings_file(file))
        settings = load_settings(file, overrides=overrides)
        for step in install_steps(demo=not args.no_demo, datasets=not args.no_datasets):
            status.update(f"Preparing the sandbox: {step.__name__.removeprefix('ensure_')}")
            console.print("  " + step(settings))
    url = hub_url(settings)
    passwords = demo_passwords_file(settings)
    banner = f"[bold green]AI4Scale Sandbox[/] at [bold]{url}[/]"
    if passwords.exists():
        banner += f"\n  demo accounts and passwords (root only): {passwords}"
    if args.no_start:
        console.print("Prepared; not starting the hub (--no-start).")
        return 0
    if hub_is_up(url):
        console.print(banner.replace("at", "already running at", 1))
        return 0
    cmd, env = hub_command(settings, file)
    log = state_dir(settings) / "jupyterhub.log"
    console.print(f"  starting JupyterHub (log: {log})")
    with open(log, "ab") as logf:
        proc = subprocess.Popen(cmd, env=env, cwd=state_dir(settings), stdout=logf, stderr=logf)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda s, f: proc.send_signal(signal.SIGTERM))
    with console.status("Waiting for the hub to answer"):
        ready = wait_for_hub(url, proc)
    if not ready:
        proc.terminate()
        console.print(f"[red]The hub did not start[/]; last lines of {log}:")
        console.print("\n".join(log.read_text(errors="replace").splitlines()[-20:]))
        return 1
    console.print("  " + share_team_workspaces(settings))
    console.print(banner + "\n  Ctrl-C stops the hub.")
    return proc.wait()


def share_team_workspaces(settings):
    """Share each team's workspace with its team once the hub answers.

    The hub creates the workspace users from its configuration; shares can
    only be made through its REST API (:func:`ai4scale.hub.teams.sync_workspaces`).

    Returns
    -------
    str
        What was done, for the progress display.
    """
    from .hubapi import HubSyncError
    from .teams import sync_workspaces

    try:
        return sync_workspaces(settings) or "team workspaces: nothing to share"
    except HubSyncError as e:
        return f"[yellow]warning:[/] team workspaces not shared: {e}"
