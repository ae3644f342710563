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

``--profile docker`` measures the docker profile (each server a container of
the single-user image, on the host network) and, in the same run on the same
machine, the local profile, for comparison; memory per learner is then also
measured with a notebook open whose kernel imported the lab libraries
(``--kernels`` learners).

Usage (as root)::

    /opt/ai4scale/venv/bin/python benchmarks/spawn.py [--learners 30] [--rounds 5] [--no-fork]
    /opt/ai4scale/venv/bin/python benchmarks/spawn.py --profile docker [--learners 20]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import statistics
import sys
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also under python -P
from _learners import (  # noqa: E402
    PREFIX,
    bench_hub,
    cgroup_pids,
    container_pids,
    hubtest,
    open_notebook,
    pct,
    pss_mib,
    spawn_request,
)

IMPORTS = "import pandas, sklearn, fairlearn, shap, matplotlib\nprint('ready')"


def server_pids(profile, name):
    """Every process of learner ``name``'s server (and kernels)."""
    if profile == "docker":
        return container_pids(name)
    return cgroup_pids(f"{PREFIX}{name}")


def measure(profile, args):
    """Return the figures of one profile as a dict."""
    fork = not args.no_fork
    with bench_hub(
        args.learners, fork=fork, memory=args.memory, profile=profile, image=args.image
    ) as (hub, names, tok):
        first = names[0]
        single = []
        for i in range(args.rounds + 1):  # the first round warms caches
            t = spawn_request(hub, first, tok[first])
            hubtest.stop(hub, first)
            if i:
                single.append(t)
        with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
            storm = list(pool.map(lambda n: spawn_request(hub, n, tok[n]), names))
        pss = [pss_mib(server_pids(profile, n)) for n in names]
        cpu = []
        for n in names:
            pids = server_pids(profile, n)
            total = 0.0
            for p in pids:
                try:
                    total += sum(psutil.Process(p).cpu_times()[:2])
                except psutil.Error:
                    pass
            cpu.append(total)
        with_kernel = []
        for n in names[: args.kernels]:
            kernel = open_notebook(hub, n, tok[n])
            out = kernel.execute(IMPORTS, timeout=300)
            assert "ready" in str(out), out
            with_kernel.append(pss_mib(server_pids(profile, n)))
    return {
        "single": single,
        "storm": storm,
        "pss": pss,
        "cpu": cpu,
        "with_kernel": with_kernel,
    }


def report(label, f):
    """Print one profile's figures."""
    s, st = f["single"], f["storm"]
    print(f"== {label}; {psutil.cpu_count()} cores")
    print(f"one learner at a time ({len(s)} runs): p50 {pct(s, 50):.2f} s, p95 {pct(s, 95):.2f} s")
    print(
        f"{len(st)} learners at once: p50 {pct(st, 50):.2f} s, p95 {pct(st, 95):.2f} s, "
        f"max {max(st):.2f} s"
    )
    print(f"CPU time to start one server: median {statistics.median(f['cpu']):.2f} s")
    print(
        f"PSS of one server: median {statistics.median(f['pss']):.0f} MiB "
        f"(min {min(f['pss']):.0f}, max {max(f['pss']):.0f})"
    )
    if f["with_kernel"]:
        print(
            f"PSS of one learner with a notebook open after the lab imports "
            f"({len(f['with_kernel'])} learners): median "
            f"{statistics.median(f['with_kernel']):.0f} MiB"
        )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", type=int, default=None, help="30 (local), 20 (docker)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--memory", default="2G", help="per-server memory limit")
    ap.add_argument("--no-fork", action="store_true", help="plain start (the baseline)")
    ap.add_argument("--profile", choices=["local", "docker"], default="local")
    ap.add_argument("--image", default="ai4scale/singleuser:latest", help="docker profile image")
    ap.add_argument(
        "--kernels", type=int, default=None, help="learners measured with a kernel (docker: 3)"
    )
    args = ap.parse_args()
    docker = args.profile == "docker"
    args.learners = args.learners or (20 if docker else 30)
    args.kernels = args.kernels if args.kernels is not None else (3 if docker else 0)
    local_mode = "plain start (new interpreter)" if args.no_fork else "forked from the fork server"

    if docker:
        d = measure("docker", args)
        loc = measure("local", args)
        report("docker profile: a container per learner (host network)", d)
        report(f"local profile, same run: {local_mode}", loc)
        one = pct(d["single"], 50) / pct(loc["single"], 50)
        storm = pct(d["storm"], 95) / pct(loc["storm"], 95)
        memory = statistics.median(d["pss"]) / statistics.median(loc["pss"])
        print(
            f"docker / local: one learner p50 {one:.1f}x, {args.learners} at once p95 "
            f"{storm:.1f}x, memory per server {memory:.1f}x"
        )
    else:
        report(f"mode: {local_mode}", measure("local", args))


if __name__ == "__main__":
    main()
