"""Grading zygotes: a fresh forked kernel per run, nothing shared between runs (root).

The sandbox's own tests (``test_grading_sandbox.py``) run every failure class
through a zygote too; these check what is particular to forking: consecutive
runs of one zygote do not see each other's state, the forked kernel is as
confined as a fresh one, one run's death leaves the zygote serving, and a
zygote that cannot serve is replaced or bypassed.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from ai4scale.grading.sandbox import (
    Sandbox,
    Zygote,
    ZygoteError,
    ZygotePool,
    ensure_grader_account,
    remove_grader_account,
)
from ai4scale.hub.cgroups import CONTROLLERS, CGroup
from nbformat.v4 import new_code_cell, new_notebook

_PREFIX = os.environ.get("AI4SCALE_TEST_USER_PREFIX", "ai4t-")
GRADER = f"{_PREFIX}zgrader"
CGROUP_PARENT = f"{os.environ.get('AI4SCALE_TEST_CGROUP_PARENT', 'ai4scale-test')}-zygote"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not CGroup.available(),
    reason="needs root and cgroup v1 memory, cpu and pids controllers",
)


def nb(*sources):
    """A notebook whose code cells are ``sources`` (strings) in order."""
    return new_notebook(cells=[new_code_cell(s) for s in sources])


@pytest.fixture(scope="module")
def grader():
    pw = ensure_grader_account(GRADER)
    yield pw
    remove_grader_account(GRADER)
    for ctrl in CONTROLLERS:
        try:
            os.rmdir(f"/sys/fs/cgroup/{ctrl}/{CGROUP_PARENT}")
        except OSError:
            pass


def _groups():
    return sorted(
        p.name
        for ctrl in CONTROLLERS
        for p in Path(f"/sys/fs/cgroup/{ctrl}/{CGROUP_PARENT}").glob("*-*")
        if p.name.startswith(("run-", "zygote-"))
    )


def _zygote_pids():
    out = subprocess.run(["pgrep", "-x", "ai4scale-zygote"], capture_output=True, text=True)
    return out.stdout.split()


@pytest.fixture
def box(grader):
    """A Sandbox with short limits; afterwards no run, group, process or zygote is left."""
    runs = Path(f"/srv/{_PREFIX}zygote-runs-{secrets.token_hex(4)}")
    before = set(_zygote_pids())  # zygotes of other sessions
    box = Sandbox(
        user=GRADER,
        runs_dir=str(runs),
        cgroup_parent=CGROUP_PARENT,
        cell_timeout=10,
        notebook_timeout=60,
        memory="300M",
        max_pids=64,
    )
    yield box
    try:
        left = sorted(p.name for p in runs.iterdir()) if runs.exists() else []
        procs = subprocess.run(["pgrep", "-u", str(grader.pw_uid)], capture_output=True, text=True)
        assert (left, _groups(), procs.stdout.split()) == ([], [], [])
        assert set(_zygote_pids()) <= before
    finally:
        shutil.rmtree(runs, ignore_errors=True)


@pytest.fixture
def zygote(box):
    with Zygote(box, preload="import json\nimport numpy as np\nimport pandas as pd") as z:
        yield z


FIRST = """\
import builtins, json, os, subprocess, sys, types
import pandas as pd
pd.DataFrame.mean = lambda self, *a, **k: 'patched'
json.load = lambda *a, **k: 'patched'
builtins.abs = lambda x: -1
sys.modules['leaked_module'] = types.ModuleType('leaked_module')
sys.path.insert(0, '/leaked-path')
os.environ['LEAKED'] = 'yes'
leaked_global = 'learner one'
for path in ('mine.txt', '/tmp/mine.txt', '/dev/shm/mine.txt', '/var/tmp/mine.txt'):
    open(path, 'w').write('learner one')
import ctypes
libc = ctypes.CDLL(None)
shm = libc.shmget(0x41345A59, 4096, 0o1666)  # System V shared memory, IPC_CREAT
print('shm', shm >= 0)
subprocess.Popen(['sleep', '600'], start_new_session=True)
print('patched', pd.DataFrame({'a': [1.0]}).mean())
"""

SECOND = """\
import builtins, ctypes, json, os, sys
import pandas as pd
print(pd.DataFrame({'a': [1.0, 3.0]}).mean()['a'], json.load.__name__, abs(-3))
print('leaked_module' in sys.modules, '/leaked-path' in sys.path, 'LEAKED' in os.environ,
      'leaked_global' in globals())
print([os.path.exists(p) for p in ('mine.txt', '/tmp/mine.txt', '/dev/shm/mine.txt',
                                   '/var/tmp/mine.txt')])
print('shm', ctypes.CDLL(None).shmget(0x41345A59, 4096, 0o666) >= 0)
print(sorted(p for p in os.listdir('/proc') if p.isdigit()))
"""


def test_consecutive_runs_do_not_see_each_other(zygote):
    first = zygote.run(nb(FIRST))
    assert first.forked and first.outcome == "completed", first.reason
    assert first.cells[0].text().split("\n")[:2] == ["shm True", "patched patched"]
    second = zygote.run(nb(SECOND))
    assert second.forked and second.outcome == "completed", second.reason
    lines = second.cells[0].text().splitlines()
    # The original pandas, json and builtins; no module, path, variable, global or file.
    assert lines[0] == "2.0 load 3"
    assert lines[1] == "False False False False"
    assert lines[2] == "[False, False, False, False]"
    assert lines[3] == "shm False"
    # Its own processes only: the first run's sleeper was killed, the zygote is not visible.
    assert lines[4] == "['1']"


def test_run_reports_its_phases_and_plain_tracebacks(zygote):
    result = zygote.run(nb("x = 1", "raise ValueError('boom')"))
    assert result.forked and result.outcome == "completed", result.reason
    phases = result.timings
    assert set(phases) >= {"setup", "fork", "kernel_start", "teardown"}
    assert all(0 <= v < result.seconds for v in phases.values()), phases
    cells = sum(c.seconds for c in result.cells)
    assert sum(phases.values()) + cells <= result.seconds
    # IPython's context traceback (formatted ahead in the zygote), without colour codes.
    tb = "\n".join(result.cells[1].traceback)
    assert "----> 1 raise ValueError('boom')" in tb and "\x1b[" not in tb, tb


def test_forked_kernel_is_the_grader_without_network_or_privileges(zygote, grader):
    server = __import__("socket").socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    try:
        result = zygote.run(
            nb(
                "import os, socket\n"
                "print(os.getresuid(), os.getresgid(), os.getgroups())\n"
                "lines = open('/proc/self/status').read().splitlines()\n"
                "status = dict(line.split(':', 1) for line in lines)\n"
                "print([status[k].strip() for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', "
                "'CapAmb', 'NoNewPrivs')])",
                "def attempt(f):\n"
                "    try:\n"
                "        f(); return 'allowed'\n"
                "    except OSError as e:\n"
                "        return type(e).__name__\n"
                f"print(attempt(lambda: socket.create_connection(('127.0.0.1', {port}), 2)),\n"
                "      attempt(lambda: socket.create_connection(('1.1.1.1', 53), 2)),\n"
                "      attempt(lambda: os.setuid(0)),\n"
                "      attempt(lambda: os.listdir('/root')),\n"
                "      attempt(lambda: open('/etc/shadow').read()))",
                "import sys\n"
                "print(os.getpid(), os.getppid(), sys.argv[0].endswith('ipykernel_launcher.py'))",
            )
        )
    finally:
        server.close()
    assert result.forked and result.outcome == "completed", result.reason
    uid, gid = grader.pw_uid, grader.pw_gid
    assert result.cells[0].text().splitlines() == [
        f"({uid}, {uid}, {uid}) ({gid}, {gid}, {gid}) [{gid}]",
        str(["0000000000000000"] * 5 + ["1"]),
    ]
    first, second, *rest = result.cells[1].text().split()
    assert first != "allowed" and second != "allowed" and rest == ["PermissionError"] * 3
    assert result.cells[2].text() == "1 0 True\n"


def test_memory_cap_kills_only_that_run(zygote, box):
    box.memory = "200M"
    hog = zygote.run(nb("import numpy as np", "x = np.ones(1 << 28)", "print('never')"))
    assert hog.forked and hog.outcome == "memory_limit", hog.reason
    assert hog.oom_kills >= 1 and [c.status for c in hog.cells] == ["ok", "dead", "not_run"]
    assert zygote.alive()
    after = zygote.run(nb("import numpy as np; print(np.ones(10).sum())"))
    assert after.forked and after.cells[0].text() == "10.0\n"


def test_each_run_is_reseeded(zygote):
    source = "import random, numpy as np; print(random.random(), np.random.random())"
    first, second = zygote.run(nb(source)), zygote.run(nb(source))
    assert first.forked and second.forked
    assert first.cells[0].text() != second.cells[0].text()


def test_lab_file_shadows_a_preloaded_library(box):
    # In a fresh kernel the working directory comes before site-packages.
    with Zygote(box, preload="import idna") as zygote:
        source = "import idna\nprint(getattr(idna, 'MARK', 'site-packages'))"
        shadowed = zygote.run(nb(source), workdir_files={"idna.py": b"MARK = 'lab file'\n"})
        plain = zygote.run(nb(source))
    assert shadowed.forked and shadowed.cells[0].text() == "lab file\n"
    assert plain.forked and plain.cells[0].text() == "site-packages\n"


def test_one_run_at_a_time(zygote):
    kernel = zygote.start_kernel()
    try:
        with pytest.raises(ZygoteError, match="one run at a time"):
            zygote.start_kernel()
        # Zygote.run falls back to a fresh kernel meanwhile.
        result = zygote.run(nb("print(1)"))
        assert not result.forked and result.cells[0].text() == "1\n"
    finally:
        kernel.close()
    assert zygote.run(nb("print(2)")).forked


def test_zygote_that_dies_mid_run_costs_nothing(box):
    with ZygotePool(box, size=1, preload="import json") as pool:
        first = pool.run(nb("print('warm')"))
        assert first.forked
        (zygote,) = pool._zygotes

        def kill_zygote():
            time.sleep(1.5)
            zygote.cgroup.kill_all(signal.SIGKILL)

        threading.Thread(target=kill_zygote).start()
        # The zygote dies under this run: the run is done again in a fresh kernel.
        result = pool.run(nb("import time; time.sleep(4)", "print('done')"))
        assert result.outcome == "completed" and not result.forked
        assert result.cells[1].text() == "done\n"
        # The next run gets a new zygote.
        again = pool.run(nb("print('again')"))
        assert again.forked and again.cells[0].text() == "again\n"
        assert len(pool._zygotes) == 2 and not zygote.alive()


def test_zygote_refuses_to_fork_with_threads(box):
    preload = "import threading, time\nthreading.Thread(target=time.sleep, args=(60,)).start()"
    with pytest.raises(ZygoteError, match="threads"):
        Zygote(box, preload=preload).start()
    for preload, what in [
        ("import zmq\nzmq.Context.instance()", "zmq context"),
        ("import asyncio\nasyncio.set_event_loop(asyncio.new_event_loop())", "event loop"),
    ]:
        with pytest.raises(ZygoteError, match=what):
            Zygote(box, preload=preload).start()
    # A pool whose zygote cannot start grades in fresh kernels.
    with ZygotePool(box, size=1, preload=preload) as pool:
        result = pool.run(nb("print(6 * 7)"))
    assert not result.forked and result.cells[0].text() == "42\n"
