"""Control groups (cgroup v1) that cap a learner server's memory, CPU and processes.

One group per server, named after its system account, under a parent
(``ai4scale``) in each of the ``memory``, ``cpu`` and ``pids`` hierarchies::

    /sys/fs/cgroup/memory/ai4scale/jupyter-alice/memory.limit_in_bytes
    /sys/fs/cgroup/cpu/ai4scale/jupyter-alice/cpu.cfs_quota_us
    /sys/fs/cgroup/pids/ai4scale/jupyter-alice/pids.max

Every process the server starts (kernels, terminals) stays in the group, so
the limits cover them all, and the kernel's OOM killer acts inside the group
when it is full. Only cgroup v1 is supported; on a unified (v2) hierarchy
:meth:`CGroup.available` says no, and the spawner starts servers without
limits (with a warning).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import signal
import time
from pathlib import Path

__all__ = ["CONTROLLERS", "CGroup", "CGroupError"]

log = logging.getLogger(__name__)

#: The v1 controllers a group is made of.
CONTROLLERS = ("memory", "cpu", "pids")

#: CFS scheduling period (µs); the quota is ``cores * period``.
CPU_PERIOD_US = 100_000

_VALID_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class CGroupError(OSError):
    """A cgroup could not be created, limited, joined or removed."""


def _check_name(kind, value):
    if not _VALID_NAME.match(value or "") or len(value) > 200:
        raise CGroupError(f"invalid cgroup {kind}: {value!r}")


class CGroup:
    """A cgroup v1 group in the memory, cpu and pids hierarchies.

    The constructor only names the group; :meth:`create` makes it.

    Parameters
    ----------
    name : str
        Group name (one path component, e.g. the system account).
    parent : str
        Parent group shared by all servers (one path component).
    root : str or Path
        Where the v1 hierarchies are mounted.

    Examples
    --------
    >>> cg = CGroup("jupyter-alice")  # doctest: +SKIP
    >>> cg.create()  # doctest: +SKIP
    >>> cg.set_limits(memory_bytes=2 * 1024**3, cpu_cores=1.0, max_pids=512)  # doctest: +SKIP
    """

    def __init__(self, name, *, parent="ai4scale", root="/sys/fs/cgroup"):
        _check_name("name", name)
        _check_name("parent", parent)
        self.name = name
        self.parent = parent
        self.root = Path(root)

    def __repr__(self):
        return f"CGroup({self.name!r}, parent={self.parent!r}, root={str(self.root)!r})"

    # -- where things are -------------------------------------------------

    @staticmethod
    def unavailable_reason(root="/sys/fs/cgroup"):
        """Say why cgroups cannot be used under ``root``, or return None.

        Parameters
        ----------
        root : str or Path
            Where the hierarchies are mounted.

        Returns
        -------
        str or None
            None when the memory, cpu and pids v1 controllers are mounted
            and writable; otherwise a short explanation.
        """
        root = Path(root)
        if (root / "cgroup.controllers").exists():
            return f"{root} is a cgroup v2 (unified) hierarchy; only cgroup v1 is supported"
        for ctrl in CONTROLLERS:
            path = root / ctrl
            if not (path / "cgroup.procs").exists():
                return f"the cgroup v1 {ctrl!r} controller is not mounted at {path}"
            if not os.access(path, os.W_OK):
                return f"{path} is not writable (the hub must run as root)"
        return None

    @classmethod
    def available(cls, root="/sys/fs/cgroup"):
        """Return whether cgroup v1 memory, cpu and pids can be used here.

        Parameters
        ----------
        root : str or Path
            Where the hierarchies are mounted.

        Returns
        -------
        bool
        """
        return cls.unavailable_reason(root) is None

    def path(self, controller):
        """Return the group's directory in ``controller``'s hierarchy."""
        return self.root / controller / self.parent / self.name

    def exists(self):
        """Return whether the group exists in any of the controllers."""
        return any(self.path(c).is_dir() for c in CONTROLLERS)

    def _write(self, controller, filename, value):
        file = self.path(controller) / filename
        try:
            with open(file, "w") as f:
                f.write(str(value))
        except OSError as e:
            raise CGroupError(e.errno, f"cannot write {value!r} to {file}: {e.strerror}") from e

    def _read(self, controller, filename):
        file = self.path(controller) / filename
        try:
            return file.read_text()
        except OSError as e:
            raise CGroupError(e.errno, f"cannot read {file}: {e.strerror}") from e

    # -- life cycle -------------------------------------------------------

    def create(self):
        """Create the group (and its parent) in every controller; idempotent.

        Raises
        ------
        CGroupError
            When cgroups are unavailable or a directory cannot be made.
        """
        reason = self.unavailable_reason(self.root)
        if reason:
            raise CGroupError(errno.ENOTSUP, reason)
        for ctrl in CONTROLLERS:
            try:
                self.path(ctrl).mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise CGroupError(e.errno, f"cannot create {self.path(ctrl)}: {e.strerror}") from e

    def set_limits(self, *, memory_bytes=None, cpu_cores=None, max_pids=None):
        """Set the limits that are given; None leaves a limit unchanged.

        Parameters
        ----------
        memory_bytes : int, optional
            Memory (RAM, and RAM + swap when swap accounting is on) of all
            processes together; the OOM killer acts above it.
        cpu_cores : float, optional
            CPU time, in cores (0.5 = half a core), as a CFS quota.
        max_pids : int, optional
            Processes and threads together.

        Raises
        ------
        CGroupError
            When a value is refused by the kernel (e.g. a memory limit below
            the current usage that cannot be reclaimed).
        """
        if memory_bytes is not None:
            self._set_memory(int(memory_bytes))
        if cpu_cores is not None:
            if cpu_cores <= 0:
                raise CGroupError(errno.EINVAL, f"cpu_cores must be positive, not {cpu_cores}")
            self._write("cpu", "cpu.cfs_period_us", CPU_PERIOD_US)
            self._write("cpu", "cpu.cfs_quota_us", max(1000, round(cpu_cores * CPU_PERIOD_US)))
        if max_pids is not None:
            self._write("pids", "pids.max", int(max_pids))

    def _set_memory(self, limit):
        memsw = self.path("memory") / "memory.memsw.limit_in_bytes"
        if not memsw.exists():
            self._write("memory", "memory.limit_in_bytes", limit)
            return
        # Without the memsw limit the group would swap instead of being
        # OOM-killed. memsw must stay >= the RAM limit, so order the writes.
        try:
            self._write("memory", "memory.limit_in_bytes", limit)
        except CGroupError as e:
            if e.errno != errno.EINVAL:
                raise
            self._write("memory", "memory.memsw.limit_in_bytes", limit)
            self._write("memory", "memory.limit_in_bytes", limit)
        self._write("memory", "memory.memsw.limit_in_bytes", limit)

    def add_pid(self, pid):
        """Move process ``pid`` (with its threads) into the group in every controller.

        Safe to call between ``fork`` and ``exec`` (``preexec_fn``).

        Raises
        ------
        CGroupError
        """
        for ctrl in CONTROLLERS:
            self._write(ctrl, "cgroup.procs", int(pid))

    def pids(self):
        """Return the process ids in the group (all controllers together), sorted.

        Returns
        -------
        list of int
            Empty when the group does not exist.
        """
        found = set()
        for ctrl in CONTROLLERS:
            try:
                text = (self.path(ctrl) / "cgroup.procs").read_text()
            except FileNotFoundError:
                continue
            found.update(int(line) for line in text.split())
        return sorted(found)

    def oom_kills(self):
        """Return how many processes the OOM killer killed in the group.

        Returns
        -------
        int
            The ``oom_kill`` count of ``memory.oom_control``; 0 when the
            kernel does not report it or the group does not exist.
        """
        try:
            text = (self.path("memory") / "memory.oom_control").read_text()
        except FileNotFoundError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def memory_limit(self):
        """Return the group's memory limit in bytes (None if the group is missing)."""
        try:
            return int((self.path("memory") / "memory.limit_in_bytes").read_text())
        except FileNotFoundError:
            return None

    def kill_all(self, sig=signal.SIGKILL, *, timeout=5.0):
        """Send ``sig`` to every process in the group.

        With SIGKILL (the default), keep killing until the group is empty
        (processes may fork meanwhile) or ``timeout`` seconds have passed.

        Parameters
        ----------
        sig : int
            Signal to send.
        timeout : float
            Seconds to wait for the group to empty (SIGKILL only).

        Returns
        -------
        list of int
            The process ids that were signalled.
        """
        signalled = []
        deadline = time.monotonic() + timeout
        while True:
            pids = self.pids()
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    continue
                if pid not in signalled:
                    signalled.append(pid)
            if sig != signal.SIGKILL or not pids or time.monotonic() > deadline:
                return signalled
            time.sleep(0.02)

    def remove(self, *, timeout=5.0):
        """Kill what is left in the group and delete it; idempotent.

        The parent group stays.

        Parameters
        ----------
        timeout : float
            Seconds to wait for killed processes to leave the group.

        Raises
        ------
        CGroupError
            When the group cannot be deleted (e.g. a process that does not die).
        """
        if not self.exists():
            return
        deadline = time.monotonic() + timeout
        self.kill_all(signal.SIGKILL, timeout=timeout)
        for ctrl in CONTROLLERS:
            path = self.path(ctrl)
            while True:
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    # EBUSY while dying processes are still accounted to the group.
                    if e.errno != errno.EBUSY or time.monotonic() > deadline:
                        raise CGroupError(
                            e.errno,
                            f"cannot remove {path}: {e.strerror} (processes: {self.pids()})",
                        ) from e
                    self.kill_all(signal.SIGKILL, timeout=0)
                    time.sleep(0.05)
