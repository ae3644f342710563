"""``python -m ai4scale.hub.daemons reap``: before the hub starts (ExecStartPre).

Stops what a killed hub left, and starts the fork servers that are not
running, so they have imported their libraries by the first sign-in.
"""

from __future__ import annotations

import sys


def main(argv=None):
    """Run the one maintenance command, ``reap``."""
    argv = sys.argv[1:] if argv is None else argv
    if argv != ["reap"]:
        print("usage: python -m ai4scale.hub.daemons reap", file=sys.stderr)
        return 2
    from .._settings import load_settings
    from ..forkserver import forkservers_for
    from ._control import reap_orphans

    settings = load_settings()
    for line in reap_orphans(settings):
        print(f"stopped an orphaned service: {line}")
    forkservers, roles = forkservers_for(settings)
    for role, pid in forkservers.start(roles).items():
        print(f"started the {role} fork server (pid {pid})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
