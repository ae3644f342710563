"""The sandbox in "container" confinement: the container is the namespace and the cgroup.

Inside a grading container (``--network none``, read-only root, tmpfs work
dirs, memory/cpu/pids caps, only ``SETUID``, ``SETGID`` and ``SETPCAP``) the
worker runs as the container's root and a :class:`ContainerZygote` forks a
kernel per run that drops to the grading account (``_zygote_server.py`` with
``"confine": "container"``). What the local sandbox does with a cgroup per run
is done here with the grading account itself, one run at a time:

- *kill every process of the run*: a helper started as the grading account
  sends ``kill(-1, SIGKILL)`` until none is left (the account runs nothing
  else in the container; the worker and zygote are root, so it cannot reach
  them, and the worker needs no ``CAP_KILL``);
- *wipe its files*: the same helper removes what the account owns in the
  writable places (:data:`WIPED`) and its System V IPC objects;
- *the memory limit*: the container's OOM-kill counter (cgroup v1
  ``memory.oom_control``) counted from the run's start.
"""

from __future__ import annotations

import os
import pwd
import secrets
import subprocess
import sys
import time
from pathlib import Path

import zmq
from ai4scale.grading.sandbox import Sandbox, SandboxKernel, Zygote, ZygoteError
from ai4scale.grading.sandbox._sandbox import HARD_MESSAGE_BYTES, QUEUED_MESSAGES, _Stop
from ai4scale.grading.sandbox._zygote import SERVER, _launcher_path
from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.connect import write_connection_file

__all__ = ["RUNS", "WIPED", "WORK", "ContainerGroup", "ContainerSandbox", "ContainerZygote"]

#: Root-only tmpfs (mode 0711) of the runs' staging copies, connection files and logs.
RUNS = "/grading/runs"
#: tmpfs (mode 1733) where each kernel makes its working directory as the grader.
WORK = "/grading/work"
#: Where the grading account can write; emptied of its files after every run.
WIPED = (WORK, "/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue")

_OOM_CONTROL = "/sys/fs/cgroup/memory/memory.oom_control"

_SWEEP = r"""
import os, shutil, stat, subprocess, sys
uid, me = os.getuid(), os.getpid()

def left():
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            if os.stat("/proc/" + pid).st_uid != uid:
                continue
            with open("/proc/" + pid + "/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                    found.append(pid)
        except (OSError, IndexError):
            pass
    return found

# kill(-1) as the account: every process of it but this one, never root's.
for _ in range(10000):
    try:
        os.kill(-1, 9)
    except ProcessLookupError:
        pass
    if not left():
        break

def unlock(func, path, exc):
    try:
        os.chmod(os.path.dirname(path), 0o700)
        os.chmod(path, 0o700)
    except OSError:
        pass
    try:
        func(path)
    except OSError:
        pass

if len(sys.argv) > 1:
    subprocess.run(["ipcrm", "--all"], stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    for top in sys.argv[1:]:
        try:
            entries = list(os.scandir(top))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if st.st_uid != uid:
                continue
            if stat.S_ISDIR(st.st_mode):
                os.chmod(entry.path, 0o700)
                shutil.rmtree(entry.path, onerror=unlock)
            else:
                try:
                    os.unlink(entry.path)
                except OSError:
                    pass
"""


def container_oom_kills():
    """Return the container's OOM kills so far (0 when the kernel does not say)."""
    try:
        with open(_OOM_CONTROL) as f:
            for line in f:
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class ContainerGroup:
    """What the sandbox needs of a run's cgroup, for the grading account in a container.

    Parameters
    ----------
    pw : pwd.struct_passwd
        The grading account (never root).
    """

    def __init__(self, pw):
        if pw.pw_uid == 0 or pw.pw_gid == 0:
            raise PermissionError(f"refusing to grade as {pw.pw_name!r}: it is root")
        self.pw = pw
        self._oom_before = container_oom_kills()
        self._swept = False

    def oom_kills(self):
        """Return the OOM kills in the container since this run started."""
        return container_oom_kills() - self._oom_before

    def pids(self):
        """Return the pids of the grading account's processes."""
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.stat(f"/proc/{entry}").st_uid == self.pw.pw_uid:
                    found.append(int(entry))
            except OSError:
                pass
        return found

    def sweep(self, *, wipe=False):
        """Kill every process of the grading account; with ``wipe`` remove its files too."""
        dirs = list(WIPED) if wipe else []
        subprocess.run(
            [sys.executable, "-I", "-S", "-c", _SWEEP, *dirs],
            user=self.pw.pw_uid,
            group=self.pw.pw_gid,
            extra_groups=[],
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
            close_fds=True,
            check=False,
            timeout=60,
        )

    def kill_all(self, sig=None, timeout=None):
        """Kill every process of the run and remove its files (the signal is always SIGKILL).

        One sweep per run: later calls sweep again only if a process is left.
        """
        if self._swept and not self.pids():
            return
        self.sweep(wipe=True)
        self._swept = True

    def create(self):
        """Nothing to create: the container is the group."""

    def remove(self):
        """Kill what is left of the run and remove the grading account's files."""
        self.kill_all()


class ContainerZygote(Zygote):
    """A grading zygote as the container's root, its kernels confined by the container."""

    def start(self):
        """Start the zygote and wait until it imported the lab; return self."""
        box = self.sandbox
        try:
            pw = pwd.getpwnam(box.user)
            self.cgroup = ContainerGroup(pw)
            self.home = Path(RUNS) / f"zygote-{secrets.token_hex(12)}"
            self.home.mkdir(mode=0o700)
            self._log_file = open(self.home / "zygote.log", "wb")  # noqa: SIM115
            started = time.monotonic()
            self.proc = subprocess.Popen(
                [sys.executable, "-c", SERVER.read_text(encoding="utf-8")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._log_file,
                env=box._kernel_env("/tmp", None),
                cwd=str(self.home),
                start_new_session=True,
                close_fds=True,
            )
            self._start_reader_and_preload(started)
            return self
        except BaseException:
            self.close()
            raise

    def _spawn_request(self, run, argv, *, pw, rundir, cgroup, env):
        from ai4scale.grading.sandbox import parse_size

        box = self.sandbox
        self._send(
            op="spawn",
            id=run.id,
            confine="container",
            log=str(rundir / "kernel.log"),
            cgroup_procs=[],
            workdir=str(Path(WORK) / rundir.name),
            stagedir=str(rundir / "stage"),
            uid=pw.pw_uid,
            gid=pw.pw_gid,
            groups=[pw.pw_gid],
            disk_bytes=parse_size(box.disk),
            tmp_bytes=parse_size(box.tmp_disk),
            fsize_bytes=parse_size(box.disk),
            max_files=1024,
            env=env,
            launcher=_launcher_path(argv[2]),
            argv=argv[3:],
        )


class ContainerKernel(SandboxKernel):
    """A kernel forked by a :class:`ContainerZygote`; talks TCP on the container's loopback.

    The container's network is its own (``none``: loopback only) and the
    worker, as root without ``CAP_DAC_OVERRIDE``, could not open Unix sockets
    the grading account made; so the kernel listens on 127.0.0.1 with the
    run's own key.
    """

    def _start(self, workdir_files, env, preload, zygote=None):
        box = self.sandbox
        began = time.monotonic()
        if zygote is None:
            raise _Stop("startup_failed", "a grading container forks every kernel from its zygote")
        pw = pwd.getpwnam(box.user)
        self.cgroup = cgroup = ContainerGroup(pw)
        self.rundir = rundir = Path(RUNS) / secrets.token_hex(16)
        rundir.mkdir(mode=0o755)
        (rundir / "stage").mkdir(mode=0o755)
        box._stage(rundir / "stage", workdir_files)
        connection_file, info = write_connection_file(
            str(rundir / "kernel.json"),
            ip="127.0.0.1",
            transport="tcp",
            key=secrets.token_hex(32).encode(),
        )
        os.chmod(connection_file, 0o644)  # read by the kernel, as the grader
        self._log_file = open(rundir / "kernel.log", "wb")  # noqa: SIM115
        argv = box._kernel_argv(connection_file)
        kernel_env = box._kernel_env(Path(WORK) / rundir.name, env)
        launched = time.monotonic()
        self.timings["setup"] = launched - began
        self.forked = True
        self.proc = zygote.spawn(argv, pw=pw, rundir=rundir, cgroup=cgroup, env=kernel_env)
        forked = time.monotonic()
        self.timings["fork"] = forked - launched
        self._context = context = zmq.Context()
        context.setsockopt(zmq.MAXMSGSIZE, HARD_MESSAGE_BYTES)
        context.setsockopt(zmq.RCVHWM, QUEUED_MESSAGES)
        context.setsockopt(zmq.RECONNECT_IVL, 2)
        self._client = BlockingKernelClient(context=context)
        self._client.load_connection_info(info)
        self._client.start_channels()
        box._wait_ready(self._client, self.proc, cgroup, rundir)
        ready = time.monotonic()
        self.startup_seconds = ready - launched
        self.timings["kernel_start"] = ready - forked


class ContainerSandbox(Sandbox):
    """The :class:`Sandbox` inside a grading container: kernels are forked, confined by it."""

    kernel_class = ContainerKernel

    def run(self, nb, *, workdir_files=None, env=None):
        """Refused: a grading container runs kernels forked from its zygote only."""
        raise ZygoteError("a grading container forks every kernel from its zygote")
