"""Restart timeline: what a learner at work notices while the hub restarts; prints figures.

Starts a real hub as ``ai4scale up`` does (the proxy on its own, as root) with
``--learners`` learners, each with a server and a kernel. While the hub is
restarted (``--rounds`` times gracefully with SIGTERM, as a service manager
does, then as many times killed with SIGKILL and started again), four probes
run every 50 ms, as a learner's browser would:

- ``kernel``: run a cell over the learner's open websocket (JupyterLab's);
- ``files``: read a file through the server's contents API (saving, opening);
- ``hub page``: the hub's home page with the learner's login cookie;
- ``course``: the course service's page (``/services/course/``).

For each probe it prints the longest stretch without an answer per restart
(p50 and max over the rounds), and the hub's own restart time (SIGTERM or
SIGKILL to answering again).

Usage: sudo /opt/ai4scale/venv/bin/python benchmarks/restart.py [--learners 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import hubtest  # noqa: E402
from ai4scale.hub import daemons  # noqa: E402

PREFIX = "ai4rb-"
CGROUP_PARENT = "ai4scale-bench-restart"
INTERVAL = 0.05


class Probe(threading.Thread):
    """Calls ``check`` every 50 ms; records when it failed."""

    def __init__(self, name, check):
        super().__init__(daemon=True)
        self.name, self.check = name, check
        self.samples = []  # (time, ok)
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            t = time.monotonic()
            try:
                ok = bool(self.check())
            except Exception:  # noqa: BLE001 - any failure is "no answer"
                ok = False
            self.samples.append((t, ok))
            time.sleep(max(0.0, INTERVAL - (time.monotonic() - t)))

    def longest_gap(self, start, end):
        """Longest stretch of failures between ``start`` and ``end`` (seconds)."""
        longest, since = 0.0, None
        for t, ok in self.samples:
            if t < start or t > end:
                continue
            if not ok and since is None:
                since = t
            elif ok and since is not None:
                longest, since = max(longest, t - since), None
        if since is not None:
            longest = max(longest, end - since)
        return longest


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the hub creates system users and cgroups")

    names = [f"rb{i:02d}" for i in range(args.learners)]
    roster = {n: ("learner", "", f"bench-pass-{n}") for n in names}
    state = Path(tempfile.mkdtemp(prefix="ai4scale-bench-restart-"))
    settings_file, settings = hubtest.prepare_state(
        state, roster, user_prefix=PREFIX, cgroup_parent=CGROUP_PARENT
    )
    hub = hubtest.start_hub(settings, settings_file)
    probes = []
    results = {"graceful": [], "killed": []}
    try:
        sessions = {}
        for n in names:
            s, r = hubtest.login(hub, n, roster[n][2])
            token = hubtest.user_token(s, hub, n)
            hubtest.spawn(hub, n, token=token)
            kernel = hubtest.Kernel(hub, n, token)
            kernel.execute(f"n = 0\nopen('work.txt', 'w').write('{n}')")
            sessions[n] = (s, token, kernel)
        s, token, kernel = sessions[names[0]]
        lock = threading.Lock()

        def kernel_ok():
            with lock:
                out = kernel.execute("n += 1\nprint(n)", timeout=5)
            return out["status"] == "ok"

        def files_ok():
            url = f"{hub.url}/user/{names[0]}/api/contents/work.txt"
            r = requests.get(url, headers={"Authorization": f"token {token}"}, timeout=2)
            return r.status_code == 200

        def hub_page_ok():
            return s.get(f"{hub.url}/hub/home", timeout=2, allow_redirects=False).status_code == 200

        def course_ok():
            r = requests.get(f"{hub.url}/services/course/", timeout=2, allow_redirects=False)
            return r.status_code in (200, 302)

        probes = [
            Probe("kernel", kernel_ok),
            Probe("files", files_ok),
            Probe("hub page", hub_page_ok),
            Probe("course", course_ok),
        ]
        for p in probes:
            p.start()
        time.sleep(2)
        for kind in ("graceful", "killed"):
            for _ in range(args.rounds):
                before = hub.log_text().count("JupyterHub is now running")
                start = time.monotonic()
                if kind == "graceful":
                    daemons.stop_hub(settings)
                else:
                    os.kill(hub.proc.pid, signal.SIGKILL)
                    hub.proc.wait(10)
                hub.proc = hubtest.start_hub(settings, settings_file).proc
                answered = time.monotonic() - start
                hubtest.wait_until(
                    lambda b=before: hub.log_text().count("JupyterHub is now running") > b,
                    timeout=60,
                )
                hubtest.wait_until(course_ok, timeout=60)
                time.sleep(2)
                end = time.monotonic()
                gaps = {p.name: p.longest_gap(start, end) for p in probes}
                results[kind].append((answered, gaps))
                print(
                    f"{kind:8s} restart: hub answered after {answered:4.1f} s; longest gap "
                    + ", ".join(f"{k} {v:.2f} s" for k, v in gaps.items()),
                    flush=True,
                )
        for p in probes:
            p.stopping.set()
        for p in probes:
            p.join(10)
        print()
        print(f"{'':10s}{'hub back':>12s}" + "".join(f"{p.name:>16s}" for p in probes))
        for kind, rows in results.items():
            for label, f in (("p50", statistics.median), ("max", max)):
                cells = [f([r[0] for r in rows])] + [
                    f([r[1][p.name] for r in rows]) for p in probes
                ]
                print(f"{kind[:8]:8s}{label:>4s}" + "".join(f"{c:14.2f} s" for c in cells))
        print("\n(longest stretch without an answer, probed every 50 ms, per restart)")
    finally:
        for p in probes:
            p.stopping.set()
        hubtest.stop_hub(hub)
        hubtest.remove_accounts(PREFIX, CGROUP_PARENT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
