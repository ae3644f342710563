"""The processes of a benchmark's hub (hub, proxy, course service) and their resource use.

Index:
- :func:`proxy_pid` / :func:`course_pid` -- find this hub's proxy and course service.
- :class:`ProcessMonitor` -- sample their CPU time and peak memory while a benchmark runs.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psutil


def _cmdline(proc):
    try:
        return proc.cmdline()
    except psutil.Error:
        return []


def _alive(pid):
    try:
        return pid if psutil.Process(pid).is_running() else None
    except (psutil.Error, ValueError):
        return None


def proxy_pid(hub):
    """Return the pid of ``hub``'s proxy, or None when it cannot be found.

    The proxy may run as the hub's child or as its own process: its pid file
    (``<state_dir>/jupyterhub-proxy.pid``) is read first, then the hub's
    children are searched, then every process started with this hub's proxy
    API port.
    """
    pid_file = Path(hub.settings["paths"]["state_dir"]) / "jupyterhub-proxy.pid"
    try:
        pid = _alive(int(pid_file.read_text().split()[0]))
    except (OSError, ValueError, IndexError):
        pid = None
    if pid:
        return pid
    port = str(hub.settings["hub"]["proxy_api_port"])

    def is_proxy(args):
        return any("_proxy" in a or "configurable-http-proxy" in a for a in args)

    try:
        children = psutil.Process(hub.proc.pid).children(recursive=True)
    except psutil.Error:
        children = []
    for child in children:
        if is_proxy(_cmdline(child)):
            return child.pid
    for proc in psutil.process_iter():
        args = _cmdline(proc)
        if is_proxy(args) and any(port in a for a in args):
            return proc.pid
    return None


def course_pid(hub):
    """Return the pid of ``hub``'s course service (started with its settings file), or None."""
    settings_file = str(hub.settings_file)
    for proc in psutil.process_iter():
        args = _cmdline(proc)
        if "ai4scale.hub.course" in args and settings_file in args:
            return proc.pid
    return None


class ProcessMonitor:
    """Sample named processes' CPU time and resident memory, and the machine's used memory.

    Call :meth:`start` before the work and :meth:`stop` after it; then
    :meth:`figures` gives, per name, CPU seconds used during the run, that
    as a percentage of one core over the wall time, and the peak RSS; and
    the machine's peak used memory (total minus available).
    """

    def __init__(self, pids, *, interval=0.5):
        self.procs = {}
        for name, pid in pids.items():
            try:
                self.procs[name] = psutil.Process(pid) if pid else None
            except psutil.Error:
                self.procs[name] = None
        self.interval = interval
        self.cpu0, self.cpu1, self.peak_rss = {}, {}, {}
        self.peak_used = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @staticmethod
    def _cpu(proc):
        t = proc.cpu_times()
        return t.user + t.system

    def _sample(self):
        vm = psutil.virtual_memory()
        self.peak_used = max(self.peak_used, vm.total - vm.available)
        for name, proc in self.procs.items():
            if proc is None:
                continue
            try:
                with proc.oneshot():
                    self.cpu1[name] = self._cpu(proc)
                    self.peak_rss[name] = max(self.peak_rss.get(name, 0), proc.memory_info().rss)
            except psutil.Error:
                continue  # gone: keep its last sample

    def _loop(self):
        while not self._stop.wait(self.interval):
            self._sample()

    def start(self):
        """Take the first sample and start sampling in a thread."""
        self.t0 = time.monotonic()
        for name, proc in self.procs.items():
            try:
                self.cpu0[name] = self._cpu(proc) if proc else None
            except psutil.Error:
                self.cpu0[name] = None
        self._sample()
        self._thread.start()

    def stop(self):
        """Take the last sample and stop sampling."""
        self._sample()
        self._stop.set()
        self._thread.join()
        self.wall = time.monotonic() - self.t0

    def figures(self):
        """Return ``{name: {cpu_s, cpu_pct, peak_rss_mib} or None, ..., "machine": {...}}``."""
        out = {}
        for name in self.procs:
            if self.cpu0.get(name) is None or name not in self.cpu1:
                out[name] = None
                continue
            cpu = self.cpu1[name] - self.cpu0[name]
            out[name] = {
                "cpu_s": round(cpu, 1),
                "cpu_pct": round(100 * cpu / self.wall, 1) if self.wall else 0.0,
                "peak_rss_mib": round(self.peak_rss[name] / 2**20),
            }
        vm = psutil.virtual_memory()
        out["machine"] = {
            "peak_used_mib": round(self.peak_used / 2**20),
            "total_mib": round(vm.total / 2**20),
            "wall_s": round(self.wall, 1),
        }
        return out
