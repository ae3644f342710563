"""Run a command that ends when the process that started it ends.

``python -m ai4scale.hub.daemons.parent_death PARENT_PID COMMAND...``

JupyterHub starts its managed services (the course service, the idle culler)
in a session of their own, so that a Ctrl-C does not reach them. When the
hub is killed outright (SIGKILL, the out-of-memory killer, a crash), nothing
stops them: they keep their ports and keep calling a hub that is gone, and a
restarted hub starts a second copy beside them.

This launcher asks the kernel to send SIGTERM when its parent (the hub)
dies (``prctl(PR_SET_PDEATHSIG)``, kept across ``exec``), then replaces
itself with the command. If the hub is already gone when it runs, it exits
without starting anything.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

__all__ = ["PR_SET_PDEATHSIG", "main", "wrap"]

#: ``prctl`` option: the signal sent to this process when its parent dies (Linux).
PR_SET_PDEATHSIG = 1


def wrap(command, *, parent_pid=None, python=None):
    """Return ``command`` run through this launcher, bound to ``parent_pid``.

    Parameters
    ----------
    command : list of str
        The service's command line.
    parent_pid : int, optional
        The process whose death ends the command: the hub, which evaluates
        its configuration in its own process (default: this process).
    python : str, optional
        Interpreter that runs the launcher (default: this one).

    Returns
    -------
    list of str
    """
    pid = os.getpid() if parent_pid is None else parent_pid
    return [python or sys.executable, "-m", __name__.rsplit(".", 1)[0] + ".parent_death"] + [
        str(pid),
        *command,
    ]


def main(argv=None):
    """Set the parent-death signal, check the parent, then exec the command."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2 or not argv[0].isdigit():
        usage = "usage: python -m ai4scale.hub.daemons.parent_death PARENT_PID COMMAND..."
        print(usage, file=sys.stderr)
        return 2
    parent, command = int(argv[0]), argv[1:]
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
            print(f"parent_death: prctl failed (errno {ctypes.get_errno()})", file=sys.stderr)
    if os.getppid() != parent:
        # The hub died before the signal was armed: do not start an orphan.
        print(f"parent_death: parent {parent} is gone; not starting {command[0]}", file=sys.stderr)
        return 0
    os.execvp(command[0], command)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main())
