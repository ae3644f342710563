"""Spawn latency and memory of the local profile; prints figures.

Starts a real hub (as root) with 10 roster learners, then measures

- spawn latency (POST /users/NAME/server -> ready) for one learner at a time
  (``--rounds`` times) and for 10 learners at once, p50 and p95;
- resident memory (RSS) of the hub, the proxy, each single-user server, and a
  kernel after ``import pandas, sklearn, fairlearn, shap``;
- the number of concurrent learners that fit in the machine's memory.

Usage: sudo /opt/ai4scale/venv/bin/python benchmarks/spawn.py [--learners 10] [--rounds 5]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # also under python -P
import hubtest  # noqa: E402
from _hubprocs import proxy_pid  # noqa: E402

PREFIX = "ai4b-"
CGROUP_PARENT = "ai4scale-bench"
LAB_IMPORTS = "import pandas, sklearn, fairlearn, shap, matplotlib, pyarrow, ai4scale"


def pct(values, q):
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(q / 100 * (len(values) - 1))))
    return values[k]


def timed_spawn(hub, name):
    t0 = time.monotonic()
    hubtest.spawn(hub, name, timeout=300)
    return time.monotonic() - t0


def rss_mb(pid, *, children=False):
    proc = psutil.Process(pid)
    total = proc.memory_info().rss
    if children:
        total += sum(c.memory_info().rss for c in proc.children(recursive=True))
    return total / 2**20


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--memory", default="2G", help="per-server memory limit")
    args = ap.parse_args()

    names = [f"bench{i:02d}" for i in range(args.learners)]
    roster = {n: ("learner", "", f"bench-pass-{n}") for n in names}
    state = Path(tempfile.mkdtemp(prefix="ai4scale-bench-"))
    settings_file, settings = hubtest.write_settings(
        state, user_prefix=PREFIX, cgroup_parent=CGROUP_PARENT, memory=args.memory, culler_timeout=0
    )
    from ai4scale.hub.accounts import AccountStore
    from ai4scale.hub.installer import install_steps
    from ai4scale.hub.roster import read_roster

    for step in install_steps(demo=False, datasets=False):
        step(settings)
    store = AccountStore.from_settings(settings)
    store.import_roster(read_roster(hubtest.write_roster(state / "roster.csv", roster)))
    for n in names:
        store.set_password(n, roster[n][2])
    hub = hubtest.start_hub(settings, settings_file)
    try:
        # warm-up: first spawn creates the system user
        single = []
        for i in range(args.rounds + 1):
            t = timed_spawn(hub, names[0])
            hubtest.stop(hub, names[0])
            if i:
                single.append(t)
        for n in names[1:]:  # create the others' accounts before the concurrent round
            timed_spawn(hub, n)
            hubtest.stop(hub, n)
        with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
            concurrent_times = list(pool.map(lambda n: timed_spawn(hub, n), names))

        hub_rss = rss_mb(hub.proc.pid)
        ppid = proxy_pid(hub)
        proxy_rss = rss_mb(ppid) if ppid else None  # not found: reported as n/a
        server_rss = [rss_mb(hubtest.server_pid(n)) for n in names]
        server_cpu = [sum(psutil.Process(hubtest.server_pid(n)).cpu_times()[:2]) for n in names]

        # a kernel after the lab imports, in the first learner's server
        session, _ = hubtest.login(hub, names[0], roster[names[0]][2])
        token = hubtest.user_token(session, hub, names[0])
        kernel = hubtest.Kernel(hub, names[0], token)
        out = kernel.execute(LAB_IMPORTS + "\nimport os; print(os.getpid())", timeout=300)
        kernel_rss = rss_mb(int(out["stdout"].split()[-1]))
        kernel.shutdown()

        total = psutil.virtual_memory().total / 2**20
        reserve = 2048  # OS, page cache headroom
        per_learner = statistics.median(server_rss) + kernel_rss
        fit = int((total - reserve - hub_rss - (proxy_rss or 0)) // per_learner)

        print(
            f"spawn latency, 1 learner at a time ({len(single)} runs): "
            f"p50 {pct(single, 50):.2f} s, p95 {pct(single, 95):.2f} s"
        )
        print(
            f"spawn latency, {len(names)} learners at once: "
            f"p50 {pct(concurrent_times, 50):.2f} s, p95 {pct(concurrent_times, 95):.2f} s, "
            f"max {max(concurrent_times):.2f} s"
        )
        proxy_text = f"{proxy_rss:.0f} MiB" if proxy_rss is not None else "n/a (not found)"
        print(f"RSS hub {hub_rss:.0f} MiB, proxy {proxy_text}")
        print(
            f"RSS single-user server: median {statistics.median(server_rss):.0f} MiB "
            f"(min {min(server_rss):.0f}, max {max(server_rss):.0f})"
        )
        print(
            f"CPU time to start one server: median {statistics.median(server_cpu):.1f} s "
            f"({psutil.cpu_count()} cores for {len(names)} servers)"
        )
        print(f"RSS kernel after lab imports: {kernel_rss:.0f} MiB")
        print(f"per active learner (server + one kernel): {per_learner:.0f} MiB")
        print(
            f"projected concurrent learners in {total / 1024:.1f} GiB "
            f"(minus {reserve} MiB reserve, hub{', proxy' if proxy_rss is not None else ''}): {fit}"
        )
    finally:
        hubtest.stop_hub(hub)
        hubtest.remove_accounts(PREFIX, CGROUP_PARENT)


if __name__ == "__main__":
    main()
