"""The fork servers' parts that need no hub: refusing unsafe forks, confining, preloading."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import pytest
from ai4scale.hub.forkserver import _preload
from traitlets import HasTraits, Unicode


@pytest.fixture
def fake_module():
    """A module computed, at import, from the zygote's home ``/zygote/home``."""
    module = types.ModuleType("ai4scale_fake_paths")
    module.TRASH = "/zygote/home/.local/share/Trash"
    module.TRASH_B = b"/zygote/home/.local/share/Trash"
    module.DIRS = ["/usr/share/fonts", "/zygote/home/.fonts"]
    module.OTHER = "/srv/data"

    class Manager(HasTraits):
        db_path = Unicode("/zygote/home/.local/share/jupyter/file_id.db")

    class SubManager(Manager):
        pass

    Manager.__module__ = SubManager.__module__ = module.__name__
    module.Manager, module.SubManager = Manager, SubManager
    sys.modules[module.__name__] = module
    yield module
    del sys.modules[module.__name__]


def test_paths_computed_from_the_zygotes_home_move_to_the_learners(fake_module):
    refs = [r for r in _preload.home_references("/zygote/home") if r[0] == fake_module.__name__]
    assert sorted(a for _, a in refs) == ["DIRS", "Manager.db_path", "TRASH", "TRASH_B"]
    _preload.rebase_home(refs, "/zygote/home", "/home/jupyter-ann")
    assert fake_module.TRASH == "/home/jupyter-ann/.local/share/Trash"
    assert fake_module.TRASH_B == b"/home/jupyter-ann/.local/share/Trash"
    assert fake_module.DIRS == ["/usr/share/fonts", "/home/jupyter-ann/.fonts"]
    assert fake_module.OTHER == "/srv/data"
    # New instances, of the class and of its subclasses, get the learner's path.
    for cls in (fake_module.Manager, fake_module.SubManager):
        assert cls().db_path == "/home/jupyter-ann/.local/share/jupyter/file_id.db"


def test_a_file_in_the_notebooks_folder_shadows_a_preloaded_library(tmp_path):
    import json  # noqa: F401  (preloaded, and the kernel's own)

    module = types.ModuleType("ai4scale_fake_utils")
    sys.modules["ai4scale_fake_utils"] = module
    sys.modules["ai4scale_fake_utils.sub"] = types.ModuleType("ai4scale_fake_utils.sub")
    (tmp_path / "ai4scale_fake_utils.py").write_text("X = 1\n")
    (tmp_path / "json.py").write_text("")
    try:
        _preload.forget_shadowed(tmp_path, keep={"json"})
        assert "ai4scale_fake_utils" not in sys.modules
        assert "ai4scale_fake_utils.sub" not in sys.modules
        assert "json" in sys.modules
    finally:
        sys.modules.pop("ai4scale_fake_utils", None)
        sys.modules.pop("ai4scale_fake_utils.sub", None)


def test_modules_other_accounts_cannot_read_are_reported():
    folder = Path(tempfile.mkdtemp(prefix="ai4scale-preload-", dir="/tmp"))
    secret = folder / "ai4scale_fake_secret.py"
    secret.write_text("ANSWER = 42\n")
    secret.chmod(0o600)
    module = types.ModuleType("ai4scale_fake_secret")
    module.__file__ = str(secret)
    sys.modules["ai4scale_fake_secret"] = module
    try:
        assert "ai4scale_fake_secret" in _preload.restricted_modules()
        secret.chmod(0o644)
        folder.chmod(0o700)
        assert "ai4scale_fake_secret" in _preload.restricted_modules()  # folder closed
        folder.chmod(0o755)
        assert "ai4scale_fake_secret" not in _preload.restricted_modules()
    finally:
        del sys.modules["ai4scale_fake_secret"]
        shutil.rmtree(folder)


_UNSAFE_PROBE = """
import asyncio, os, threading, time, zmq
from ai4scale.hub.forkserver._confine import unsafe_to_fork
print(repr(unsafe_to_fork()))
stop = threading.Event()
t = threading.Thread(target=stop.wait); t.start()
print(repr(unsafe_to_fork())); stop.set(); t.join()
while len(os.listdir("/proc/self/task")) > 1:  # the OS thread ends just after join()
    time.sleep(0.01)
async def inside():
    print(repr(unsafe_to_fork()))
asyncio.run(inside())
ctx = zmq.Context.instance()
print(repr(unsafe_to_fork()))
"""


def test_a_zygote_refuses_to_fork_with_threads_zmq_or_an_event_loop():
    out = subprocess.run(
        [sys.executable, "-P", "-c", _UNSAFE_PROBE],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
    ).stdout.splitlines()
    assert out[0] == "''"
    assert out[1] == "'2 threads'"
    assert "asyncio" in out[2]
    assert "zmq" in out[3] or "threads" in out[3]  # zmq's I/O thread, or the context itself


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_a_child_never_runs_as_root():
    from ai4scale.hub.forkserver._confine import ConfineError, drop_privileges

    for uid, gid, groups in ((0, 1000, []), (1000, 0, []), (1000, 1000, [0])):
        with pytest.raises(ConfineError, match="root"):
            drop_privileges(uid, gid, groups)


def test_close_files_keeps_only_what_it_is_told():
    probe = (
        "import os\n"
        "from ai4scale.hub.forkserver._confine import close_files\n"
        "a, b = os.pipe(); c = os.open('/dev/null', os.O_RDONLY)\n"
        "close_files(keep=[b])\n"
        "print(sorted(int(f) for f in os.listdir('/proc/self/fd')), b)"
    )
    out = subprocess.run(
        [sys.executable, "-P", "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split("]")
    fds = [int(x) for x in out[0].strip("[ ").split(",")]
    kept = int(out[1])
    # 0-2, the kept one, and the descriptor listdir itself opened
    assert kept in fds and {0, 1, 2} <= set(fds) and len(fds) <= 5


@pytest.mark.skipif(os.geteuid() != 0, reason="starts fork servers as root")
def test_a_fork_server_started_with_other_settings_is_replaced():
    import asyncio

    import psutil
    from ai4scale.hub.forkserver import ForkServers

    folder = Path(tempfile.mkdtemp(prefix="ai4scale-forkunit-", dir="/tmp"))
    first = ForkServers(folder, cgroup_parent="ai4scale-unit", user_prefix="ai4u-")
    second = ForkServers(folder, cgroup_parent="ai4scale-unit", user_prefix="ai4v-")
    try:
        old = asyncio.run(first.ensure("server"))
        assert asyncio.run(first.ensure("server")) == old  # running: kept
        new = asyncio.run(second.ensure("server"))
        assert new != old and second.pid("server") == new
        assert not psutil.pid_exists(old) or psutil.Process(old).status() == "zombie"
        assert "--user-prefix" in psutil.Process(new).cmdline()
        assert psutil.Process(new).cmdline()[-1] == "ai4v-"
    finally:
        second.stop()
        first.stop()
        shutil.rmtree(folder, ignore_errors=True)
