"""Running the sandbox's processes: the proxy on its own, the hub, systemd units.

``ai4scale up`` (foreground), ``ai4scale up --service`` (systemd units, or
detached processes where systemd is not the init system), ``ai4scale
restart``, ``ai4scale down`` and ``ai4scale status`` are built on these
functions; see :mod:`._control` for the process layout that lets learners
keep working while the hub restarts.
"""

from ._control import (
    HUB_CONFIG,
    MANAGED_SERVICES,
    DaemonError,
    ensure_proxy,
    hub_answers,
    hub_command,
    hub_pid,
    proxy_answers,
    proxy_pid,
    reap_orphans,
    start_hub,
    stop_forkservers,
    stop_hub,
    stop_proxy,
    stop_servers,
)
from ._files import hub_log, hub_pid_file, proxy_log, proxy_pid_file, proxy_token, proxy_token_file
from ._systemd import HUB_UNIT, PROXY_UNIT, install_units, systemd_is_init, unit_files

__all__ = [
    "HUB_CONFIG",
    "HUB_UNIT",
    "MANAGED_SERVICES",
    "PROXY_UNIT",
    "DaemonError",
    "ensure_proxy",
    "hub_answers",
    "hub_command",
    "hub_log",
    "hub_pid",
    "hub_pid_file",
    "install_units",
    "proxy_answers",
    "proxy_log",
    "proxy_pid",
    "proxy_pid_file",
    "proxy_token",
    "proxy_token_file",
    "reap_orphans",
    "start_hub",
    "stop_hub",
    "stop_proxy",
    "stop_forkservers",
    "stop_servers",
    "systemd_is_init",
    "unit_files",
]
