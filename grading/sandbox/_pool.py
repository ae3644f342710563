"""Kernels ready ahead: pre-started kernels handed out once, or zygotes that fork them."""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor

__all__ = ["KernelPool", "ZygotePool"]


class KernelPool:
    """Keep ``size`` fresh sandboxed kernels started, with the lab's imports done.

    Background threads start kernels with :meth:`Sandbox.start` (``preload``
    run, namespace reset); :meth:`take` hands each one out exactly once and
    starts a replacement. Kernels are never reused: the caller executes one
    notebook in the kernel it took and closes it. :meth:`shutdown` closes
    the kernels nobody took.

    Parameters
    ----------
    sandbox : Sandbox
        Starts the kernels (its limits and timeouts apply).
    size : int
        Kernels kept ready (or starting).
    preload : str, optional
        Trusted code run in each kernel at start (see :meth:`Sandbox.start`).
    limit : int, optional
        Kernels to start in all (the runs expected); once reached, nothing is
        started ahead and :meth:`take` starts a kernel itself if none is left.
    workdir_files, env : optional
        As for :meth:`Sandbox.run`; the same for every kernel of the pool.

    Examples
    --------
    >>> with KernelPool(Sandbox(), size=2, preload="import pandas") as pool:  # doctest: +SKIP
    ...     kernel = pool.take()
    ...     try:
    ...         result = kernel.execute(nb)
    ...     finally:
    ...         kernel.close()
    """

    def __init__(self, sandbox, *, size, preload=None, limit=None, workdir_files=None, env=None):
        self.sandbox = sandbox
        self.size = size
        self.limit = limit
        self.preload = preload
        self.workdir_files = workdir_files
        self.env = env
        self._ready = queue.Queue()
        self._lock = threading.Lock()
        self._starter = None
        self._closed = False
        self._launched = 0  # kernels started or starting, in all
        self._taken = 0  # of those, claimed by take()

    def start(self):
        """Begin starting ``size`` kernels in the background (idempotent)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the kernel pool is shut down")
            if self._starter is not None:
                return
            self._starter = ThreadPoolExecutor(
                max_workers=max(self.size, 1), thread_name_prefix="ai4scale-kernel-pool"
            )
            for _ in range(max(self.size, 1)):
                self._submit()

    def _submit(self):
        """Start one more kernel in the background unless the limit is reached (locked)."""
        if self.limit is not None and self._launched >= self.limit:
            return False
        self._launched += 1
        self._starter.submit(self._start_one)
        return True

    def _start_now(self):
        return self.sandbox.start(
            workdir_files=self.workdir_files, env=self.env, preload=self.preload
        )

    def _start_one(self):
        try:
            kernel = self._start_now()
        except Exception as e:  # handed to the taker: its run is an error
            self._ready.put(e)
            return
        with self._lock:
            closed = self._closed
        if closed:
            kernel.close()
        else:
            self._ready.put(kernel)

    def take(self, timeout=None):
        """Return a started kernel nobody else gets; start a replacement.

        A kernel that died while waiting is closed and replaced. The caller
        must :meth:`~SandboxKernel.close` the kernel it got.

        Raises
        ------
        RuntimeError
            When the pool is shut down.
        Exception
            What starting the kernel raised (not a start-up failure of the
            kernel itself: its ``execute`` reports that).
        """
        self.start()
        while True:
            with self._lock:
                # Past the limit with nothing ready or starting: start one here.
                exhausted = (
                    self.limit is not None
                    and self._launched >= self.limit
                    and self._ready.empty()
                    and self._taken >= self._launched
                )
                if not exhausted:
                    self._taken += 1
            if exhausted:
                return self._start_now()
            item = self._ready.get(timeout=timeout)
            with self._lock:
                if self._closed:
                    if not isinstance(item, Exception):
                        item.close()
                    raise RuntimeError("the kernel pool is shut down")
                self._submit()
            if isinstance(item, Exception):
                raise item
            if item.failed is None and not item.alive():
                item.close()  # died idle (e.g. killed from outside): take another
                continue
            return item

    def shutdown(self):
        """Stop starting kernels and close every kernel not taken (idempotent)."""
        with self._lock:
            self._closed = True
            starter = self._starter
        if starter is not None:
            starter.shutdown(wait=True, cancel_futures=True)
        while True:
            try:
                item = self._ready.get_nowait()
            except queue.Empty:
                return
            if not isinstance(item, Exception):
                item.close()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()


class ZygotePool:
    """One grading :class:`Zygote` per worker: imports once, a fresh forked kernel per run.

    :meth:`run` takes an idle zygote (waiting for one), executes the notebook
    in a kernel forked from it and gives the zygote back, so that each zygote
    serves one run at a time. Zygotes start in the background at
    :meth:`start`. A zygote that died is replaced (at most ``restarts`` times
    in all); a worker whose zygote cannot be started runs its notebooks in
    fresh kernels (:meth:`Sandbox.run`), as does a run whose zygote died
    under it.

    Parameters
    ----------
    sandbox : Sandbox
        Limits, timeouts and grading account of every run.
    size : int
        Zygotes (workers).
    preload : str
        The lab's import lines (trusted), run once per zygote.
    restarts : int, optional
        Replacements of dead zygotes in all (default: ``size``).

    Examples
    --------
    >>> with ZygotePool(Sandbox(), size=2, preload="import pandas") as pool:  # doctest: +SKIP
    ...     result = pool.run(nb)
    """

    def __init__(self, sandbox, *, size, preload, restarts=None):
        self.sandbox = sandbox
        self.size = max(size, 1)
        self.preload = preload
        self.restarts = self.size if restarts is None else restarts
        self._idle = queue.Queue()  # Zygote, or None: this worker uses fresh kernels
        self._zygotes = []
        self._lock = threading.Lock()
        self._starter = None
        self._closed = False

    def start(self):
        """Begin starting the zygotes in the background (idempotent)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the zygote pool is shut down")
            if self._starter is not None:
                return
            self._starter = ThreadPoolExecutor(
                max_workers=self.size, thread_name_prefix="ai4scale-zygote-start"
            )
            for _ in range(self.size):
                self._starter.submit(lambda: self._idle.put(self._new_zygote()))

    def _new_zygote(self):
        """Start a zygote; None when it cannot start (logged)."""
        from ._zygote import Zygote

        zygote = Zygote(self.sandbox, preload=self.preload)
        try:
            zygote.start()
        except Exception as e:
            self.sandbox.log.warning("grading zygote did not start (%s): fresh kernels instead", e)
            return None
        with self._lock:
            if self._closed:
                zygote.close()
                return None
            self._zygotes.append(zygote)
        return zygote

    def _replace(self, zygote):
        zygote.close()
        with self._lock:
            if self._closed or self.restarts <= 0:
                return None
            self.restarts -= 1
        self.sandbox.log.warning("grading zygote died: starting another")
        return self._new_zygote()

    def run(self, nb, *, workdir_files=None, env=None, timeout=None):
        """Execute ``nb`` in a fresh kernel forked from an idle zygote; return the ``RunResult``.

        Parameters
        ----------
        nb : nbformat.NotebookNode or str or Path
        workdir_files, env
            As for :meth:`Sandbox.run`.
        timeout : float, optional
            Seconds to wait for an idle zygote (``queue.Empty`` after).
        """
        self.start()
        waited = time.monotonic()
        zygote = self._idle.get(timeout=timeout)
        waited = time.monotonic() - waited
        try:
            if zygote is not None and not zygote.alive():
                zygote = self._replace(zygote)
            if zygote is None:
                result = self.sandbox.run(nb, workdir_files=workdir_files, env=env)
            else:
                result = zygote.run(nb, workdir_files=workdir_files, env=env)
        finally:
            self._idle.put(zygote)
        result.timings["queue"] = waited
        return result

    def shutdown(self):
        """Stop starting zygotes and close them all (idempotent)."""
        with self._lock:
            self._closed = True
            starter = self._starter
        if starter is not None:
            starter.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            zygotes, self._zygotes = self._zygotes, []
        # At once: each waits for its zygote (and the namespaces it is pid 1 of) to end.
        closers = [threading.Thread(target=z.close, name="ai4scale-zygote-close") for z in zygotes]
        for closer in closers:
            closer.start()
        for closer in closers:
            closer.join()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
