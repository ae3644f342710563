"""Run one notebook's code cells in a fresh, confined kernel and collect the evidence."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import zmq
from ai4scale.hub.cgroups import CGroup
from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.connect import write_connection_file
from jupyter_client.kernelspec import KernelSpecManager
from traitlets import Float, Integer, Unicode, default, validate
from traitlets.config import LoggingConfigurable

from ._account import GRADER_ACCOUNT, ensure_grader_account
from ._launch import kernel_command, popen_kernel
from ._results import TRUNCATED, CellResult, RunResult

__all__ = ["Sandbox", "SandboxKernel", "parse_size", "run_notebook", "run_once"]

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.IGNORECASE)

#: Largest message (bytes) the client accepts from the kernel; zmq drops bigger ones
#: (the run then ends with "output_limit"). With at most :data:`QUEUED_MESSAGES`
#: queued per socket, a kernel can make us buffer at most 256 MiB.
HARD_MESSAGE_BYTES = 8 << 20
QUEUED_MESSAGES = 32

#: Directories each kernel gets its own empty tmpfs on (see ``_launch``).
_PRIVATE_MOUNTS = ("/tmp", "/var/tmp", "/dev/shm", "/run")

#: Seconds to wait for the kernel's "idle" after its execute_reply.
IDLE_GRACE = 2.0


def parse_size(value):
    """Return ``value`` ("1G", "512M", 1024) in bytes.

    Examples
    --------
    >>> parse_size("1G"), parse_size("512M"), parse_size(4096)
    (1073741824, 536870912, 4096)
    """
    if isinstance(value, int):
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"not a size: {value!r} (e.g. 512M, 1G)")
    return int(float(match[1]) * _UNITS[match[2].upper()])


class _Stop(Exception):
    """Ends a run early; carries the outcome and its reason."""

    def __init__(self, outcome, reason):
        super().__init__(reason)
        self.outcome, self.reason = outcome, reason


class Sandbox(LoggingConfigurable):
    """Executes notebooks, one fresh confined kernel per run.

    Each :meth:`run` makes a private run directory under :attr:`runs_dir`,
    a cgroup under :attr:`cgroup_parent`, starts the kernel as the grading
    account in new network, mount and pid namespaces (see
    :mod:`ai4scale.grading.sandbox._launch`), executes the code cells one by
    one and removes everything afterwards, whatever happened. Runs are
    independent: several may go on at once from different threads.
    """

    #: The kernel class :meth:`start` makes (None: :class:`SandboxKernel`); a
    #: subclass confined otherwise names its own.
    kernel_class = None

    user = Unicode(
        GRADER_ACCOUNT,
        help="""System account that runs the kernels; created if missing (never root,
        never a learner's account).""",
    ).tag(config=True)

    runs_dir = Unicode(
        "/srv/ai4scale/grading-runs",
        help="""Root-owned directory (mode 0711) holding one private directory per run.""",
    ).tag(config=True)

    cgroup_parent = Unicode("ai4scale-grading", help="""Parent cgroup of the runs' groups.""").tag(
        config=True
    )

    kernel_name = Unicode("python3", help="""Kernel spec to start.""").tag(config=True)

    cell_timeout = Float(30.0, help="""Seconds one cell may run.""").tag(config=True)
    notebook_timeout = Float(300.0, help="""Seconds all cells together may run.""").tag(config=True)
    startup_timeout = Float(30.0, help="""Seconds the kernel may take to answer.""").tag(
        config=True
    )

    memory = Unicode("1G", help="""Memory of the kernel and its children (e.g. 512M, 1G).""").tag(
        config=True
    )
    cpu = Float(1.0, help="""CPU cores (CFS quota) of the kernel and its children.""").tag(
        config=True
    )
    max_pids = Integer(128, help="""Processes and threads of the run.""").tag(config=True)
    disk = Unicode(
        "100M", help="""Size of the working directory (a tmpfs; counts as memory too)."""
    ).tag(config=True)
    tmp_disk = Unicode("20M", help="""Size of the run's private /tmp, /var/tmp, /dev/shm.""").tag(
        config=True
    )
    zygote_memory = Unicode(
        "2G",
        help="""Memory of a grading zygote (see :class:`Zygote`): the lab's libraries,
        imported once and shared by the kernels it forks (their own pages count
        against ``memory``).""",
    ).tag(config=True)
    max_output_bytes = Integer(
        1_000_000,
        help="""Output (streams, results, errors, images) of all cells together that is
        kept; above it the text is cut with a marker and later output is not kept
        (a cell's displayed result keeps its first 1,000 characters: partial-credit
        tests show their score that way). The run goes on: an honest learner's
        large table or many plots cost no marks.""",
    ).tag(config=True)
    output_stop_bytes = Integer(
        32 << 20,
        help="""Output all cells together may send before the run is stopped, with
        outcome "output_limit" (a flood of output, not a learner's tables and plots).

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    @validate("memory", "disk", "tmp_disk", "zygote_memory")
    def _valid_size(self, proposal):
        parse_size(proposal["value"])
        return proposal["value"]

    @default("log")
    def _default_log(self):
        import logging

        return logging.getLogger(__name__)

    # -- public ------------------------------------------------------------

    preload_timeout = Float(
        120.0,
        help="""Seconds the ``preload`` code given to :meth:`start` may run (before any
        learner's cell; it does not count against the notebook's timeout).""",
    ).tag(config=True)

    def run(self, nb, *, workdir_files=None, env=None):
        """Execute the code cells of ``nb`` in a fresh sandboxed kernel.

        The same as ``start()``, ``execute(nb)`` and ``close()`` of the
        returned :class:`SandboxKernel`.

        Parameters
        ----------
        nb : nbformat.NotebookNode or str or Path
            The notebook (or its file). It is not modified and not copied into
            the working directory (its hidden tests must stay hidden).
        workdir_files : dict or list, optional
            Files for the working directory: ``{relative name: Path or bytes}``,
            or a list of Paths (copied under their own names). Directories are
            copied whole.
        env : dict, optional
            Extra environment variables of the kernel.

        Returns
        -------
        RunResult
        """
        if isinstance(nb, (str, Path)):
            nb = nbformat.read(str(nb), as_version=4)
        return run_once(lambda: self.start(workdir_files=workdir_files, env=env), nb)

    def start(self, *, workdir_files=None, env=None, preload=None, zygote=None):
        """Start a fresh sandboxed kernel, ready for one notebook.

        Parameters
        ----------
        workdir_files, env
            As for :meth:`run`.
        preload : str, optional
            Trusted code (the lab's imports) run before the notebook, silently,
            so that its cost is paid before :meth:`SandboxKernel.execute`. The
            user namespace is reset afterwards (``%reset -f``): the loaded
            modules stay in ``sys.modules``, no name it bound stays defined.
        zygote : Zygote, optional
            Fork the kernel from this started zygote (its imports done)
            instead of starting an interpreter; ``preload`` is then not used.

        Returns
        -------
        SandboxKernel
            Always close it (:meth:`SandboxKernel.close`). A kernel that failed
            to start is returned too: its ``execute`` reports why.
        """
        kernel = (self.kernel_class or SandboxKernel)(self)
        try:
            kernel._start(workdir_files, env, preload, zygote)
        except _Stop as stop:
            kernel.failed = stop
        except BaseException:
            kernel.close()
            raise
        return kernel

    # -- the run directory -------------------------------------------------

    def _runs_parent(self):
        parent = Path(self.runs_dir).resolve()
        hidden = [d for d in _PRIVATE_MOUNTS if parent == Path(d) or Path(d) in parent.parents]
        if hidden:
            raise ValueError(f"runs_dir {parent} is under {hidden[0]}, which each kernel hides")
        parent.mkdir(parents=True, exist_ok=True)
        if parent.is_symlink() or parent.stat().st_uid != 0:
            raise OSError(f"{parent} must be a root-owned directory, not a link")
        # Traversable by the grader, not listable: a kernel cannot find other runs.
        os.chmod(parent, 0o711)
        return parent

    def _make_rundir(self, pw):
        rundir = self._runs_parent() / secrets.token_hex(16)
        rundir.mkdir(mode=0o711)
        (rundir / "stage").mkdir(mode=0o700)
        (rundir / "work").mkdir(mode=0o700)
        ipc = rundir / "ipc"
        ipc.mkdir(mode=0o700)
        os.chown(ipc, pw.pw_uid, pw.pw_gid)
        return rundir

    @staticmethod
    def _stage(stage, files):
        if not files:
            return
        if not isinstance(files, dict):
            files = {Path(p).name: Path(p) for p in files}
        for name, source in files.items():
            rel = Path(name)
            if rel.is_absolute() or ".." in rel.parts or not rel.parts:
                raise ValueError(f"workdir file name must be relative, not {name!r}")
            target = stage / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(source, bytes):
                target.write_bytes(source)
            elif Path(source).is_dir():
                shutil.copytree(source, target, symlinks=False)
            else:
                shutil.copyfile(source, target)

    @staticmethod
    def _connection_file(ipc, pw):
        fname, info = write_connection_file(
            str(ipc / "kernel.json"),
            ip=str(ipc / "k"),
            transport="ipc",
            key=secrets.token_hex(32).encode(),
        )
        os.chown(fname, pw.pw_uid, pw.pw_gid)
        os.chmod(fname, 0o600)
        return fname, info

    def _kernel_argv(self, connection_file):
        spec = KernelSpecManager().get_kernel_spec(self.kernel_name)
        argv = [a.replace("{connection_file}", connection_file) for a in spec.argv]
        if argv and argv[0] in ("python", "python3"):
            argv[0] = sys.executable
        if "ipykernel_launcher" in argv or "ipykernel" in argv:
            # No history database: nothing to write, nothing a full /tmp can break.
            argv.append("--HistoryManager.enabled=False")
            # Tracebacks without colour codes (stripped before anyone reads them
            # anyway): half the cost of formatting each of the canaries' errors.
            argv.append("--InteractiveShell.colors=nocolor")
        return argv

    def _kernel_env(self, workdir, extra):
        threads = str(max(1, int(self.cpu)))
        env = {
            # Native thread pools no larger than the CPU quota (and none to fork in a zygote).
            "OMP_NUM_THREADS": threads,
            "OPENBLAS_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
            "JE_ARROW_MALLOC_CONF": "background_thread:false",
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(workdir),
            "IPYTHONDIR": "/tmp/.ipython",
            "JUPYTER_RUNTIME_DIR": "/tmp/.jupyter-runtime",
            "LANG": "C.UTF-8",
            "MPLBACKEND": "Agg",
            "PYTHONDONTWRITEBYTECODE": "1",
            "TMPDIR": "/tmp",
        }
        env.update(extra or {})
        return env

    # -- talking to the kernel ---------------------------------------------

    def _check_alive(self, proc, cgroup, doing):
        if proc.poll() is None:
            return
        code = proc.returncode
        if cgroup.oom_kills():
            raise _Stop(
                "memory_limit",
                f"the kernel was killed by the OOM killer at the memory limit ({self.memory}) "
                f"{doing}",
            )
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            raise _Stop("kernel_died", f"the kernel was killed by {name} {doing}")
        raise _Stop("kernel_died", f"the kernel exited with status {code} {doing}")

    def _wait_ready(self, client, proc, cgroup, rundir):
        deadline = time.monotonic() + self.startup_timeout
        msg_id = client.kernel_info()
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                log = (rundir / "kernel.log").read_bytes()[-2000:].decode("utf-8", "replace")
                raise _Stop(
                    "startup_failed",
                    f"the kernel exited with status {proc.returncode} before answering: {log}",
                )
            try:
                msg = client.shell_channel.get_msg(timeout=0.1)
            except Exception:  # queue.Empty
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            # The shell answered; iopub must be subscribed too, or the first cell's
            # output would be lost: wait for the kernel's "idle" after this request
            # there, else ask again (as jupyter_client does). Start-up chatter left
            # on iopub is not the first cell's (its messages are told by parent).
            if self._idle_seen(client, msg_id, min(0.2, deadline - time.monotonic())):
                return
            msg_id = client.kernel_info()
        raise _Stop("startup_failed", f"the kernel did not answer within {self.startup_timeout} s")

    @staticmethod
    def _idle_seen(client, msg_id, timeout):
        """Whether iopub shows the kernel's "idle" after request ``msg_id`` within ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                msg = client.iopub_channel.get_msg(timeout=left)
            except Exception:  # queue.Empty
                return False
            if (
                msg.get("msg_type") == "status"
                and msg["parent_header"].get("msg_id") == msg_id
                and msg["content"].get("execution_state") == "idle"
            ):
                return True

    def _execute(
        self,
        client,
        proc,
        cgroup,
        source,
        res,
        nb_deadline,
        budget,
        cell_timeout=None,
        silent=False,
    ):
        start = time.monotonic()
        cell_timeout = self.cell_timeout if cell_timeout is None else cell_timeout
        cell_deadline = start + cell_timeout
        msg_id = client.execute(
            source, silent=silent, store_history=not silent, allow_stdin=False, stop_on_error=False
        )
        poller = zmq.Poller()
        poller.register(client.shell_channel.socket, zmq.POLLIN)
        poller.register(client.iopub_channel.socket, zmq.POLLIN)
        reply = idle = False
        replied_at = None
        where = f"in cell {res.index}"
        res.status = "running"
        try:
            while not (reply and idle):
                now = time.monotonic()
                if now > nb_deadline:
                    res.status = "timeout"
                    raise _Stop(
                        "notebook_timeout",
                        f"the notebook ran longer than {self.notebook_timeout} s (stopped {where})",
                    )
                if now > cell_deadline:
                    res.status = "timeout"
                    raise _Stop(
                        "cell_timeout", f"cell {res.index} ran longer than {cell_timeout} s"
                    )
                if replied_at is not None and now - replied_at > IDLE_GRACE:
                    res.status = "output_limit"
                    raise _Stop(
                        "output_limit",
                        f"cell {res.index}: output was lost (a message above "
                        f"{HARD_MESSAGE_BYTES} bytes was dropped)",
                    )
                try:
                    self._check_alive(proc, cgroup, f"while running cell {res.index}")
                except _Stop:
                    res.status = "dead"
                    raise
                events = dict(poller.poll(100))
                if client.shell_channel.socket in events:
                    msg = self._get_msg(client.shell_channel, res)
                    if msg["parent_header"].get("msg_id") == msg_id:
                        reply = True
                        replied_at = time.monotonic()
                        content = msg["content"]
                        res.status = str(content.get("status"))
                        res.execution_count = content.get("execution_count")
                        if res.status == "error":
                            res.ename = str(content.get("ename"))[:1000]
                            res.evalue = str(content.get("evalue"))[:10000]
                if client.iopub_channel.socket in events:
                    msg = self._get_msg(client.iopub_channel, res)
                    if msg["parent_header"].get("msg_id") == msg_id:
                        idle = self._on_iopub(msg, res, budget) or idle
        finally:
            res.seconds = time.monotonic() - start

    @staticmethod
    def _get_msg(channel, res):
        """Return the next message of ``channel``; a message we cannot read ends the run."""
        try:
            msg = channel.get_msg(timeout=0)
            msg["parent_header"].get("msg_id")
            msg["content"].get("status")
            return msg
        except Exception as e:  # the learner's code broke the kernel's side of the protocol
            res.status = "protocol_error"
            raise _Stop(
                "protocol_error",
                f"cell {res.index}: the kernel sent a message that is not Jupyter protocol "
                f"({type(e).__name__}: {str(e)[:200]})",
            ) from None

    def _on_iopub(self, msg, res, budget):
        """Record one iopub message; return True on the kernel's "idle"."""
        kind, content = msg["msg_type"], msg["content"]
        if kind == "status":
            return content.get("execution_state") == "idle"
        if kind == "stream":
            text = self._take(str(content.get("text", "")), res, budget)
            name = content.get("name")
            last = res.outputs[-1] if res.outputs else None
            if last and last["output_type"] == "stream" and last["name"] == name:
                last["text"] += text
            else:
                res.outputs.append({"output_type": "stream", "name": name, "text": text})
        elif kind in ("execute_result", "display_data"):
            data = content.get("data") or {}
            keep = 1000 if kind == "execute_result" else 0
            plain = self._take(str(data.get("text/plain", "")), res, budget, keep=keep)
            # Other mime types are not kept, but their size still counts.
            budget[0] -= sum(len(json.dumps(v)) for k, v in data.items() if k != "text/plain")
            out = {"output_type": kind, "data": {"text/plain": plain}}
            if kind == "execute_result":
                out["execution_count"] = content.get("execution_count")
            res.outputs.append(out)
        elif kind == "error":
            tb = self._take("\n".join(map(str, content.get("traceback") or [])), res, budget)
            res.traceback = tb.split("\n")
            res.ename = str(content.get("ename"))[:1000]
            res.evalue = str(content.get("evalue"))[:10000]
            res.outputs.append({"output_type": "error", "ename": res.ename, "evalue": res.evalue})
        elif kind == "clear_output":
            res.outputs.clear()
        if budget[0] < self.max_output_bytes - self.output_stop_bytes:
            res.status = "output_limit"
            raise _Stop(
                "output_limit",
                f"cell {res.index} took the output above {self.output_stop_bytes} bytes",
            )
        return False

    def _take(self, text, res, budget, keep=0):
        """Charge ``text`` to the budget; return what fits (at least ``keep`` bytes), cut.

        The marker is added once per cell: later text past the budget is dropped.
        """
        size = len(text.encode("utf-8", "replace"))
        room = budget[0]
        budget[0] -= size
        if size <= max(room, keep):
            return text
        cut = text.encode("utf-8", "replace")[: max(room, keep, 0)].decode("utf-8", "ignore")
        marker = "" if res.truncated and not cut else TRUNCATED
        res.truncated = True
        return cut + marker


class SandboxKernel:
    """One started sandboxed kernel: execute one notebook in it, then close it.

    Made by :meth:`Sandbox.start`. A kernel executes at most one notebook
    (a second :meth:`execute` raises ``RuntimeError``): no learner's state can
    reach another learner. :meth:`close` kills the kernel and removes its
    cgroup and run directory; it is idempotent and safe from any thread.
    """

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.failed = None  # a _Stop when the start failed
        self.startup_seconds = None
        self.preload_status = None  # execute_reply status of the preload, if any
        self.forked = False  # forked from a zygote
        self.timings = {}  # seconds per phase (see RunResult.timings)
        self.rundir = self.cgroup = self.proc = None
        self._client = self._context = self._log_file = None
        self._used = self._closed = False
        self._lock = threading.Lock()

    @property
    def pid(self):
        """Process id of the kernel's ``unshare`` wrapper (None before the launch).

        For a kernel forked by a zygote: its reaper's, in the zygote's pid namespace.
        """
        return self.proc.pid if self.proc is not None else None

    def alive(self):
        """Whether the kernel started and its process still runs."""
        return self.failed is None and self.proc is not None and self.proc.poll() is None

    def _start(self, workdir_files, env, preload, zygote=None):
        box = self.sandbox
        began = time.monotonic()
        pw = ensure_grader_account(box.user)
        self.rundir = rundir = box._make_rundir(pw)
        self.cgroup = cgroup = CGroup(f"run-{rundir.name[:16]}", parent=box.cgroup_parent)
        box._stage(rundir / "stage", workdir_files)
        cgroup.create()
        cgroup.set_limits(
            memory_bytes=parse_size(box.memory), cpu_cores=box.cpu, max_pids=box.max_pids
        )
        connection_file, info = box._connection_file(rundir / "ipc", pw)
        self._log_file = open(rundir / "kernel.log", "wb")  # noqa: SIM115
        argv = box._kernel_argv(connection_file)
        kernel_env = box._kernel_env(rundir / "work", env)
        launched = time.monotonic()
        self.timings["setup"] = launched - began
        if zygote is not None:
            self.forked = True
            self.proc = zygote.spawn(argv, pw=pw, rundir=rundir, cgroup=cgroup, env=kernel_env)
        else:
            cmd = kernel_command(
                argv,
                pw=pw,
                workdir=rundir / "work",
                stagedir=rundir / "stage",
                disk_bytes=parse_size(box.disk),
                tmp_bytes=parse_size(box.tmp_disk),
            )
            self.proc = popen_kernel(
                cmd,
                cgroup=cgroup,
                env=kernel_env,
                log_file=self._log_file,
                fsize_bytes=parse_size(box.disk),
            )
        forked = time.monotonic()
        self.timings["fork"] = forked - launched
        self._context = context = zmq.Context()
        context.setsockopt(zmq.MAXMSGSIZE, HARD_MESSAGE_BYTES)
        context.setsockopt(zmq.RCVHWM, QUEUED_MESSAGES)
        context.setsockopt(zmq.RECONNECT_IVL, 2)  # the kernel binds its sockets after we connect
        self._client = BlockingKernelClient(context=context)
        self._client.load_connection_info(info)
        self._client.start_channels()
        box._wait_ready(self._client, self.proc, cgroup, rundir)
        ready = time.monotonic()
        self.startup_seconds = ready - launched
        self.timings["kernel_start"] = ready - forked
        if preload and zygote is None:
            self.preload_status = self._silent(preload)
            self._silent("%reset -f")
            self.timings["preload"] = time.monotonic() - ready

    def _silent(self, code):
        """Run trusted ``code`` silently (no output kept, no execution count)."""
        box = self.sandbox
        res = CellResult(index=-1, cell_id=None)
        deadline = time.monotonic() + box.preload_timeout
        budget = [1 << 62]  # trusted code: its output is dropped, not charged
        try:
            box._execute(
                self._client,
                self.proc,
                self.cgroup,
                code,
                res,
                deadline,
                budget,
                cell_timeout=box.preload_timeout,
                silent=True,
            )
        except _Stop as stop:
            raise _Stop(
                "startup_failed", f"preloading the lab's imports failed: {stop.reason}"
            ) from None
        return res.status

    def execute(self, nb):
        """Execute the code cells of ``nb``; return the :class:`RunResult`.

        The notebook's timeout counts from this call. The kernel is left
        running: call :meth:`close`.
        """
        if isinstance(nb, (str, Path)):
            nb = nbformat.read(str(nb), as_version=4)
        with self._lock:
            if self._used or self._closed:
                raise RuntimeError("a sandboxed kernel executes one notebook only")
            self._used = True
        box = self.sandbox
        started = time.monotonic()
        cells = [
            CellResult(index=i, cell_id=cell.get("id"))
            for i, cell in enumerate(nb.cells)
            if cell.cell_type == "code"
        ]
        result = RunResult(outcome="completed", reason="all code cells were executed", cells=cells)
        result.startup_seconds = self.startup_seconds
        result.forked = self.forked
        result.timings.update(self.timings)
        budget = [box.max_output_bytes]  # bytes left, shared by all cells
        try:
            if self.failed is not None:
                raise self.failed
            box._check_alive(self.proc, self.cgroup, "before the notebook started")
            deadline = started + box.notebook_timeout
            code_cells = [c for c in nb.cells if c.cell_type == "code"]
            for cell, res in zip(code_cells, cells, strict=True):
                if not cell.source.strip():
                    # Not sent, as nbclient and JupyterLab do: IPython would run
                    # no pre_run_cell for it, only post_run_cell.
                    res.status = "ok"
                    continue
                box._execute(
                    self._client, self.proc, self.cgroup, cell.source, res, deadline, budget
                )
                if result.first_result_seconds is None:
                    # Kernel time only: a pre-started kernel's wait in the pool is not counted.
                    since = time.monotonic() - started
                    result.first_result_seconds = (self.startup_seconds or 0.0) + since
        except _Stop as stop:
            result.outcome, result.reason = stop.outcome, stop.reason
        finally:
            result.output_bytes = box.max_output_bytes - budget[0]
            if self.cgroup is not None:
                result.oom_kills = self.cgroup.oom_kills()
            if self.proc is not None and self.proc.poll() is not None:
                code = self.proc.returncode
                result.exit_code, result.exit_signal = (None, -code) if code < 0 else (code, None)
            result.seconds = time.monotonic() - started
        return result

    def close(self):
        """Kill the kernel, remove its cgroup and run directory (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        began = time.monotonic()
        if self._client is not None:
            self._client.stop_channels()
        if self._context is not None:
            self._context.destroy(linger=0)
        if self.proc is not None:
            _stop(self.proc, self.cgroup)
        if self.cgroup is not None:
            self.cgroup.remove()
        if self._log_file is not None:
            self._log_file.close()
        if self.rundir is not None:
            shutil.rmtree(self.rundir, ignore_errors=True)
        self.timings["teardown"] = time.monotonic() - began

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def run_once(get_kernel, nb):
    """Run ``nb`` in the kernel ``get_kernel()`` returns, then close that kernel.

    Parameters
    ----------
    get_kernel : callable
        Returns a :class:`SandboxKernel` (freshly started, or taken from a pool).
    nb : nbformat.NotebookNode

    Returns
    -------
    RunResult
        With ``seconds`` counted from the call, kernel start (or wait) included.
    """
    started = time.monotonic()
    kernel = get_kernel()
    try:
        result = kernel.execute(nb)
    finally:
        kernel.close()
    result.timings["teardown"] = kernel.timings["teardown"]
    result.seconds = time.monotonic() - started
    return result


def _stop(proc, cgroup, timeout=5.0):
    """Kill the run's processes but ``unshare`` itself, then reap it.

    ``unshare`` must outlive the kernel to reap it: killed first, it would
    leave the kernel a zombie for PID 1 of the machine to reap (or not).
    """
    if not isinstance(proc, subprocess.Popen):  # forked by a zygote: it reaps
        proc.stop(cgroup, timeout)
        return
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        for pid in cgroup.pids():
            if pid != proc.pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        try:
            proc.wait(0.05)
        except subprocess.TimeoutExpired:
            pass
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def run_notebook(
    nb,
    *,
    workdir_files=None,
    cell_timeout=30,
    notebook_timeout=300,
    memory="1G",
    cpu=1.0,
    max_pids=128,
    max_output_bytes=1_000_000,
    kernel_name="python3",
    env=None,
    **config,
):
    """Execute ``nb`` in a fresh sandboxed kernel; see :class:`Sandbox`.

    Parameters
    ----------
    nb : nbformat.NotebookNode or str or Path
        The notebook.
    workdir_files : dict or list, optional
        Files for the private working directory (see :meth:`Sandbox.run`).
    cell_timeout, notebook_timeout : float
        Seconds per cell, and for all cells together.
    memory : str
        Memory cap, e.g. ``"1G"``.
    cpu : float
        CPU cores.
    max_pids : int
        Processes and threads.
    max_output_bytes : int
        Output cap of the whole run.
    kernel_name : str
        Kernel spec.
    env : dict, optional
        Extra environment variables of the kernel.
    **config
        Other :class:`Sandbox` traits (``user``, ``runs_dir``, ``cgroup_parent``, ...).

    Returns
    -------
    RunResult
    """
    sandbox = Sandbox(
        cell_timeout=cell_timeout,
        notebook_timeout=notebook_timeout,
        memory=memory,
        cpu=cpu,
        max_pids=max_pids,
        max_output_bytes=max_output_bytes,
        kernel_name=kernel_name,
        **config,
    )
    return sandbox.run(nb, workdir_files=workdir_files, env=env)
