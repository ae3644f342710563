"""Density: how many active learners fit in this machine's memory; prints figures.

Starts a real hub (as root) with ``--learners`` learners (default 40), all
active at once: each has a server and one notebook whose kernel ran the cells
of a lab once (the lab imports, a data frame, a model, a fairness metric, a
shap explanation, a plot). Then counts memory by proportional set size (PSS,
``psutil.Process.memory_full_info().pss``: pages shared by k processes count
1/k to each), not RSS, which counts shared library pages once per process:

- per learner: everything in the learner's cgroup (server and kernel);
- overhead: the hub, the proxy, the course service and the fork servers;

and extrapolates the learners that fit in the machine's memory, minus a
2 GiB reserve for the system and page cache.

``--no-fork`` measures plain servers and kernels for the baseline.

Usage (as root)::

    /opt/ai4scale/venv/bin/python benchmarks/density.py [--learners 40] [--no-fork]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import statistics
import sys
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also under python -P
from _hubprocs import course_pid, proxy_pid  # noqa: E402
from _learners import (  # noqa: E402
    PREFIX,
    bench_hub,
    cgroup_pss_mib,
    open_notebook,
    pss_mib,
    spawn_request,
)

LAB_CELLS = [
    "import pandas as pd, numpy as np, sklearn, fairlearn, shap\nimport matplotlib.pyplot as plt",
    "rng = np.random.default_rng(0)\nn = 5000\n"
    "df = pd.DataFrame({'age': rng.integers(18, 80, n), 'income': rng.normal(30000, 8000, n),"
    " 'group': rng.choice(['a', 'b'], n)})\n"
    "df['y'] = (df.income + rng.normal(0, 5000, n) > 30000).astype(int)",
    "from sklearn.linear_model import LogisticRegression\n"
    "X = pd.get_dummies(df[['age', 'income', 'group']], dtype=float)\n"
    "model = LogisticRegression(max_iter=500).fit(X, df.y)",
    "from fairlearn.metrics import MetricFrame, selection_rate\n"
    "mf = MetricFrame(metrics=selection_rate, y_true=df.y, y_pred=model.predict(X),"
    " sensitive_features=df.group)\nprint(mf.by_group)",
    "explainer = shap.Explainer(model, X.iloc[:100])\nprint(explainer(X.iloc[:200]).values.shape)",
    "fig, ax = plt.subplots()\ndf.groupby('group').y.mean().plot.bar(ax=ax)\nplt.show()",
]


def activate(hub, name, token):
    """Start the learner's server, open a notebook and run the lab's cells once."""
    spawn_request(hub, name, token)
    kernel = open_notebook(hub, name, token, path="lab.ipynb")
    for cell in LAB_CELLS:
        out = kernel.execute(cell, timeout=600)
        if out["status"] != "ok":
            raise RuntimeError(f"{name}: cell failed: {out}")
    kernel.ws.close()  # the kernel keeps running, as when a browser tab stays open


def fork_server_pids():
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if "ai4scale.hub.forkserver" in cmd and any("ai4scale-bench" in a for a in cmd):
            found.append(proc.pid)
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", type=int, default=40)
    ap.add_argument("--workers", type=int, default=4, help="learners activated at once")
    ap.add_argument("--no-fork", action="store_true", help="plain servers and kernels")
    args = ap.parse_args()
    with bench_hub(args.learners, fork=not args.no_fork) as (hub, names, tokens):
        with concurrent.futures.ThreadPoolExecutor(args.workers) as pool:
            list(pool.map(lambda n: activate(hub, n, tokens[n]), names))
        per_learner = [cgroup_pss_mib(f"{PREFIX}{n}") for n in names]
        overhead = {
            "hub": pss_mib([hub.proc.pid]),
            "proxy": pss_mib([p for p in [proxy_pid(hub)] if p]),
            "course service": pss_mib([p for p in [course_pid(hub)] if p]),
            "fork servers": pss_mib(fork_server_pids()),
        }
        total = psutil.virtual_memory().total / 2**20
        reserve = 2048
        used = sum(per_learner) + sum(overhead.values())
        mean = statistics.mean(per_learner)
        fit = int((total - reserve - sum(overhead.values())) // mean)
        mode = "plain servers and kernels" if args.no_fork else "forked servers and kernels"
        print(f"mode: {mode}; {len(names)} active learners at once")
        print(
            f"PSS per learner (server + kernel after the lab's cells): mean {mean:.0f} MiB, "
            f"median {statistics.median(per_learner):.0f}, max {max(per_learner):.0f}"
        )
        print("overhead PSS: " + ", ".join(f"{k} {v:.0f} MiB" for k, v in overhead.items()))
        print(f"measured total PSS for {len(names)} learners: {used / 1024:.2f} GiB")
        print(
            f"learners that fit in {total / 1024:.1f} GiB (minus {reserve} MiB reserve and "
            f"the overhead): {fit}   (goal: >= 100)"
        )


if __name__ == "__main__":
    main()
