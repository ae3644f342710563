"""``python -m ai4scale.hub.daemons reap``: stop what a killed hub left (ExecStartPre)."""

from __future__ import annotations

import sys


def main(argv=None):
    """Run the one maintenance command, ``reap``."""
    argv = sys.argv[1:] if argv is None else argv
    if argv != ["reap"]:
        print("usage: python -m ai4scale.hub.daemons reap", file=sys.stderr)
        return 2
    from .._settings import load_settings
    from ._control import reap_orphans

    for line in reap_orphans(load_settings()):
        print(f"stopped an orphaned service: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
