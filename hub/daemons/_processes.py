"""Small process helpers: pid files, liveness, detached starts, gentle stops."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil

__all__ = ["read_pid", "running_pid", "start_detached", "terminate"]


def read_pid(pid_file):
    """Return the pid in ``pid_file``, or None when missing or unreadable."""
    try:
        return int(Path(pid_file).read_text().strip())
    except (OSError, ValueError):
        return None


def running_pid(pid_file, *, marker):
    """Return the pid of ``pid_file`` if that process runs and is ours, else None.

    A pid file can outlive its process, and the pid be reused by another
    program: the process's command line must contain ``marker``.
    """
    pid = read_pid(pid_file)
    if pid is None:
        return None
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        if marker not in " ".join(proc.cmdline()):
            return None
    except psutil.Error:
        return None
    return pid


def start_detached(cmd, *, env, log, cwd, pid_file=None):
    """Start ``cmd`` in a session of its own, output appended to ``log``.

    The process does not get the caller's terminal signals (a Ctrl-C), and
    survives the caller.

    Returns
    -------
    subprocess.Popen
    """
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "ab") as out:
        proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    if pid_file is not None:
        Path(pid_file).write_text(f"{proc.pid}\n")
    return proc


def terminate(pid, *, timeout=60, sig=signal.SIGTERM):
    """Send ``sig`` to ``pid`` and wait for it to exit; SIGKILL after ``timeout`` s.

    Returns
    -------
    str
        ``"stopped"``, ``"killed"`` or ``"not running"``.
    """
    try:
        proc = psutil.Process(pid)
        proc.send_signal(sig)
    except psutil.NoSuchProcess:
        return "not running"
    try:
        proc.wait(timeout)
        return "stopped"
    except psutil.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        return "killed"
    finally:
        _reap(pid)


def _reap(pid):
    """Collect the exit status if ``pid`` was our child (no zombie left)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def wait_for(predicate, *, timeout, interval=0.2):
    """Poll ``predicate`` until true or ``timeout`` s; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
