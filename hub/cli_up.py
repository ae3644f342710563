"""``ai4scale up``: prepare this machine, then run the proxy and the hub (foreground or service)."""

from __future__ import annotations

import os
import signal
import time

from . import daemons
from ._settings import load_settings, settings_path

__all__ = ["check_profile", "down", "launch", "register", "share_team_workspaces", "wait_for_hub"]


def register(subparsers):
    """Add the ``up`` subcommand."""
    p = subparsers.add_parser(
        "up",
        help="set up this machine and run the sandbox (Ctrl-C stops it)",
        description=(
            "Prepare directories, secrets and the demo course, then run the proxy and "
            "JupyterHub. In the foreground (the default) Ctrl-C stops everything; with "
            "--service they run as system services (systemd units where systemd runs "
            "the machine) and `ai4scale restart` restarts the hub while learners keep working."
        ),
    )
    p.add_argument("--ip", help="address to listen on (default: hub.ip of the settings)")
    p.add_argument("--port", type=int, help="port to listen on (default: hub.port)")
    p.add_argument("--no-demo", action="store_true", help="do not create the demo course")
    p.add_argument("--no-datasets", action="store_true", help="do not prepare the datasets")
    p.add_argument("--no-start", action="store_true", help="prepare only; do not run the hub")
    p.add_argument(
        "--service",
        action="store_true",
        help="run as system services (systemd units, else detached) and return",
    )
    p.set_defaults(func=run_up)


def hub_url(settings):
    """Return the URL a person on this machine opens."""
    ip = settings["hub"]["ip"]
    host = "127.0.0.1" if ip in ("", "0.0.0.0") else ip
    return f"http://{host}:{settings['hub']['port']}/"


def hub_is_up(url, timeout=2.0):
    """Return True if a JupyterHub answers at ``url``."""
    import urllib.request

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


def prepare(args, console):
    """Run the install steps; return ``(settings file, settings)``."""
    from .installer import ensure_settings_file, install_steps

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
    return file, settings


def launch(settings, file, console, *, started=None):
    """Reap a killed hub's services, start the proxy, then the hub; return the hub or None.

    ``started`` is called with the hub's process as soon as it is started,
    before it answers (so that a Ctrl-C while it starts can stop it).

    Returns
    -------
    subprocess.Popen or None
        The new hub process, or None when a hub already answers.

    Raises
    ------
    DaemonError
        The proxy or the hub did not start (the message quotes the log).
    """
    for line in daemons.reap_orphans(settings):
        console.print(f"  stopped a service a killed hub left running: {line}")
    console.print("  " + daemons.ensure_proxy(settings, file))
    if daemons.hub_answers(settings):
        return None
    log = daemons.hub_log(settings)
    console.print(f"  starting JupyterHub (log: {log})")
    proc = daemons.start_hub(settings, file)
    if started is not None:
        started(proc)
    with console.status("Waiting for the hub to answer"):
        ready = wait_for_hub(hub_url(settings), proc)
    if not ready:
        proc.terminate()
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise daemons.DaemonError(f"the hub did not start; last lines of {log}:\n{tail}")
    console.print("  " + share_team_workspaces(settings))
    return proc


def check_profile(file):
    """Refuse, before anything is prepared or started, a profile that cannot run here.

    The docker profile needs a Docker engine, the single-user image and its
    network (:func:`ai4scale.hub.spawn.docker_checks.check_docker_profile`).

    Raises
    ------
    DockerProfileUnavailable
        With what to run (how to start an engine, `ai4scale image build`).
    """
    if not file.exists():  # `ai4scale up` writes the defaults: the local profile
        return
    from .spawn.docker_checks import check_docker_profile

    check_docker_profile(load_settings(file))


def run_up(args):
    """Prepare the machine, then run the sandbox (foreground, or as services)."""
    from rich.console import Console

    from .installer import demo_passwords_file

    console = Console()
    if os.geteuid() != 0:
        console.print("[red]ai4scale up must run as root[/]: it creates system users and cgroups.")
        return 1
    check_profile(settings_path(args.config))
    file, settings = prepare(args, console)
    url = hub_url(settings)
    passwords = demo_passwords_file(settings)
    banner = f"[bold green]AI4Scale Sandbox[/] at [bold]{url}[/]"
    if passwords.exists():
        banner += f"\n  demo accounts and passwords (root only): {passwords}"
    if args.no_start:
        console.print("Prepared; not starting the hub (--no-start).")
        return 0
    if args.service:
        return run_service(settings, file, console, banner)
    # Ctrl-C ends the demo: everything stops, learners' servers first (the
    # hub stops them), also while the hub is still starting. SIGTERM (a
    # service manager) stops the hub only: learners keep working until it is
    # started again.
    started = []

    def on_sigterm(sig, frame):
        if not started:
            raise SystemExit(128 + sig)
        started[0].send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        proc = launch(settings, file, console, started=started.append)
        if proc is None:
            console.print(banner.replace("at", "already running at", 1))
            return 0
        console.print(
            banner + "\n  Ctrl-C stops the sandbox, learners' servers included."
            "\n  `ai4scale restart` restarts the hub while learners keep working."
        )
        return proc.wait()
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop
        with console.status("Stopping the sandbox"):
            done = down(settings, hub_proc=started[0] if started else None)
        console.print("Stopped: " + ", ".join(done))
        return 0


def run_service(settings, file, console, banner):
    """``ai4scale up --service``: systemd units, or detached processes without systemd."""
    if daemons.systemd_is_init():
        for line in daemons.install_units(settings, file):
            console.print("  " + line)
        with console.status("Waiting for the hub to answer"):
            ready = wait_for_hub(hub_url(settings), timeout=120)
        if not ready:
            console.print(
                f"[red]The hub did not answer[/]: see `journalctl -u {daemons.HUB_UNIT}`."
            )
            return 1
        console.print("  " + share_team_workspaces(settings))
        console.print(banner + f"\n  systemd runs it: {daemons.PROXY_UNIT}, {daemons.HUB_UNIT}.")
        return 0
    proc = launch(settings, file, console)
    console.print(banner.replace("at", "already running at", 1) if proc is None else banner)
    console.print(
        "  systemd does not run this machine: the proxy and the hub run detached.\n"
        "  After a reboot or a crash run `ai4scale up --service` again;"
        " `ai4scale restart`, `ai4scale status` and `ai4scale down` manage them."
    )
    return 0


def down(settings, *, hub_proc=None, servers=True):
    """Stop learners' servers (unless ``servers`` is False), the hub and the proxy.

    Returns
    -------
    list of str
        What was done.
    """
    done = []
    if servers and daemons.hub_answers(settings):
        done.append(f"{daemons.stop_servers(settings)} server(s) stopped")
    if hub_proc is not None and hub_proc.poll() is None:
        hub_proc.terminate()
        hub_proc.wait(90)
        done.append("hub: stopped")
    else:
        done.append(daemons.stop_hub(settings))
    done.append(daemons.stop_proxy(settings))
    done.extend(daemons.stop_forkservers(settings))
    return done


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
