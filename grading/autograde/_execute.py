"""Executors: run a notebook and return the evidence as a sandbox ``RunResult``.

Both have the same small interface, ``executor.run(nb, *, workdir_files) ->
RunResult`` (cells indexed by notebook cell index, each with the kernel's
execute_reply status): :class:`SandboxExecutor` (the default, see
:mod:`ai4scale.grading.sandbox`) and :class:`LocalExecutor` (nbclient as the
current user, for development and tests: no isolation at all).

There is no silent fallback: :func:`default_executor` returns the sandbox or
raises :class:`SandboxUnavailable` saying why it cannot run here; running
without it is asked for by name (``sandbox=False``, ``--no-sandbox``,
``[course] sandbox = "none"``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from ai4scale.grading.sandbox import TRUNCATED, CellResult, RunResult, run_once

__all__ = [
    "LocalExecutor",
    "SandboxExecutor",
    "SandboxUnavailable",
    "default_executor",
    "sandbox_available",
    "sandbox_unavailable_reason",
]


class SandboxUnavailable(RuntimeError):
    """The grading sandbox cannot run here; the message says why and what to do."""


def sandbox_unavailable_reason():
    """Return why the grading sandbox cannot run here, or ``""`` when it can.

    The sandbox needs root (to create its account, cgroups and namespaces),
    the cgroup v1 memory, cpu and pids controllers, and the ``unshare`` and
    ``setpriv`` programs (util-linux).

    Returns
    -------
    str
        The reasons, joined by ``"; "``; empty when nothing is missing.
    """
    from ai4scale.hub.cgroups import CGroup

    reasons = []
    if os.geteuid() != 0:
        name = _user_name(os.geteuid())
        reasons.append(f"grading runs as {name} (uid {os.geteuid()}), not as root")
    else:
        why = CGroup.unavailable_reason()
        if why:
            reasons.append(why)
    for program in ("unshare", "setpriv"):
        if not (shutil.which(program) or Path("/usr/bin", program).is_file()):
            reasons.append(f"the {program!r} program (util-linux) is not installed")
    return "; ".join(reasons)


def _user_name(uid):
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"user {uid}"


def sandbox_available():
    """Whether the sandbox can run here (see :func:`sandbox_unavailable_reason`)."""
    return not sandbox_unavailable_reason()


def _settings_of(obj, names):
    return {n: getattr(obj, n) for n in names}


class SandboxExecutor:
    """Run each notebook in a fresh sandboxed kernel (a :class:`Sandbox`).

    After :meth:`open_pool`, kernels are forked from grading zygotes (a
    :class:`~ai4scale.grading.sandbox.ZygotePool`: the lab's imports done
    once per worker, a fresh kernel process per notebook), or, with
    ``fork=False``, taken from a :class:`~ai4scale.grading.sandbox.KernelPool`
    (started ahead with the lab's imports done, each used for one notebook).

    Parameters
    ----------
    fork : bool
        Fork kernels from zygotes in :meth:`open_pool` (default); False: start
        a new interpreter per notebook.
    **config
        :class:`ai4scale.grading.sandbox.Sandbox` traits (``cell_timeout``,
        ``notebook_timeout``, ``memory``, ``max_output_bytes``, ``user``...).
    """

    name = "sandbox"

    def __init__(self, *, fork=True, **config):
        from ai4scale.grading.sandbox import Sandbox

        self.sandbox = Sandbox(**config)
        self.fork = fork
        self.pool = None

    def settings(self):
        """Return the settings a run depends on (the sandbox's traits and ``fork``)."""
        traits = sorted(self.sandbox.traits(config=True))
        return {"fork": self.fork, **_settings_of(self.sandbox, traits)}

    def open_pool(self, *, preload, size, limit=None, workdir_files=None):
        """Prepare kernels for runs with ``workdir_files``, the lab's imports (``preload``) done.

        With ``fork``: ``size`` zygotes (at most ``limit``, the runs expected),
        for runs with any files. Otherwise ``size`` pre-started kernels, at most
        ``limit`` in all; runs with other files start their own kernel.
        Call :meth:`close_pool` at the end.
        """
        from ai4scale.grading.sandbox import KernelPool, ZygotePool

        if self.fork and isinstance(self.pool, ZygotePool) and self.pool.preload == preload:
            return  # opened ahead (see start_early)
        self.close_pool()
        if self.fork:
            size = min(size, limit) if limit else size
            self.pool = ZygotePool(self.sandbox, size=size, preload=preload)
        else:
            self.pool = KernelPool(
                self.sandbox, size=size, limit=limit, preload=preload, workdir_files=workdir_files
            )
        self.pool.start()

    def close_pool(self):
        """Shut the pool down, closing the kernels not taken (idempotent)."""
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.shutdown()

    def run(self, nb, *, workdir_files=None):
        """Execute ``nb``; return its :class:`RunResult`."""
        from ai4scale.grading.sandbox import ZygotePool

        pool = self.pool
        if isinstance(pool, ZygotePool):  # kernels forked for any working-directory files
            return pool.run(nb, workdir_files=workdir_files)
        if pool is None or workdir_files != pool.workdir_files:
            return self.sandbox.run(nb, workdir_files=workdir_files)
        return run_once(pool.take, nb)


class LocalExecutor:
    """Run notebooks with nbclient as the current user, in a temporary folder.

    Not a sandbox: for development (``--no-sandbox``) and fast tests. Timeouts
    and the output cap are applied as the sandbox does; a run ends at the
    first timeout, kernel death or output overflow.
    """

    name = "local"

    def __init__(
        self,
        *,
        cell_timeout=30.0,
        notebook_timeout=300.0,
        max_output_bytes=1_000_000,
        output_stop_bytes=32 << 20,
        **_,
    ):
        self.cell_timeout = cell_timeout
        self.notebook_timeout = notebook_timeout
        self.max_output_bytes = max_output_bytes
        self.output_stop_bytes = output_stop_bytes

    def settings(self):
        """Return the settings a run depends on (its timeouts and output caps)."""
        return _settings_of(
            self, ("cell_timeout", "notebook_timeout", "max_output_bytes", "output_stop_bytes")
        )

    def run(self, nb, *, workdir_files=None):
        """Execute ``nb``; return its :class:`RunResult`."""
        import copy

        from nbclient import NotebookClient
        from nbclient.exceptions import CellTimeoutError, DeadKernelError

        nb = copy.deepcopy(nb)
        started = time.monotonic()
        cells = {
            i: CellResult(index=i, cell_id=c.get("id"))
            for i, c in enumerate(nb.cells)
            if c.cell_type == "code"
        }
        result = RunResult("completed", "all code cells were executed", list(cells.values()))

        def on_executed(cell, cell_index, execute_reply):
            res = cells[cell_index]
            content = execute_reply.get("content", {}) if execute_reply else {}
            res.status = content.get("status", "ok")
            res.ename, res.evalue = content.get("ename"), content.get("evalue")
            res.traceback = list(content.get("traceback", []))
            res.execution_count = content.get("execution_count")

        with tempfile.TemporaryDirectory(prefix="ai4scale-run-") as tmp:
            _stage(Path(tmp), workdir_files)
            client = NotebookClient(
                nb,
                timeout=self.cell_timeout,
                kernel_name="python3",
                allow_errors=True,
                on_cell_executed=on_executed,
                resources={"metadata": {"path": tmp}},
            )
            budget = self.max_output_bytes
            deadline = started + self.notebook_timeout
            try:
                with client.setup_kernel():
                    for i, res in cells.items():
                        left = deadline - time.monotonic()
                        if left <= 0:
                            result.outcome = "notebook_timeout"
                            result.reason = (
                                f"the notebook ran longer than {self.notebook_timeout} s"
                            )
                            break
                        client.timeout = min(self.cell_timeout, left)
                        if not nb.cells[i].source.strip():
                            res.status = "ok"  # nbclient does not send an empty cell
                            continue
                        try:
                            client.execute_cell(nb.cells[i], i)
                        except CellTimeoutError:
                            res.status = "timeout"
                            result.outcome = "cell_timeout"
                            result.reason = f"cell {i} ran longer than {client.timeout:.0f} s"
                            break
                        except DeadKernelError:
                            res.status = "dead"
                            result.outcome = "kernel_died"
                            result.reason = f"the kernel died while running cell {i}"
                            break
                        budget = _take_outputs(nb.cells[i], res, budget)
                        if budget < self.max_output_bytes - self.output_stop_bytes:
                            res.status = "output_limit"
                            result.outcome = "output_limit"
                            result.reason = (
                                f"cell {i} took the output above {self.output_stop_bytes} bytes"
                            )
                            break
            except DeadKernelError:
                if result.outcome == "completed":
                    result.outcome, result.reason = "kernel_died", "the kernel died"
            except RuntimeError as e:  # kernel failed to start
                result.outcome, result.reason = "startup_failed", str(e)
        result.output_bytes = self.max_output_bytes - max(budget, 0)
        result.seconds = time.monotonic() - started
        return result


def _take_outputs(cell, res, budget):
    """Copy the cell's outputs into ``res``, cutting text at the output budget (as the sandbox)."""
    for out in cell.get("outputs", []):
        out = dict(out)
        if out["output_type"] == "stream":
            text = out["text"]
            if len(text) > max(budget, 0):
                out["text"] = text[: max(budget, 0)] + TRUNCATED
                res.truncated = True
            budget -= len(text)
        elif "data" in out:
            text = out["data"].get("text/plain", "")
            keep = max(budget, 1000 if out["output_type"] == "execute_result" else 0)
            if len(text) > keep:
                out["data"] = {**out["data"], "text/plain": text[:keep] + TRUNCATED}
                res.truncated = True
            budget -= sum(len(str(v)) for v in out["data"].values())
        elif out["output_type"] == "error":
            budget -= len(out.get("evalue", ""))
        res.outputs.append(out)
    return budget


def _stage(workdir, files):
    if not files:
        return
    for name, source in files.items():
        rel = Path(name)
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError(f"workdir file name must be relative, not {name!r}")
        dest = workdir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, bytes):
            dest.write_bytes(source)
        elif Path(source).is_dir():
            shutil.copytree(source, dest)
        else:
            shutil.copyfile(source, dest)


def default_executor(*, sandbox=None, fork=True, **config):
    """Return the sandbox executor, or the local one only when asked for by name.

    Parameters
    ----------
    sandbox : bool, optional
        True or None (the default): the sandbox, or :class:`SandboxUnavailable`
        when it cannot run here -- never a silent fallback to running learners'
        code unconfined. False: the :class:`LocalExecutor` (development only).
    fork : bool
        Sandbox only: fork kernels from grading zygotes (see :class:`SandboxExecutor`).
    **config
        Timeouts, caps (``cell_timeout``, ``notebook_timeout``, ``max_output_bytes``)
        and, for the sandbox, its other traits.

    Raises
    ------
    SandboxUnavailable
        The sandbox is wanted and cannot run; the message says why.
    """
    if sandbox is False:
        return LocalExecutor(**config)
    why = sandbox_unavailable_reason()
    if why:
        raise SandboxUnavailable(
            f"the grading sandbox cannot run here: {why}. Run grading as root on a "
            "machine with cgroup v1, or ask for grading without the sandbox by name "
            '(ai4scale grade --no-sandbox; [course] sandbox = "none"): learners\' code '
            "then runs unconfined, as this account. For development only."
        )
    return SandboxExecutor(fork=fork, **config)
