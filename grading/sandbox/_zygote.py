"""Grading zygotes: a lab's libraries imported once, a fresh forked kernel for every run.

Starting a kernel and importing pandas, scikit-learn, fairlearn and shap costs
about 3 CPU-seconds, more than grading the notebook itself. A *zygote* pays it
once: a process that imports the lab's libraries and then forks one kernel per
run, so each submission still gets a fresh kernel process of its own, with
the libraries already in memory (shared copy-on-write). The pieces:

``Zygote`` (this module, the privileged side)
    Starts the zygote confined, sends it requests, tracks the kernels it forks
    (:class:`ForkedProcess`, what the sandbox needs of ``Popen``).
``_zygote_server.py`` (the in-sandbox side)
    The zygote's own code; its docstring lists every step a forked kernel takes
    before the first learner's line runs.

Isolation, and why each property holds:

- *The zygote never runs learner code.* It executes only the import lines of
  the lab's own (non-solution) source cells, as root with no network (its own
  network, mount, pid and IPC namespaces, private ``/tmp``, ``/var/tmp``,
  ``/dev/shm``, ``/run``, its own cgroup capped by ``Sandbox.zygote_memory``),
  then waits for requests on a pipe only the grader holds.
- *No state flows between runs.* A kernel is a fork of the zygote, which never
  sees what a kernel does: monkeypatches, globals, imported modules, files,
  System V IPC objects and open sockets of one run die with its processes.
  The next run forks the untouched zygote again.
- *Each run is confined as a fresh kernel is.* The kernel gets its own cgroup
  (memory, cpu, pids; joined by its reaper while still root, before the
  kernel exists), new mount, network, pid and IPC namespaces, a private tmpfs
  working copy of the lab files, fresh tmpfs on ``/tmp`` and friends,
  ``RLIMIT_FSIZE``/``CORE``/``NOFILE``, and runs as the grading account (never
  root, never a learner's account) with no capabilities and
  ``PR_SET_NO_NEW_PRIVS``, checked in ``/proc/self/status`` before ipykernel
  starts. It talks to the grader over the run's own Unix sockets with the
  run's own key, read from the connection file after dropping root: the
  zygote never holds a kernel's key.
- *One run at a time per zygote.* The zygote refuses a second spawn while a
  run is alive, and the grader removes a run's directory before the next
  spawn, so a kernel cannot find another run's (random) directory name in
  the memory it inherited.
- *A death costs one run.* ``os._exit``, a segfault or the OOM killer at the
  run's memory cap ends that kernel only (its cgroup is not the zygote's);
  the reaper exits with the kernel's status, which the zygote reports. After
  the run the grader kills every process of the run's cgroup and removes it.
  If the zygote itself dies (it is pid 1: its namespaces die with it), the
  run is lost to the grader, not to the learner: :meth:`Zygote.run` runs it
  again in a fresh kernel, and :class:`~ai4scale.grading.sandbox.ZygotePool`
  starts another zygote.

What differs from a fresh kernel: the memory cap counts a run's own pages
(its allocations and the library pages it writes), not the libraries the
zygote loaded; string hashing (``PYTHONHASHSEED``) is the zygote's; numpy's
global generator and ``random`` are re-seeded in every kernel; environment
variables read at interpreter start-up (``PYTHON*``, ``LD_*``) cannot be
changed per run, so :meth:`Zygote.run` starts a fresh kernel for those.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import logging
import os
import queue
import secrets
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
from ai4scale.hub.cgroups import CONTROLLERS, CGroup

from ._account import ensure_grader_account
from ._launch import popen_kernel, zygote_command

__all__ = ["ForkedProcess", "Zygote", "ZygoteError", "needs_fresh_interpreter"]

log = logging.getLogger(__name__)

SERVER = Path(__file__).with_name("_zygote_server.py")

#: Seconds the zygote may take to fork a kernel and say so.
SPAWN_TIMEOUT = 30.0

_LAUNCHERS = ("ipykernel_launcher", "ipykernel")


class ZygoteError(RuntimeError):
    """The zygote could not start, fork or answer (a fault of the grader, not of a run)."""


def needs_fresh_interpreter(env):
    """Whether environment ``env`` (extra variables of a run) must be read at start-up.

    Examples
    --------
    >>> needs_fresh_interpreter({"PYTHONPATH": "/x"}), needs_fresh_interpreter({"A": "1"})
    (True, False)
    """
    return any(k.startswith(("PYTHON", "LD_")) for k in (env or {}))


class ForkedProcess:
    """A kernel forked by a :class:`Zygote`, as the sandbox sees it (a small ``Popen``).

    ``pid`` is the kernel's reaper in the zygote's pid namespace;
    ``returncode`` is None while it runs, then its exit code or minus the
    signal that killed it. ``lost`` says the zygote died while it ran.
    """

    def __init__(self, zygote, run_id):
        self.zygote = zygote
        self.id = run_id
        self.pid = None
        self.returncode = None
        self.lost = False
        self.refused = None
        self._spawned = threading.Event()
        self._exited = threading.Event()

    def poll(self):
        """Return the return code, None while the kernel runs."""
        return self.returncode

    def wait(self, timeout=None):
        """Wait for the exit; raise ``subprocess.TimeoutExpired`` after ``timeout`` s."""
        if not self._exited.wait(timeout):
            raise subprocess.TimeoutExpired(f"forked kernel {self.pid}", timeout)
        return self.returncode

    def stop(self, cgroup, timeout=5.0):
        """Kill every process of the run's ``cgroup`` and wait until the zygote reaped it.

        One round of SIGKILL, then the zygote's report that it reaped the
        reaper and the exit of the processes still in the group (the kernel,
        pid 1 of its namespace, whose death ends every process there), each
        waited for through a pidfd rather than by polling; whatever is left
        then is killed until the group is empty.
        """
        if cgroup is not None:
            cgroup.kill_all(signal.SIGKILL, timeout=0)
        try:
            self.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("zygote did not report the end of run %s; closing it", self.id)
            self.zygote.close()
        if cgroup is not None:
            _wait_gone(cgroup, timeout)
            cgroup.kill_all(signal.SIGKILL, timeout=timeout)

    def _on_message(self, msg):
        event = msg.get("event")
        if event == "spawned":
            self.pid = msg.get("pid")
            self._spawned.set()
        elif event == "refused":
            self.refused = msg.get("message") or "refused"
            self.returncode = -signal.SIGKILL  # never started
            self._spawned.set()
            self._exited.set()
        elif event == "exit":
            self.returncode = int(msg.get("returncode", -signal.SIGKILL))
            self._spawned.set()
            self._exited.set()

    def _lose(self):
        if self.returncode is None:
            self.lost = True
            self.returncode = -signal.SIGKILL  # pid 1 of the zygote's namespace died
        self._spawned.set()
        self._exited.set()


class Zygote:
    """A sandboxed fork server: imports the lab once, forks a fresh kernel per run.

    See the module docstring for the isolation design. Serves one run at a
    time (one zygote per grading worker).

    Parameters
    ----------
    sandbox : Sandbox
        Its limits, timeouts and grading account apply to every run; its
        ``zygote_memory`` caps the zygote itself.
    preload : str
        Trusted code the zygote runs once (the lab's import lines, see
        :func:`ai4scale.grading.autograde.lab_preload`); never learner code.

    Examples
    --------
    >>> with Zygote(Sandbox(), preload="import pandas") as zygote:  # doctest: +SKIP
    ...     first = zygote.run(nb1)  # each in its own forked kernel
    ...     second = zygote.run(nb2)
    """

    def __init__(self, sandbox, *, preload=""):
        self.sandbox = sandbox
        self.preload = preload
        self.proc = self.cgroup = self.home = None
        self.ready = None  # the zygote's "ready" message
        self.startup_seconds = None
        self._log_file = self._reader = None
        self._events = queue.Queue()
        self._runs = {}
        self._ids = itertools.count(1)
        self._send_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._active = None
        self._closed = self._dead = False

    # -- life cycle ----------------------------------------------------------

    def start(self):
        """Start the zygote and wait until it imported the lab; return self.

        Raises
        ------
        ZygoteError
            When it does not start, fails, or takes longer than the sandbox's
            ``preload_timeout``. Nothing is left behind then.
        """
        from ._sandbox import parse_size

        box = self.sandbox
        try:
            ensure_grader_account(box.user)
            self.home = box._runs_parent() / f"zygote-{secrets.token_hex(12)}"
            self.home.mkdir(mode=0o700)
            self.cgroup = CGroup(f"zygote-{self.home.name[7:23]}", parent=box.cgroup_parent)
            self.cgroup.create()
            self.cgroup.set_limits(
                memory_bytes=parse_size(box.zygote_memory), cpu_cores=box.cpu, max_pids=box.max_pids
            )
            self._log_file = open(self.home / "zygote.log", "wb")  # noqa: SIM115
            # The server's source goes on the command line, not its path: the
            # zygote's private /tmp (and a grader who cannot read the sources'
            # folder) would hide a project checked out under /tmp.
            cmd = zygote_command(
                [sys.executable, "-c", SERVER.read_text(encoding="utf-8")],
                home=self.home,
                tmp_bytes=parse_size(box.tmp_disk),
            )
            started = time.monotonic()
            self.proc = popen_kernel(
                cmd,
                cgroup=self.cgroup,
                env=box._kernel_env("/tmp", None),
                log_file=self._log_file,
                fsize_bytes=parse_size(box.disk),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            self._start_reader_and_preload(started)
            log.debug("zygote %s ready in %.1f s", self.home.name, self.startup_seconds)
            return self
        except BaseException:
            self.close()
            raise

    def _start_reader_and_preload(self, started):
        """Read the zygote's events, send it the lab's imports, wait until it is ready."""
        box = self.sandbox
        self._reader = threading.Thread(
            target=self._read, name="ai4scale-zygote-reader", daemon=True
        )
        self._reader.start()
        self._send(op="preload", code=self.preload or "")
        try:
            event = self._events.get(timeout=box.preload_timeout)
        except queue.Empty:
            raise ZygoteError(
                f"the zygote did not import the lab's libraries within {box.preload_timeout} s"
            ) from None
        if event.get("event") != "ready":
            raise ZygoteError(
                f"the zygote did not start: {event.get('message')}; log: {self.log_tail()}"
            )
        self.ready = event
        self.startup_seconds = time.monotonic() - started

    def alive(self):
        """Whether the zygote is ready and running."""
        return (
            self.ready is not None
            and not (self._closed or self._dead)
            and self.proc is not None
            and self.proc.poll() is None
        )

    def log_tail(self, size=2000):
        """Return the end of the zygote's own log (what its imports printed)."""
        try:
            data = (self.home / "zygote.log").read_bytes()
        except (OSError, TypeError):
            return ""
        return data[-size:].decode("utf-8", "replace")

    def close(self):
        """Stop the zygote (and whatever it still runs); remove its cgroup and directory."""
        with self._send_lock:
            if self._closed:
                return
            self._closed = True
        if self.proc is not None:
            try:
                self.proc.stdin.close()  # EOF: the zygote exits
            except OSError:
                pass
            try:
                self.proc.wait(2.0)
            except subprocess.TimeoutExpired:
                self.cgroup.kill_all(signal.SIGKILL)
                self.proc.kill()
                self.proc.wait()
        if self._reader is not None:
            self._reader.join(5.0)
        if self.proc is not None:
            self.proc.stdout.close()
        if self.cgroup is not None:
            self.cgroup.remove()
        if self._log_file is not None:
            self._log_file.close()
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self):
        if self.ready is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    # -- talking to the zygote -----------------------------------------------

    def _send(self, **message):
        data = (json.dumps(message) + "\n").encode()
        with self._send_lock:
            if self._closed or self.proc is None:
                raise ZygoteError("the zygote is closed")
            try:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
            except (BrokenPipeError, ValueError, OSError) as e:
                raise ZygoteError(f"the zygote is gone: {e}") from None

    def _read(self):
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("event") in ("ready", "error"):
                self._events.put(msg)
                continue
            run = self._runs.get(msg.get("id"))
            if run is not None:
                run._on_message(msg)
                if msg.get("event") == "exit":
                    self._runs.pop(run.id, None)
        # EOF: the zygote exited, and every process of its namespaces with it.
        self._dead = True
        self._events.put({"event": "error", "message": "the zygote exited"})
        for run in list(self._runs.values()):
            run._lose()
        self._runs.clear()

    # -- runs ----------------------------------------------------------------

    def spawn(self, argv, *, pw, rundir, cgroup, env):
        """Fork a kernel for one run; return its :class:`ForkedProcess`.

        Called by :meth:`Sandbox.start` once the run's directory (``stage``,
        ``work``, ``ipc`` with the connection file, ``kernel.log``) and its
        cgroup exist.

        Parameters
        ----------
        argv : list of str
            The kernel's command line (``python -m ipykernel_launcher -f ...``).
        pw : pwd.struct_passwd
            The grading account.
        rundir : Path
            The run's directory.
        cgroup : CGroup
            The run's group, created and limited.
        env : dict
            The kernel's whole environment.

        Raises
        ------
        ZygoteError
            When the zygote is not running, the kernel is not an ipykernel,
            another run is alive, or the zygote does not answer.
        """
        if len(argv) < 3 or argv[1] != "-m" or argv[2] not in _LAUNCHERS:
            raise ZygoteError(f"cannot fork kernel {argv[:3]}: not an ipykernel")
        if not self.alive():
            raise ZygoteError("the zygote is not running")
        with self._run_lock:
            if self._active is not None and self._active.returncode is None:
                raise ZygoteError("the zygote serves one run at a time")
            run = self._active = ForkedProcess(self, next(self._ids))
        self._runs[run.id] = run
        try:
            self._spawn_request(run, argv, pw=pw, rundir=rundir, cgroup=cgroup, env=env)
        except ZygoteError:
            run._lose()
            raise
        if not run._spawned.wait(SPAWN_TIMEOUT):
            run._lose()
            self.close()
            raise ZygoteError(f"the zygote did not fork within {SPAWN_TIMEOUT} s")
        if run.refused:
            raise ZygoteError(f"the zygote refused the run: {run.refused}")
        return run

    def _spawn_request(self, run, argv, *, pw, rundir, cgroup, env):
        from ._sandbox import parse_size

        box = self.sandbox
        self._send(
            op="spawn",
            id=run.id,
            log=str(rundir / "kernel.log"),
            cgroup_procs=[str(cgroup.path(c) / "cgroup.procs") for c in CONTROLLERS],
            workdir=str(rundir / "work"),
            stagedir=str(rundir / "stage"),
            uid=pw.pw_uid,
            gid=pw.pw_gid,
            groups=os.getgrouplist(pw.pw_name, pw.pw_gid),
            disk_bytes=parse_size(box.disk),
            tmp_bytes=parse_size(box.tmp_disk),
            fsize_bytes=parse_size(box.disk),
            max_files=1024,
            env=env,
            launcher=_launcher_path(argv[2]),
            argv=argv[3:],
        )

    def start_kernel(self, *, workdir_files=None, env=None):
        """Return a :class:`SandboxKernel` forked from this zygote (see :meth:`Sandbox.start`)."""
        return self.sandbox.start(workdir_files=workdir_files, env=env, zygote=self)

    def run(self, nb, *, workdir_files=None, env=None):
        """Execute ``nb`` in a kernel forked from this zygote; return the ``RunResult``.

        Falls back to a fresh kernel (:meth:`Sandbox.run`) when ``env`` must be
        read at interpreter start-up, when the zygote is not running or cannot
        fork, and when it died during the run (then the run is done again).

        Parameters
        ----------
        nb : nbformat.NotebookNode or str or Path
        workdir_files, env
            As for :meth:`Sandbox.run`.

        Returns
        -------
        RunResult
        """
        if isinstance(nb, (str, Path)):
            nb = nbformat.read(str(nb), as_version=4)
        started = time.monotonic()
        if needs_fresh_interpreter(env) or not self.alive():
            return self.sandbox.run(nb, workdir_files=workdir_files, env=env)
        try:
            kernel = self.start_kernel(workdir_files=workdir_files, env=env)
        except ZygoteError as e:
            log.warning("zygote cannot fork (%s): running in a fresh kernel", e)
            return self.sandbox.run(nb, workdir_files=workdir_files, env=env)
        try:
            result = kernel.execute(nb)
        finally:
            kernel.close()
        result.timings["teardown"] = kernel.timings["teardown"]
        if getattr(kernel.proc, "lost", False):
            log.warning("the zygote died during a run: running it again in a fresh kernel")
            result = self.sandbox.run(nb, workdir_files=workdir_files, env=env)
        result.seconds = time.monotonic() - started
        return result


def _wait_gone(cgroup, timeout):
    """Wait until the processes now in ``cgroup`` exited (killed already), at most ``timeout`` s.

    A process leaves its cgroup before its pidfd says it exited, so the
    group is empty once this returns, unless a process did not die.
    """
    deadline = time.monotonic() + timeout
    for pid in cgroup.pids():
        try:
            fd = os.pidfd_open(pid)
        except (ProcessLookupError, OSError):
            continue  # gone already
        try:
            select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        finally:
            os.close(fd)


def _launcher_path(module):
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        raise ZygoteError(f"cannot find {module}")
    return spec.origin
