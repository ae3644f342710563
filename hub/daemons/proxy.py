"""The proxy as a process of its own: ``python -m ai4scale.hub.daemons.proxy --settings FILE``.

The public port belongs to the proxy (configurable-http-proxy with the fixes
of :mod:`ai4scale.hub._proxy`), not to the hub: a hub restart, upgrade or
crash leaves it running, with every learner's route and open websocket
(kernels, collaboration). The hub finds it on ``hub.proxy_api_port`` and
re-syncs the routes when it starts (``ConfigurableHTTPProxy.should_start``
is off). The API token comes from a root-only file in the state directory,
never from the command line.
"""

from __future__ import annotations

import argparse
import os
import sys

from ._files import proxy_token

__all__ = ["MARKER", "main", "proxy_args", "proxy_command"]

#: Part of the proxy's command line that identifies it (pid files can be stale).
MARKER = "ai4scale.hub.daemons.proxy"

#: How long the proxy waits for a server's answer (ms): a slow spawn's
#: progress stream must not be cut (see ``_configurer.update_network``).
PROXY_TIMEOUT_MS = 600_000


def proxy_args(settings):
    """Return configurable-http-proxy's options for ``settings``.

    Returns
    -------
    list of str
        The public address (``hub.ip``/``hub.port``), the API on loopback
        (``hub.proxy_api_port``) and the hub's error page as error target.
    """
    hub = settings["hub"]
    return [
        "--ip",
        hub["ip"],
        "--port",
        str(hub["port"]),
        "--api-ip",
        "127.0.0.1",
        "--api-port",
        str(hub["proxy_api_port"]),
        "--error-target",
        f"http://127.0.0.1:{hub['api_port']}/hub/error",
        f"--proxy-timeout={PROXY_TIMEOUT_MS}",
        "--log-level",
        "info",
    ]


def proxy_command(settings, settings_file):
    """Return the command line that runs the proxy for ``settings_file``."""
    python = os.path.join(settings["paths"]["venv"], "bin", "python")
    if not os.path.exists(python):
        python = sys.executable
    return [python, "-m", MARKER, "--settings", str(settings_file)]


def main(argv=None):
    """Run the proxy until it is stopped."""
    from .._settings import load_settings

    parser = argparse.ArgumentParser(prog=f"python -m {MARKER}")
    parser.add_argument("--settings", help="settings file (default: $AI4SCALE_CONFIG)")
    args = parser.parse_args(argv)
    settings = load_settings(args.settings)
    os.environ["CONFIGPROXY_AUTH_TOKEN"] = proxy_token(settings)
    from .. import _proxy

    _proxy.patch()
    return _proxy.main(args=proxy_args(settings), prog_name="ai4scale-proxy")


if __name__ == "__main__":
    sys.exit(main())
