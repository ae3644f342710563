"""Spawn storm: a whole class signs in at once; prints figures.

Starts a real hub (as root) with ``--learners`` roster learners whose system
accounts exist (as after their first sign-in), then measures, from the
spawn POST to the server being ready:

- one learner at a time (``--rounds`` times), p50 and p95;
- all learners at once (the 9:00 storm), p50, p95 and max;
- the CPU time one server took to start, and its proportional set size
  (PSS: shared library pages divided among the processes sharing them).

``--no-fork`` measures JupyterHub's plain start (a new interpreter per
server) for the baseline; the default forks servers from the fork server.

Usage (as root)::

    /opt/ai4scale/venv/bin/python benchmarks/spawn.py [--learners 30] [--rounds 5] [--no-fork]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import statistics
import sys
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also under python -P
from _learners import bench_hub, hubtest, pct, pss_mib, spawn_request  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--memory", default="2G", help="per-server memory limit")
    ap.add_argument("--no-fork", action="store_true", help="plain start (the baseline)")
    args = ap.parse_args()
    mode = "plain start (new interpreter)" if args.no_fork else "forked from the fork server"

    with bench_hub(args.learners, fork=not args.no_fork, memory=args.memory) as (hub, names, tok):
        first = names[0]
        single = []
        for i in range(args.rounds + 1):  # the first round warms caches (and the fork server)
            t = spawn_request(hub, first, tok[first])
            hubtest.stop(hub, first)
            if i:
                single.append(t)
        with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
            storm = list(pool.map(lambda n: spawn_request(hub, n, tok[n]), names))
        pids = [hubtest.server_pid(n) for n in names]
        cpu = [sum(psutil.Process(p).cpu_times()[:2]) for p in pids]
        pss = [pss_mib([p]) for p in pids]

        print(f"mode: {mode}; {psutil.cpu_count()} cores")
        print(
            f"one learner at a time ({len(single)} runs): "
            f"p50 {pct(single, 50):.2f} s, p95 {pct(single, 95):.2f} s   (goal: <= 1.5 s)"
        )
        print(
            f"{len(names)} learners at once: p50 {pct(storm, 50):.2f} s, "
            f"p95 {pct(storm, 95):.2f} s, max {max(storm):.2f} s   (goal: p95 <= 10 s)"
        )
        print(f"CPU time to start one server: median {statistics.median(cpu):.2f} s")
        print(
            f"PSS of one server: median {statistics.median(pss):.0f} MiB "
            f"(min {min(pss):.0f}, max {max(pss):.0f})"
        )


if __name__ == "__main__":
    main()
