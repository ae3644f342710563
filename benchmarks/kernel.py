"""Warm kernels: from "open a notebook" to its first cell done; prints figures.

For one learner with a running server, ``--rounds`` times: open a new
notebook as JupyterLab does (``POST /api/sessions``, which starts a kernel),
connect, and run the first cell of a lab,
``import pandas, sklearn, fairlearn, shap, matplotlib``; the time is from the
POST to the cell's reply. Also prints the kernel's PSS after the cell.

``--no-fork`` measures plain kernels (a new interpreter each) for the
baseline; the default forks them from the kernel fork server.

Usage: sudo /opt/ai4scale/venv/bin/python benchmarks/kernel.py [--rounds 10] [--no-fork]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also under python -P
from _learners import bench_hub, new_session_id, open_notebook, pct, pss_mib, spawn_request  # noqa: E402

FIRST_CELL = "import pandas, sklearn, fairlearn, shap, matplotlib"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--no-fork", action="store_true", help="plain kernels (the baseline)")
    args = ap.parse_args()
    with bench_hub(1, fork=not args.no_fork) as (hub, names, tokens):
        name = names[0]
        spawn_request(hub, name, tokens[name])
        times, pss = [], []
        for i in range(args.rounds + 1):  # the first round warms caches
            t0 = time.monotonic()
            kernel = open_notebook(hub, name, tokens[name], path=f"bench-{new_session_id()}.ipynb")
            out = kernel.execute(FIRST_CELL + "\nimport os; print(os.getpid())", timeout=300)
            elapsed = time.monotonic() - t0
            assert out["status"] == "ok", out
            if i:
                times.append(elapsed)
                pss.append(pss_mib([int(out["stdout"].split()[-1])]))
            kernel.shutdown()
        mode = "plain kernels" if args.no_fork else "forked kernels"
        print(f"mode: {mode}; first cell: {FIRST_CELL}")
        print(
            f"open a notebook -> first cell done ({len(times)} runs): p50 {pct(times, 50):.2f} s, "
            f"p95 {pct(times, 95):.2f} s, min {min(times):.2f} s   (goal: <= 0.5 s)"
        )
        print(f"PSS of a kernel after the cell: median {statistics.median(pss):.0f} MiB")


if __name__ == "__main__":
    main()
