"""The load test (benchmarks/load.py) with two learners: every step succeeds, and it cleans up.

It starts its own hub, system users (``ai4l-*``) and cgroups
(``ai4scale-load``); afterwards none of them may be left. About 30 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.hub

ROOT = Path(__file__).resolve().parent.parent
STEPS = ["login", "spawn", "kernel-open", "import-cell", "fetch", "save", "submit"]


def test_load_two_learners_every_step_ok_and_nothing_left(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("the load test starts JupyterHub as root: run it as root (./sandbox test)")
    out = tmp_path / "load.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "load.py"), "--users", "2", "--ramp", "2"]
    proc = subprocess.run(
        [*cmd, "--timeout", "300", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]

    lines = {line.split()[0]: line for line in proc.stdout.splitlines() if line.startswith("  ")}
    for step in [*STEPS, "collect", "autograde"]:
        assert step in lines and "errors 0" in lines[step], proc.stdout
    for step in STEPS:
        assert "2/2" in lines[step] and "(100%)" in lines[step], lines[step]
    assert "2/2" in lines["graded"]

    data = json.loads(out.read_text())
    assert data["graded"] == 2
    assert all(s["errors"] == 0 and s["ok"] == s["expected"] for s in data["steps"].values())
    assert data["steps"]["autograde"]["ok"] >= 1
    # The hub's processes were found and measured.
    for name in ("hub", "proxy", "course"):
        assert data[name] is not None and data[name]["peak_rss_mib"] > 10, (name, data[name])
    assert data["machine"]["peak_used_mib"] > 0

    # Stopped by itself and cleaned up: no account, cgroup or process of the run is left.
    users = [line.split(":")[0] for line in Path("/etc/passwd").read_text().splitlines()]
    assert not [u for u in users if u.startswith("ai4l-")]
    for controller in ("memory", "cpu", "pids"):
        assert not (Path("/sys/fs/cgroup") / controller / "ai4scale-load").exists()
    ps = subprocess.run(["ps", "-eo", "user:32,args"], capture_output=True, text=True).stdout
    assert "ai4l-" not in ps
