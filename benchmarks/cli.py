"""Cold start of the ``ai4scale`` command: wall time per command; prints figures.

Runs each command ``--runs`` times (default 5) as its own process, the way
an administrator types it, and prints the minimum and median wall time
beside the target of issue 14 (``--version`` and ``--help`` in 0.2 s,
read-only commands in 0.5 s). The read-only commands read a settings file
of their own in a temporary folder, with a small roster imported so that
``users list`` opens a real account database.

Usage: sudo /opt/ai4scale/venv/bin/python benchmarks/cli.py [--runs 5] [--ai4scale PATH]
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

#: (label, arguments after ``ai4scale --config FILE``, target in seconds)
COMMANDS = [
    ("--version", ["--version"], 0.2),
    ("--help", ["--help"], 0.2),
    ("datasets list", ["datasets", "list"], 0.5),
    ("lab validate --help", ["lab", "validate", "--help"], 0.5),
    ("users list", ["users", "list"], 0.5),
]


def setup(root, ai4scale):
    """Write a settings file under ``root`` and import a 30-learner roster; return the file."""
    config = root / "ai4scale.toml"
    config.write_text(
        f'[paths]\nstate_dir = "{root / "state"}"\ndatasets_dir = "{root / "datasets"}"\n'
    )
    roster = root / "roster.csv"
    roster.write_text(
        "username,full_name,role,team\n"
        + "".join(f"learner{i:02d},Learner {i},learner,\n" for i in range(30))
    )
    subprocess.run(
        [ai4scale, "--config", str(config), "roster", "import", str(roster)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return config


def wall_times(cmd, runs):
    """Return the wall times of ``runs`` runs of ``cmd``; fail on a non-zero exit."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode:
            raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr}")
    return times


def main(argv=None):
    """Time every command of :data:`COMMANDS` and print min, median and target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per command (default 5)")
    parser.add_argument(
        "--ai4scale",
        default=str(Path(sys.executable).with_name("ai4scale")),
        help="the command to time (default: the one beside this Python)",
    )
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="ai4scale-bench-cli-"))
    try:
        config = setup(root, args.ai4scale)
        print(f"{args.ai4scale}, {args.runs} runs each")
        print(f"{'command':<22}{'min s':>8}{'median s':>10}{'target s':>10}  verdict")
        missed = []
        for label, extra, target in COMMANDS:
            times = wall_times([args.ai4scale, "--config", str(config), *extra], args.runs)
            median = statistics.median(times)
            verdict = "met" if median <= target else "MISSED"
            if median > target:
                missed.append(label)
            print(f"{label:<22}{min(times):>8.3f}{median:>10.3f}{target:>10.1f}  {verdict}")
        print("all targets met" if not missed else "missed: " + ", ".join(missed))
        return 1 if missed else 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
