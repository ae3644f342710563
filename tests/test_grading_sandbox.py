"""Sandboxed notebook execution: real grading account, cgroups, namespaces, kernels (root).

Every failure class costs only its own run, with the reason recorded, and
leaves nothing behind: the ``box`` fixture checks after each test that no run
directory, cgroup or grader process is left. Tests taking the ``sandbox``
fixture run twice: with a new interpreter per run (``fresh``) and with
kernels forked from a grading zygote (``fork``).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest
from ai4scale.grading.sandbox import (
    TRUNCATED,
    KernelPool,
    Sandbox,
    ZygotePool,
    ensure_grader_account,
    needs_fresh_interpreter,
    parse_size,
    remove_grader_account,
    run_notebook,
)
from ai4scale.hub.cgroups import CONTROLLERS, CGroup
from ai4scale.hub.system_users import SystemUserError
from nbformat.v4 import new_markdown_cell, new_notebook

_PREFIX = os.environ.get("AI4SCALE_TEST_USER_PREFIX", "ai4t-")
GRADER = f"{_PREFIX}grader"
CGROUP_PARENT = f"{os.environ.get('AI4SCALE_TEST_CGROUP_PARENT', 'ai4scale-test')}-sandbox"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not CGroup.available(),
    reason="needs root and cgroup v1 memory, cpu and pids controllers",
)


def nb(*sources):
    """A notebook whose code cells are ``sources`` (strings) in order."""
    from nbformat.v4 import new_code_cell

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
            pass  # other tests' groups still in it, or already gone


@pytest.fixture(scope="module")
def runs_dir():
    path = Path(f"/srv/{_PREFIX}grading-runs-{secrets.token_hex(4)}")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _leftovers(runs_dir, uid):
    runs = sorted(p.name for p in runs_dir.iterdir()) if runs_dir.exists() else []
    groups = sorted(
        p.name
        for ctrl in CONTROLLERS
        for p in Path(f"/sys/fs/cgroup/{ctrl}/{CGROUP_PARENT}").glob("*-*")
        if p.name.startswith(("run-", "zygote-"))
    )
    procs = subprocess.run(["pgrep", "-u", str(uid)], capture_output=True, text=True).stdout.split()
    return runs, groups, procs


@pytest.fixture
def box(grader, runs_dir):
    """A Sandbox with short limits; afterwards nothing of the run may be left."""
    box = Sandbox(
        user=GRADER,
        runs_dir=str(runs_dir),
        cgroup_parent=CGROUP_PARENT,
        cell_timeout=10,
        notebook_timeout=30,
        memory="300M",
        max_pids=64,
    )
    yield box
    assert _leftovers(runs_dir, grader.pw_uid) == ([], [], [])


class Forking:
    """A Sandbox whose ``run`` forks each kernel from a grading zygote (a ZygotePool)."""

    def __init__(self, box, pool):
        object.__setattr__(self, "_box", box)
        object.__setattr__(self, "pool", pool)

    def run(self, nb, *, workdir_files=None, env=None):
        result = self.pool.run(nb, workdir_files=workdir_files, env=env)
        # Forked indeed, unless the environment needs a new interpreter.
        assert result.forked != needs_fresh_interpreter(env), result.reason
        return result

    def __getattr__(self, name):
        return getattr(self._box, name)

    def __setattr__(self, name, value):
        setattr(self._box, name, value)


@pytest.fixture
def zygotes():
    """Zygotes of the ``fork`` sandbox (a test parametrises it for more)."""
    return 1


@pytest.fixture(params=["fresh", "fork"])
def sandbox(request, box, zygotes):
    """``box``, or ``box`` forking its kernels from ``zygotes`` grading zygotes."""
    if request.param == "fresh":
        yield box
        return
    with ZygotePool(box, size=zygotes, preload="import json") as pool:
        yield Forking(box, pool)


def test_parse_size():
    assert parse_size("1G") == 1 << 30
    assert parse_size("512M") == 512 << 20
    assert parse_size("1.5KiB") == 1536
    assert parse_size(100) == 100
    with pytest.raises(ValueError):
        parse_size("lots")


def test_grader_account(grader):
    assert grader.pw_uid != 0 and grader.pw_gid != 0
    assert grader.pw_shell == "/usr/sbin/nologin"
    assert not Path(grader.pw_dir).exists()
    assert ensure_grader_account(GRADER) == grader  # idempotent
    with pytest.raises(SystemUserError, match="root"):
        ensure_grader_account("root")
    with pytest.raises(SystemUserError, match="not made for grading"):
        ensure_grader_account("nobody")


def test_cells_run_as_grader_in_private_workdir(sandbox, grader, tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    notebook = nb(
        "import os, stat\n"
        "st = os.stat('.')\n"
        "print(os.getuid(), os.getgid(), oct(stat.S_IMODE(st.st_mode)), st.st_uid)",
        "print(sorted(os.listdir('.')), open('data.csv').read().splitlines()[1])",
        "1/0",
        "21 * 2",
    )
    notebook.cells.insert(1, new_markdown_cell("text"))
    result = sandbox.run(notebook, workdir_files=[data], env={"AI4T": "yes"})
    assert result.outcome == "completed", result.reason
    assert [c.index for c in result.cells] == [0, 2, 3, 4]
    assert [c.status for c in result.cells] == ["ok", "ok", "error", "ok"]
    uid, gid, mode, owner = result.cells[0].text().split()
    assert (int(uid), int(gid), mode, int(owner)) == (
        grader.pw_uid,
        grader.pw_gid,
        "0o700",
        grader.pw_uid,
    )
    # Only the lab files: never the notebook (its hidden tests stay hidden).
    assert result.cells[1].text() == "['data.csv'] 1,2\n"
    assert (result.cells[2].ename, result.cells[2].evalue) == (
        "ZeroDivisionError",
        "division by zero",
    )
    assert result.cells[2].traceback
    assert result.cells[3].outputs == [
        {"output_type": "execute_result", "data": {"text/plain": "42"}, "execution_count": 4}
    ]
    assert 0 < result.startup_seconds < result.first_result_seconds


def test_os_exit_costs_only_its_run(sandbox):
    result = sandbox.run(nb("print('before')", "import os; os._exit(1)", "print('never')"))
    assert result.outcome == "kernel_died"
    assert "exited with status 1" in result.reason and "cell 1" in result.reason
    assert [c.status for c in result.cells] == ["ok", "dead", "not_run"]
    assert result.exit_code == 1
    # The next run in the same process is fine.
    assert sandbox.run(nb("print('after')")).cells[0].text() == "after\n"


def test_sys_exit_is_a_cell_error(sandbox):
    result = sandbox.run(nb("import sys; sys.exit(3)", "print('still here')"))
    assert result.outcome == "completed"
    assert result.cells[0].status == "error" and result.cells[0].ename == "SystemExit"
    assert result.cells[1].text() == "still here\n"


def test_infinite_loop_hits_cell_timeout(sandbox):
    sandbox.cell_timeout = 2  # the notebook's own timeout (30 s) is not what stops it
    result = sandbox.run(nb("x = 1", "while True:\n    pass", "print('never')"))
    assert result.outcome == "cell_timeout"
    assert result.reason == "cell 1 ran longer than 2.0 s"
    assert [c.status for c in result.cells] == ["ok", "timeout", "not_run"]


def test_notebook_timeout(sandbox):
    sandbox.notebook_timeout = 2
    result = sandbox.run(nb("import time; time.sleep(1.5)", "time.sleep(1.5)", "1"))
    assert result.outcome == "notebook_timeout"
    assert "cell 1" in result.reason
    assert [c.status for c in result.cells] == ["ok", "timeout", "not_run"]


def test_memory_bomb_is_oom_killed(sandbox):
    sandbox.memory = "200M"
    result = sandbox.run(nb("x = bytearray(1 << 30)", "print('never')"))
    assert result.outcome == "memory_limit", result.reason
    assert "200M" in result.reason and result.oom_kills >= 1
    assert result.cells[0].status == "dead"


def test_segfault(sandbox):
    result = sandbox.run(nb("import ctypes; ctypes.string_at(0)"))
    assert result.outcome == "kernel_died"
    assert "SIGSEGV" in result.reason and result.exit_signal == 11


def test_fork_bomb_is_contained(sandbox):
    sandbox.cell_timeout = 4
    sandbox.max_pids = 32
    result = sandbox.run(
        nb("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass")
    )
    assert result.outcome in ("cell_timeout", "kernel_died"), result.reason
    # The host still forks fine; the fixture checks no grader process is left.
    assert subprocess.run(["true"]).returncode == 0


def test_disk_filler_is_capped(sandbox):
    sandbox.disk = "20M"
    filler = (
        "import os\nwritten = 0\nchunk = b'x' * (1 << 20)\n"
        "try:\n"
        "    with open({path!r}, 'wb') as f:\n"
        "        for _ in range(200):\n"
        "            f.write(chunk); f.flush(); written += len(chunk)\n"
        "except OSError as e:\n"
        "    print(e.errno, written)\n"
    )
    result = sandbox.run(nb(filler.format(path="fill"), filler.format(path="/tmp/fill"), "1 + 1"))
    assert result.outcome == "completed", result.reason
    for cell, cap in ((result.cells[0], 20 << 20), (result.cells[1], 20 << 20)):
        errno_, written = map(int, cell.text().split())
        assert errno_ in (27, 28)  # EFBIG, ENOSPC
        assert written <= cap
    assert result.cells[2].outputs[0]["data"]["text/plain"] == "2"
    # /tmp of the host was not written.
    assert not Path("/tmp/fill").exists()


def test_no_network(sandbox):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    port = server.getsockname()[1]
    try:
        result = sandbox.run(
            nb(
                "import socket\n"
                f"for addr in [('127.0.0.1', {port}), ('1.1.1.1', 53), ('8.8.8.8', 443)]:\n"
                "    try:\n"
                "        socket.create_connection(addr, timeout=3)\n"
                "        print('connected', addr)\n"
                "    except OSError as e:\n"
                "        print('failed', type(e).__name__)\n"
            )
        )
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()
    assert result.outcome == "completed"
    lines = result.cells[0].text().splitlines()
    assert len(lines) == 3 and all(line.startswith("failed") for line in lines), lines


def test_output_cap(sandbox):
    sandbox.max_output_bytes = 100_000
    result = sandbox.run(nb("print('hello')", "print('x' * 50_000_000)", "print('never')"))
    assert result.outcome == "output_limit", result.reason
    assert "cell 1" in result.reason
    assert result.cells[0].text() == "hello\n"
    assert result.cells[1].status == "output_limit" and result.cells[2].status == "not_run"
    assert len(result.cells[1].text()) <= 100_000 + len(TRUNCATED)


def test_output_cap_over_many_prints(sandbox):
    sandbox.max_output_bytes, sandbox.output_stop_bytes = 50_000, 200_000
    result = sandbox.run(nb("for i in range(100_000):\n    print(i)"))
    assert result.outcome == "output_limit"
    text = result.cells[0].text()
    assert text.endswith(TRUNCATED) and text.startswith("0\n1\n2\n")
    assert text.count(TRUNCATED) == 1 and len(text) <= 50_000 + len(TRUNCATED)
    assert result.cells[0].truncated


def test_large_honest_output_is_cut_and_the_run_goes_on(sandbox):
    """A learner's big table and many plots: not kept past the cap, but nothing is lost."""
    sandbox.max_output_bytes = 50_000
    result = sandbox.run(
        nb(
            "print('row\\n' * 100_000)",
            "from IPython.display import display, Image\n"
            "for _ in range(20):\n"
            "    display({'image/png': 'iVBORw0KGgo' * 5000}, raw=True)",
            "'x' * 3000",
        )
    )
    assert result.outcome == "completed", result.reason
    assert result.cells[0].truncated and result.cells[0].text().count(TRUNCATED) == 1
    # A displayed result keeps its start: partial-credit tests show their score that way.
    shown = result.cells[2].outputs[-1]["data"]["text/plain"]
    assert shown.startswith("'xxx") and len(shown) <= 1000 + len(TRUNCATED)
    assert result.output_bytes > 400_000


def test_cannot_read_private_homes_or_write_datasets(sandbox):
    other = Path(f"/srv/ai4t-home-{secrets.token_hex(4)}")
    datasets = Path(f"/srv/ai4t-datasets-{secrets.token_hex(4)}")
    try:
        other.mkdir(mode=0o700)
        (other / "secret.txt").write_text("learner's work")
        os.chown(other, 65534, 65534)
        datasets.mkdir(mode=0o755)
        (datasets / "d.csv").write_text("x\n1\n")
        os.chmod(datasets / "d.csv", 0o644)
        probe = (
            "def probe(f):\n"
            "    try:\n"
            "        f(); return 'allowed'\n"
            "    except OSError as e:\n"
            "        return type(e).__name__\n"
            "import os\n"
            "print(probe(lambda: os.listdir('/root')),\n"
            f"      probe(lambda: open('{other}/secret.txt').read()),\n"
            f"      probe(lambda: open('{datasets}/new.csv', 'w')),\n"
            f"      probe(lambda: open('{datasets}/d.csv', 'a')),\n"
            f"      probe(lambda: open('{datasets}/d.csv').read()),\n"
            f"      probe(lambda: os.listdir('{sandbox.runs_dir}')))"
        )
        result = sandbox.run(nb(probe))
    finally:
        shutil.rmtree(other, ignore_errors=True)
        shutil.rmtree(datasets, ignore_errors=True)
    assert result.cells[0].text().split() == [
        "PermissionError",
        "PermissionError",
        "PermissionError",
        "PermissionError",
        "allowed",
        "PermissionError",
    ]
    assert stat.S_IMODE(os.stat(sandbox.runs_dir).st_mode) == 0o711


def test_broken_protocol_ends_the_run(sandbox):
    result = sandbox.run(
        nb("print('fine')", "import json; json.dumps = lambda *a, **k: 'garbage'", "print(1)")
    )
    assert result.outcome == "protocol_error", result.reason
    assert "not Jupyter protocol" in result.reason
    assert [c.status for c in result.cells] == ["ok", "protocol_error", "not_run"]
    assert result.cells[0].text() == "fine\n"


def test_startup_failure(sandbox):
    result = sandbox.run(nb("1"), env={"PYTHONHOME": "/nonexistent"})
    assert result.outcome == "startup_failed"
    assert "before answering" in result.reason
    assert result.cells[0].status == "not_run"


@pytest.mark.parametrize("zygotes", [3])
def test_parallel_runs_do_not_interfere(sandbox):
    results = {}

    def one(tag):
        results[tag] = sandbox.run(
            nb(
                f"open('{tag}', 'w').write('{tag}')\nimport os, time\ntime.sleep(1)",
                "print(sorted(os.listdir('.')), sorted(p for p in os.listdir('/proc') "
                "if p.isdigit()))",
            )
        )

    threads = [threading.Thread(target=one, args=(tag,)) for tag in ("ra", "rb", "rc")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for tag, result in results.items():
        assert result.outcome == "completed", result.reason
        files, pids = eval(result.cells[1].text().replace("] [", "], ["))  # noqa: S307
        # Its own file only; its own processes only (a private pid namespace).
        assert files == [tag] and "1" in pids and len(pids) <= 3
    assert len(results) == 3


def test_run_notebook_function(grader, runs_dir, tmp_path):
    path = tmp_path / "n.ipynb"
    import nbformat

    nbformat.write(nb("print(6 * 7)"), str(path))
    result = run_notebook(path, user=GRADER, runs_dir=str(runs_dir), cgroup_parent=CGROUP_PARENT)
    assert result.ok and result.cells[0].text() == "42\n"
    assert result.to_dict()["cells"][0]["status"] == "ok"
    assert pwd.getpwnam(GRADER).pw_uid == grader.pw_uid


# -- pre-started kernels -------------------------------------------------------

PRELOAD = "import csv\nimport json as _j\nsecret = 'from preload'"


def _wait_ready(pool, count, timeout=60):
    deadline = time.monotonic() + timeout
    while pool._ready.qsize() < count:
        assert time.monotonic() < deadline, "the pool did not start its kernels"
        time.sleep(0.1)


def test_pooled_kernel_runs_notebook_after_preload(box, tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    with KernelPool(box, size=1, preload=PRELOAD, workdir_files=[data]) as pool:
        kernel = pool.take()
        try:
            assert kernel.preload_status == "ok"
            result = kernel.execute(
                nb(
                    "import sys\nprint('csv' in sys.modules, 'json' in sys.modules)",
                    "print('secret' in dir(), '_j' in dir(), open('data.csv').read().split())",
                    "1/0",
                    "21 * 2",
                )
            )
            with pytest.raises(RuntimeError, match="one notebook only"):
                kernel.execute(nb("1"))
        finally:
            kernel.close()
        kernel.close()  # idempotent
    assert result.outcome == "completed", result.reason
    # Modules stay loaded, names bound by the preload do not.
    assert result.cells[0].text() == "True True\n"
    assert result.cells[1].text() == "False False ['a', '1']\n"
    assert [c.status for c in result.cells] == ["ok", "ok", "error", "ok"]
    assert [c.execution_count for c in result.cells] == [1, 2, 3, 4]
    assert result.cells[3].outputs[0]["data"]["text/plain"] == "42"
    assert not kernel.rundir.exists() and not kernel.cgroup.exists()


def test_pool_hands_each_kernel_out_once(box, grader):
    with KernelPool(box, size=2, preload=PRELOAD) as pool:
        kernels = [pool.take() for _ in range(4)]
        try:
            pids = [k.pid for k in kernels]
            assert len(set(pids)) == 4
            first = kernels[0].execute(nb("leak = 'learner A'"))
            second = kernels[1].execute(nb("print('leak' in dir())"))
        finally:
            for k in kernels:
                k.close()
        # Closed kernels leave nothing: no process, no group, no run directory.
        for k in kernels:
            assert k.proc.poll() is not None
            assert not k.rundir.exists() and not k.cgroup.exists()
    assert first.ok and second.cells[0].text() == "False\n"


def test_pool_shutdown_closes_unused_kernels(box, grader, runs_dir):
    pool = KernelPool(box, size=2, preload=PRELOAD)
    pool.start()
    _wait_ready(pool, 2)
    assert len(_leftovers(runs_dir, grader.pw_uid)[0]) == 2
    pool.shutdown()
    pool.shutdown()  # idempotent
    assert _leftovers(runs_dir, grader.pw_uid) == ([], [], [])
    with pytest.raises(RuntimeError, match="shut down"):
        pool.take()


def test_pool_limit_then_starts_on_demand(box):
    with KernelPool(box, size=2, limit=1) as pool:
        kernels = [pool.take(), pool.take()]
        try:
            results = [k.execute(nb("print(40 + 2)")) for k in kernels]
        finally:
            for k in kernels:
                k.close()
        assert pool._launched == 1
    assert [r.cells[0].text() for r in results] == ["42\n", "42\n"]


def test_notebook_timeout_counts_from_execute(box):
    box.notebook_timeout = 2
    kernel = box.start(preload="import json")
    try:
        time.sleep(2.5)  # waiting in the pool costs the notebook nothing
        quick = kernel.execute(nb("import time", "time.sleep(5)"))
    finally:
        kernel.close()
    assert quick.outcome == "notebook_timeout", quick.reason
    assert [c.status for c in quick.cells] == ["ok", "timeout"]


def test_failing_or_endless_preload(box):
    kernel = box.start(preload="import no_such_module_ai4t")
    try:
        assert kernel.preload_status == "error"
        result = kernel.execute(nb("print('fine')"))
    finally:
        kernel.close()
    assert result.ok and result.cells[0].text() == "fine\n"
    box.preload_timeout = 1
    kernel = box.start(preload="while True: pass")
    try:
        result = kernel.execute(nb("1"))
    finally:
        kernel.close()
    assert result.outcome == "startup_failed"
    assert "preloading" in result.reason and result.cells[0].status == "not_run"
