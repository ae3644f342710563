"""Real cgroup v1 groups: limits, joining, OOM kills, process caps, removal (root)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from ai4scale.hub.cgroups import CONTROLLERS, CGroup, CGroupError

PARENT = "ai4scale-test"
MiB = 1 << 20

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not CGroup.available(),
    reason="needs root and cgroup v1 memory, cpu and pids controllers",
)


def _remove_parent(root="/sys/fs/cgroup"):
    for ctrl in CONTROLLERS:
        try:
            os.rmdir(f"{root}/{ctrl}/{PARENT}")
        except OSError:
            pass  # other tests' groups still in it, or already gone


@pytest.fixture
def make_group():
    """Return a factory of fresh groups under ``ai4scale-test``; remove them afterwards."""
    groups = []

    def make():
        group = CGroup(f"t-{uuid.uuid4().hex[:10]}", parent=PARENT)
        groups.append(group)
        group.create()
        return group

    yield make
    for group in groups:
        group.remove()
    _remove_parent()


def _read(group, controller, name):
    return (group.path(controller) / name).read_text().strip()


def _popen_in(group, cmd, **kwargs):
    """Start ``cmd`` inside ``group`` (it joins before exec, as the spawner does)."""
    return subprocess.Popen(cmd, preexec_fn=lambda: group.add_pid(os.getpid()), **kwargs)


def test_create_set_limits_remove(make_group):
    group = make_group()
    for ctrl in CONTROLLERS:
        assert group.path(ctrl).is_dir()
    group.set_limits(memory_bytes=200 * MiB, cpu_cores=0.5, max_pids=64)
    assert _read(group, "memory", "memory.limit_in_bytes") == str(200 * MiB)
    assert group.memory_limit() == 200 * MiB
    if (group.path("memory") / "memory.memsw.limit_in_bytes").exists():
        assert _read(group, "memory", "memory.memsw.limit_in_bytes") == str(200 * MiB)
    assert _read(group, "cpu", "cpu.cfs_period_us") == "100000"
    assert _read(group, "cpu", "cpu.cfs_quota_us") == "50000"
    assert _read(group, "pids", "pids.max") == "64"
    # Raising the limit afterwards works too (memsw must be raised first).
    group.set_limits(memory_bytes=400 * MiB)
    assert group.memory_limit() == 400 * MiB

    group.create()  # idempotent
    group.remove()
    assert not group.exists()
    for ctrl in CONTROLLERS:
        assert not group.path(ctrl).exists()
    group.remove()  # idempotent


def test_add_pid_joins_every_controller_and_kill_all(make_group):
    group = make_group()
    proc = subprocess.Popen(["sleep", "60"])
    try:
        group.add_pid(proc.pid)
        assert group.pids() == [proc.pid]
        lines = open(f"/proc/{proc.pid}/cgroup").read().splitlines()
        for ctrl in CONTROLLERS:
            assert any(
                ctrl in line.split(":")[1].split(",") and line.endswith(f"/{PARENT}/{group.name}")
                for line in lines
            ), (ctrl, lines)
        assert group.kill_all() == [proc.pid]
        assert proc.wait(timeout=5) == -signal.SIGKILL
        assert group.pids() == []
    finally:
        proc.kill()
        proc.wait()


def test_memory_bomb_is_oom_killed_and_counted(make_group):
    group = make_group()
    group.set_limits(memory_bytes=200 * MiB)
    assert group.oom_kills() == 0
    proc = _popen_in(
        group,
        [sys.executable, "-c", "x = b'x' * (1 << 30); print('survived')"],
        stdout=subprocess.PIPE,
    )
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert b"survived" not in out
    assert group.oom_kills() == 1


def test_pids_max_stops_forks_and_remove_kills_leftovers(make_group):
    group = make_group()
    group.set_limits(max_pids=10)
    code = (
        "import os, time\n"
        "n = 0\n"
        "try:\n"
        "    for _ in range(50):\n"
        "        if os.fork() == 0:\n"
        "            os.close(1)  # let the parent's reader see EOF\n"
        "            time.sleep(120)\n"
        "            os._exit(0)\n"
        "        n += 1\n"
        "except BlockingIOError:\n"
        "    print('EAGAIN', n)\n"
    )
    proc = _popen_in(group, [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate(timeout=60)
    word, forked = out.split()
    assert word == "EAGAIN"
    assert int(forked) == 9  # the parent plus 9 children make 10
    leftovers = group.pids()
    assert len(leftovers) == 9  # the sleeping children outlive their parent

    group.remove()
    assert not group.exists()
    for pid in leftovers:
        assert (
            not os.path.exists(f"/proc/{pid}") or "State:\tZ" in open(f"/proc/{pid}/status").read()
        )


def test_cpu_quota_caps_cpu_time(make_group):
    group = make_group()
    group.set_limits(cpu_cores=0.2)
    code = (
        "import time\n"
        "end = time.monotonic() + 1.5\n"
        "while time.monotonic() < end:\n"
        "    pass\n"
        "print(time.process_time())\n"
    )
    proc = _popen_in(group, [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate(timeout=60)
    # 0.2 cores for 1.5 s is 0.3 s of CPU (plus start-up); unlimited would be ~1.5 s.
    assert float(out) < 0.6


def test_kill_all_with_other_signal_does_not_wait(make_group):
    group = make_group()
    proc = _popen_in(group, ["sleep", "60"])
    try:
        time.sleep(0.1)
        assert group.kill_all(signal.SIGTERM) == [proc.pid]
        assert proc.wait(timeout=5) == -signal.SIGTERM
    finally:
        proc.kill()
        proc.wait()


def test_unavailable_hierarchies_are_explained(tmp_path):
    assert "not mounted" in CGroup.unavailable_reason(tmp_path)
    assert not CGroup.available(tmp_path)
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    assert "v2" in CGroup.unavailable_reason(tmp_path)
    with pytest.raises(CGroupError, match="v2"):
        CGroup("x", parent=PARENT, root=tmp_path).create()


def test_missing_group_reads_as_empty():
    group = CGroup(f"t-missing-{uuid.uuid4().hex[:8]}", parent=PARENT)
    assert not group.exists()
    assert group.pids() == []
    assert group.oom_kills() == 0
    assert group.memory_limit() is None
    with pytest.raises(CGroupError, match="cannot write"):
        group.set_limits(max_pids=5)


@pytest.mark.parametrize("name", ["", "..", "a/b", "-x", "x y"])
def test_invalid_names_are_refused(name):
    with pytest.raises(CGroupError, match="invalid cgroup name"):
        CGroup(name)
