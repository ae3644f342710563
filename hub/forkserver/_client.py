"""The requesting side: start the zygotes, and ask one for a child.

:class:`ForkServers` is what the hub's spawner holds: it starts the two
zygotes of a hub (detached, so they outlive a hub restart), finds them again
after one, and starts a new one when one died. :func:`fork_child` is what
the spawner and the kernel provisioner call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

__all__ = [
    "SOCKET_ENV",
    "ForkError",
    "ForkServers",
    "fork_child",
    "forkservers_for",
    "zygote_pid",
]

#: The environment variable that tells a learner's server where the kernel zygote listens.
SOCKET_ENV = "AI4SCALE_KERNEL_FORKSERVER"

log = logging.getLogger(__name__)

#: Seconds a zygote may take to import its modules and listen.
START_TIMEOUT = 120.0


class ForkError(RuntimeError):
    """A zygote did not fork the child.

    ``fallback`` says a normal start may be tried instead (the zygote is
    missing or cannot serve this request); False means the request itself is
    refused (a limit reached, an account not allowed).
    """

    def __init__(self, message, *, fallback=True):
        super().__init__(message)
        self.fallback = fallback


def current_rlimits():
    """Return this process's resource limits, to give to a forked child."""
    from ._confine import RLIMITS

    return {name: resource.getrlimit(which) for name, which in RLIMITS.items()}


def fork_child(socket_path, request, *, fds=(1, 2), timeout=30.0):
    """Ask the zygote at ``socket_path`` for a child; return its pid.

    Parameters
    ----------
    socket_path : str
        The zygote's socket.
    request : dict
        ``argv``, ``env``, ``cwd`` and what the role needs (see
        :mod:`._zygote`).
    fds : sequence of int
        The child's stdout and stderr (passed as file descriptors).
    timeout : float
        Seconds to wait for the child to be confined.

    Raises
    ------
    ForkError
        When the zygote cannot be reached or the child refused the request.
    """
    data = (json.dumps(request) + "\n").encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(str(socket_path))
            try:
                socket.send_fds(conn, [data[:4096]], list(fds))
                if len(data) > 4096:
                    conn.sendall(data[4096:])
            except (BrokenPipeError, ConnectionResetError):
                pass  # refused before reading: its answer is waiting
            answer = b""
            while b"\n" not in answer:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                answer += chunk
    except OSError as e:
        raise ForkError(f"fork server {socket_path}: {e}") from None
    try:
        reply = json.loads(answer.split(b"\n", 1)[0])
    except ValueError:
        raise ForkError(f"fork server {socket_path} closed without an answer") from None
    if "pid" in reply:
        return int(reply["pid"])
    raise ForkError(reply.get("error", "refused"), fallback=bool(reply.get("fallback", True)))


def zygote_pid(socket_path):
    """Return the pid of the zygote serving ``socket_path``, or None when it is not running."""
    try:
        pid = int(Path(f"{socket_path}.pid").read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError):
        return None
    if b"ai4scale.hub.forkserver" not in cmdline or state in ("Z", "X"):
        return None
    return pid if os.path.exists(socket_path) else None


def _starting_pid(socket_path):
    """Return the pid of a zygote for ``socket_path`` still importing (no socket yet), or None."""
    import psutil

    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if "ai4scale.hub.forkserver" in cmdline and socket_path in cmdline:
            try:
                if proc.status() != psutil.STATUS_ZOMBIE:
                    return proc.pid
            except psutil.Error:
                continue
    return None


def forkservers_for(settings):
    """Return the :class:`ForkServers` of the hub of ``settings`` and the roles it uses.

    Returns
    -------
    (ForkServers, list of str)
        The roles are those switched on (``spawn.fork``: ``"server"``,
        ``kernels.fork``: ``"kernel"``); none outside the local profile.
    """
    local = settings["local"]
    servers = ForkServers.get(
        f"/run/ai4scale/forkserver/{local['cgroup_parent']}",
        cgroup_parent=local["cgroup_parent"],
        user_prefix=local["user_prefix"],
    )
    roles = []
    if settings["profile"] == "local":
        roles = [
            r
            for r, on in (
                ("server", settings["spawn"]["fork"]),
                ("kernel", settings["kernels"]["fork"]),
            )
            if on
        ]
    return servers, roles


class ForkServers:
    """The zygotes of one hub: a ``server`` and a ``kernel`` one, under ``directory``.

    Parameters
    ----------
    directory : str
        ``<directory>/server/server.sock`` (root only) and
        ``<directory>/kernel/kernel.sock`` (any account; the zygote checks
        the caller).
    cgroup_parent : str
        The learners' cgroup parent.
    user_prefix : str
        Learners' account prefix.
    env : dict
        Extra environment of both zygotes (thread caps, ``PYTHON*`` of the
        servers' environment).
    """

    _instances = {}

    def __init__(self, directory, *, cgroup_parent, user_prefix, env=None):
        self.directory = Path(directory)
        self.cgroup_parent = cgroup_parent
        self.user_prefix = user_prefix
        self.env = dict(env or {})
        self._procs = {}
        self._locks = {}
        self._watch = None

    @classmethod
    def get(cls, directory, **kwargs):
        """Return the one instance for ``directory`` in this process."""
        inst = cls._instances.get(str(directory))
        if inst is None:
            inst = cls._instances[str(directory)] = cls(directory, **kwargs)
        inst.env.update(kwargs.get("env") or {})
        return inst

    def socket(self, role):
        """Path of ``role``'s socket."""
        return str(self.directory / role / f"{role}.sock")

    def command(self, role):
        """Return the command line of ``role``'s zygote."""
        return [
            sys.executable,
            "-m",
            "ai4scale.hub.forkserver",
            role,
            "--socket",
            self.socket(role),
            "--cgroup-parent",
            self.cgroup_parent,
            "--user-prefix",
            self.user_prefix,
        ]

    def pid(self, role):
        """Pid of the running ``role`` zygote, or None."""
        return zygote_pid(self.socket(role))

    def _current(self, role):
        """Return the pid of ``role``'s zygote running or starting with our command, or None.

        One started with other settings (another account prefix or cgroup
        parent, another environment) is stopped.
        """
        import psutil

        pid = self.pid(role) or _starting_pid(self.socket(role))
        if pid is None:
            return None
        try:
            if psutil.Process(pid).cmdline() == self.command(role):
                return pid
            log.warning("stopping the %s fork server %s: started with other settings", role, pid)
            psutil.Process(pid).kill()
        except psutil.Error:
            pass
        return None

    def _zygote_env(self, role):
        venv_bin = str(Path(sys.executable).parent)
        env = {
            "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "HOME": str(self.directory / role),
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            # Not under HOME: paths under HOME are re-pointed to the learner's in a child.
            "MPLCONFIGDIR": str(self.directory / f"{role}-matplotlib"),
        }
        env.update(self.env)
        # BLAS and Arrow's allocator must not start threads in a process that forks.
        for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[key] = "1"
        env["JE_ARROW_MALLOC_CONF"] = "background_thread:false"
        return env

    def _start(self, role):
        folder = self.directory / role
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o755)
        os.chmod(self.directory, 0o755)
        folder.mkdir(exist_ok=True)
        os.chmod(folder, 0o755 if role == "kernel" else 0o700)
        logfile = open(self.log_file(role), "ab")  # noqa: SIM115
        with logfile:
            proc = subprocess.Popen(
                self.command(role),
                env=self._zygote_env(role),
                cwd="/",
                stdin=subprocess.DEVNULL,
                stdout=logfile,
                stderr=logfile,
                start_new_session=True,  # outlives the hub's restarts
            )
        self._procs[role] = proc
        return proc

    def _wait_ready(self, role, pid, timeout):
        import psutil

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self._procs.values():
                proc.poll()  # reap it, if it is ours and died
            if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                raise ForkError(f"the {role} fork server exited; see {self.log_file(role)}")
            if zygote_pid(self.socket(role)) == pid:
                return pid
            time.sleep(0.05)
        os.kill(pid, 9)
        raise ForkError(f"the {role} fork server did not start within {timeout:.0f} s")

    def log_file(self, role):
        """Path of ``role``'s log."""
        return self.directory / role / f"{role}.log"

    def start(self, roles):
        """Start the zygotes of ``roles`` that do not run, without waiting; return their pids."""
        started = {}
        for role in roles:
            if self._current(role) is None:
                started[role] = self._start(role).pid
        return started

    def stop(self, roles=("server", "kernel"), timeout=10.0):
        """Stop the zygotes of ``roles`` (their children keep running); return what was done."""
        import psutil

        done = []
        for role in roles:
            pid = self.pid(role) or _starting_pid(self.socket(role))
            if pid is None:
                continue
            try:
                proc = psutil.Process(pid)
                proc.terminate()
                proc.wait(timeout)
            except psutil.TimeoutExpired:
                proc.kill()
            except psutil.Error:
                pass
            for own in self._procs.values():
                own.poll()
            done.append(f"{role} fork server: stopped")
        return done

    async def ensure(self, role, timeout=START_TIMEOUT):
        """Start ``role``'s zygote unless it runs; return its pid.

        Raises
        ------
        ForkError
            When it cannot start.
        """
        lock = self._locks.setdefault(role, asyncio.Lock())
        async with lock:
            for old in list(self._procs.values()):
                old.poll()  # reap a zygote of ours that died
            pid = self._current(role)
            if pid is not None and pid == self.pid(role):
                return pid  # running and listening
            if pid is None:
                log.info("starting the %s fork server in %s", role, self.directory)
                pid = self._start(role).pid
            return await asyncio.to_thread(self._wait_ready, role, pid, timeout)

    def start_watching(self, roles, every=5.0):
        """Restart any of ``roles``' zygotes that dies, checking every ``every`` s."""
        if self._watch is not None and not self._watch.done():
            return

        async def watch():
            while True:
                await asyncio.sleep(every)
                for role in roles:
                    try:
                        await self.ensure(role)
                    except ForkError as e:
                        log.error("fork server %s: %s", role, e)

        self._watch = asyncio.ensure_future(watch())
