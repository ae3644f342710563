"""``ai4scale restart``, ``ai4scale down`` and ``ai4scale status``: the running sandbox."""

from __future__ import annotations

import time

from . import daemons
from ._settings import load_settings, settings_path

__all__ = ["register", "restart"]


def register(subparsers):
    """Add the ``restart``, ``down`` and ``status`` subcommands."""
    p = subparsers.add_parser(
        "restart",
        help="restart the hub with the current settings; learners keep working",
        description=(
            "Stop the hub gracefully and start it again, reading the settings anew. "
            "The proxy, learners' servers and their kernels keep running: open notebooks "
            "stay connected. --proxy restarts the proxy too (browsers reconnect)."
        ),
    )
    p.add_argument("--proxy", action="store_true", help="restart the proxy too")
    p.set_defaults(func=run_restart)
    p = subparsers.add_parser(
        "down",
        help="stop the sandbox: learners' servers, the hub and the proxy",
        description="Stop every learner's server, then the hub and the proxy.",
    )
    p.add_argument("--keep-servers", action="store_true", help="leave learners' servers running")
    p.set_defaults(func=run_down)
    p = subparsers.add_parser(
        "status",
        help="show whether the proxy and the hub run",
        description="Say whether the proxy and the hub run: exit 0 when the hub answers, else 3.",
    )
    p.set_defaults(func=run_status)


def _under_systemd():
    """Return True when the sandbox's units are installed and systemd runs the machine."""
    return daemons.systemd_is_init() and (daemons._systemd.UNIT_DIR / daemons.HUB_UNIT).exists()


def restart(settings, file, *, proxy=False, console=None):
    """Restart the hub (and the proxy with ``proxy``); return the seconds it did not answer.

    Under systemd this is ``systemctl restart``; otherwise the hub started
    from this state directory is stopped with SIGTERM and started detached.
    The fork servers start anew too (new code after an upgrade, new
    settings); servers and kernels they forked keep running.
    """
    from rich.console import Console

    from .cli_up import hub_url, launch, share_team_workspaces, wait_for_hub

    console = console or Console()
    started = time.monotonic()
    for line in daemons.stop_forkservers(settings):
        console.print("  " + line)
    if _under_systemd():
        units = [daemons.HUB_UNIT] + ([daemons.PROXY_UNIT] if proxy else [])
        daemons.install_units(settings, file, start=False)
        daemons._systemd.systemctl("daemon-reload")
        daemons._systemd.systemctl("restart", *units)
        wait_for_hub(hub_url(settings), timeout=120)
        console.print("  " + share_team_workspaces(settings))
    else:
        console.print("  " + daemons.stop_hub(settings))
        if proxy:
            console.print("  " + daemons.stop_proxy(settings))
        launch(settings, file, console)
    return time.monotonic() - started


def run_restart(args):
    """Restart the hub; print how long it did not answer."""
    from rich.console import Console

    from .installer import ensure_settings_file

    console = Console()
    file = settings_path(args.config)
    console.print("  " + ensure_settings_file(file))  # an editor may have loosened its mode
    settings = load_settings(file)
    seconds = restart(settings, file, proxy=args.proxy, console=console)
    console.print(f"[green]Restarted[/] in {seconds:.1f} s; learners' servers kept running.")
    return 0


def run_down(args):
    """Stop the sandbox."""
    from rich.console import Console

    from .cli_up import down

    console = Console()
    settings = load_settings(settings_path(args.config))
    with console.status("Stopping the sandbox"):
        if _under_systemd():
            if not args.keep_servers:
                console.print(f"  {daemons.stop_servers(settings)} server(s) stopped")
            daemons._systemd.systemctl("stop", daemons.HUB_UNIT, daemons.PROXY_UNIT)
            console.print(f"  systemctl stop {daemons.HUB_UNIT} {daemons.PROXY_UNIT}")
            for line in daemons.stop_forkservers(settings):
                console.print("  " + line)
            return 0
        for line in down(settings, servers=not args.keep_servers):
            console.print("  " + line)
    return 0


def run_status(args):
    """Print what runs; exit 0 when the hub answers, 3 otherwise (as systemctl status)."""
    from rich.console import Console

    console = Console()
    settings = load_settings(settings_path(args.config))
    proxy_pid = daemons.proxy_pid(settings)
    proxy = "answers" if daemons.proxy_answers(settings) else "does not answer"
    hub_pid = daemons.hub_pid(settings)
    hub = "answers" if daemons.hub_answers(settings) else "does not answer"
    console.print(f"proxy: {proxy} (pid {proxy_pid or 'unknown'})")
    console.print(f"hub:   {hub} (pid {hub_pid or 'unknown'})")
    from .forkserver import forkservers_for

    forkservers, roles = forkservers_for(settings)
    for role in roles:
        pid = forkservers.pid(role)
        state = f"running (pid {pid})" if pid else "not running (the hub starts it)"
        console.print(f"{role} fork server: {state}")
    return 0 if hub == "answers" else 3
