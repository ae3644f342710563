"""SandboxSpawner with real system users, real cgroups and real processes (root).

The spawner is built as JupyterHub's own tests build theirs: a hub ``User``
over an in-memory database, no running hub. Its ``cmd`` is a small Python
program instead of jupyterhub-singleuser. The memory notice is tested with a
real IPython kernel OOM-killed inside a real cgroup.
"""

from __future__ import annotations

import asyncio
import grp
import json
import logging
import os
import pwd
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import psutil
import pytest
from ai4scale.hub.cgroups import CONTROLLERS, CGroup
from ai4scale.hub.memory_notice import (
    EXTENSION,
    KERNEL_EXTENSIONS,
    STATE_FILE,
    check_oom,
    install_kernel_config,
    kernel_config_text,
    notice_text,
)
from ai4scale.hub.spawner import SandboxSpawner
from ai4scale.hub.system_users import USERS_GROUP, remove_system_user
from jupyterhub import orm
from jupyterhub.objects import Hub
from jupyterhub.spawner import set_user_setuid
from jupyterhub.user import User
from traitlets.config import Config, PyFileConfigLoader

PREFIX = "ai4t-"
PARENT = "ai4scale-test"
MiB = 1 << 20

needs_root_cgroups = pytest.mark.skipif(
    os.geteuid() != 0 or not CGroup.available(),
    reason="needs root and cgroup v1 memory, cpu and pids controllers",
)

#: A stand-in server: starts a detached "kernel" that outlives it, then waits.
SERVER = textwrap.dedent(
    """
    import os, subprocess, sys, time
    kernel = subprocess.Popen(["sleep", "300"], start_new_session=True)
    with open(os.path.join(os.environ["HOME"], "kernel.pid"), "w") as f:
        f.write(str(kernel.pid))
    time.sleep(300)
    """
)


def _remove_parent():
    for ctrl in CONTROLLERS:
        try:
            os.rmdir(f"/sys/fs/cgroup/{ctrl}/{PARENT}")
        except OSError:
            pass


def _alive(pid):
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def _wait_for(predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def make_spawner():
    """Return a factory of SandboxSpawners for fresh ``ai4t-`` users; clean up after."""
    db = orm.new_session_factory("sqlite:///:memory:")()
    spawners = []

    def make(**traits):
        name = f"sp{uuid.uuid4().hex[:8]}"
        orm_user = orm.User(name=name)
        db.add(orm_user)
        db.commit()
        user = User(orm_user, {})
        traits.setdefault("cmd", [sys.executable, "-c", SERVER])
        traits.setdefault("user_prefix", PREFIX)
        traits.setdefault("cgroup_parent", PARENT)
        traits.setdefault("mem_limit", "300M")
        traits.setdefault("cpu_limit", 0.5)
        traits.setdefault("process_limit", 64)
        # These stand-in servers never listen: don't wait long for their port.
        traits.setdefault("start_timeout", 2)
        for key in ("interrupt_timeout", "term_timeout", "kill_timeout"):
            traits.setdefault(key, 2)
        spawner = user._new_spawner("", spawner_class=SandboxSpawner, hub=Hub(), **traits)
        spawners.append(spawner)
        return spawner

    yield make

    async def cleanup():
        for spawner in spawners:
            if spawner.pid:
                await spawner.stop(now=True)
            if spawner.cgroup is not None:
                spawner.cgroup.remove()
            CGroup(spawner.system_username, parent=PARENT).remove()
            # without a cgroup (the "unavailable" test) a server's children outlive it
            subprocess.run(["pkill", "-KILL", "-u", spawner.system_username], check=False)
            time.sleep(0.2)
            remove_system_user(spawner.system_username)

    asyncio.run(cleanup())
    _remove_parent()


def _proc_cgroups(pid):
    found = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for ctrl in controllers.split(","):
            found[ctrl] = path
    return found


@needs_root_cgroups
async def test_server_runs_as_system_user_in_limited_cgroup(make_spawner, tmp_path):
    datasets = tmp_path / "datasets"
    datasets.mkdir()
    spawner = make_spawner(datasets_dir=str(datasets))
    sysname = spawner.system_username
    assert sysname == PREFIX + spawner.user.name

    ip, port = await spawner.start()
    assert ip == "127.0.0.1" and port > 0
    pid = spawner.pid
    pw = pwd.getpwnam(sysname)

    # The account was created, private, and marked as ours.
    assert stat.S_IMODE(os.stat(pw.pw_dir).st_mode) == 0o700
    assert os.stat(pw.pw_dir).st_uid == pw.pw_uid
    assert sysname in grp.getgrnam(USERS_GROUP).gr_mem

    # The server runs as the account, from its home, with its environment.
    status = Path(f"/proc/{pid}/status").read_text()
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    assert uid_line.split()[1:] == [str(pw.pw_uid)] * 4
    assert os.readlink(f"/proc/{pid}/cwd") == pw.pw_dir
    environ = dict(
        item.split("=", 1)
        for item in Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
        if "=" in item
    )
    assert environ["USER"] == sysname
    assert environ["HOME"] == pw.pw_dir
    assert environ["JUPYTERHUB_USER"] == spawner.user.name
    assert environ["AI4SCALE_DATASETS"] == str(datasets)
    assert os.readlink(Path(pw.pw_dir) / "datasets") == str(datasets)

    # It is in the server's group, in every controller, with the limits.
    group = spawner.cgroup
    assert group.name == sysname
    assert all(_proc_cgroups(pid)[c] == f"/{PARENT}/{sysname}" for c in CONTROLLERS)
    assert group.memory_limit() == 300 * MiB
    assert (group.path("cpu") / "cpu.cfs_quota_us").read_text().strip() == "50000"
    assert (group.path("pids") / "pids.max").read_text().strip() == "64"
    assert spawner.get_state()["cgroup"] == {"name": sysname, "parent": PARENT}
    assert await spawner.poll() is None

    # The detached "kernel" is in the group too, and stop() kills it with the group.
    kernel_pid_file = Path(pw.pw_dir) / "kernel.pid"
    assert _wait_for(kernel_pid_file.exists)
    kernel_pid = int(kernel_pid_file.read_text())
    assert kernel_pid in group.pids()
    await spawner.stop()
    assert not _alive(pid)
    assert _wait_for(lambda: not _alive(kernel_pid), timeout=5)
    assert not group.exists()
    assert spawner.cgroup is None
    assert "cgroup" not in spawner.get_state()
    assert await spawner.poll() == -signal.SIGINT  # stopped gracefully


@needs_root_cgroups
async def test_memory_limit_kills_server_and_poll_cleans_up(make_spawner, caplog):
    bomb = "import time; time.sleep(0.5); x = b'x' * (1 << 30); time.sleep(60)"
    spawner = make_spawner(cmd=[sys.executable, "-c", bomb], mem_limit="200M")
    await spawner.start()
    group = spawner.cgroup
    with caplog.at_level(logging.WARNING):
        deadline = time.monotonic() + 30
        status = None
        while status is None and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            status = await spawner.poll()
    assert status == -signal.SIGKILL
    assert not group.exists()
    assert spawner.cgroup is None
    assert "reached its memory limit" in caplog.text
    assert "used more memory than its limit" in spawner.stop_message


@needs_root_cgroups
async def test_process_limit_applies_to_the_server(make_spawner):
    forker = textwrap.dedent(
        """
        import os, time
        n = 0
        try:
            for _ in range(100):
                if os.fork() == 0:
                    time.sleep(120)
                    os._exit(0)
                n += 1
        except BlockingIOError:
            pass
        open(os.path.join(os.environ["HOME"], "forked"), "w").write(str(n))
        time.sleep(120)
        """
    )
    spawner = make_spawner(cmd=[sys.executable, "-c", forker], process_limit=20)
    await spawner.start()
    forked = Path(pwd.getpwnam(spawner.system_username).pw_dir) / "forked"
    assert _wait_for(forked.exists)
    assert int(forked.read_text()) == 19
    group = spawner.cgroup
    await spawner.stop(now=True)
    assert not group.exists()


async def test_starts_without_limits_when_cgroups_are_unavailable(make_spawner, tmp_path, caplog):
    if os.geteuid() != 0:
        pytest.skip("creates system users: needs root")
    spawner = make_spawner(cgroup_root=str(tmp_path))
    with caplog.at_level(logging.WARNING):
        await spawner.start()
    assert "WITHOUT memory, CPU or process limits" in caplog.text
    assert spawner.cgroup is None
    assert await spawner.poll() is None
    assert "cgroup" not in spawner.get_state()
    await spawner.stop(now=True)
    assert not _alive(spawner.proc.pid)


@needs_root_cgroups
async def test_restarted_hub_cleans_up_the_cgroup_of_a_dead_server(make_spawner):
    first = make_spawner()
    await first.start()
    state = first.get_state()
    group = first.cgroup

    # A new spawner object, as after a hub restart, finds the server from its state.
    second = first.user._new_spawner(
        "", spawner_class=SandboxSpawner, hub=Hub(), user_prefix=PREFIX, cgroup_parent=PARENT
    )
    second.load_state(state)
    assert second.pid == first.pid
    assert second.cgroup.name == group.name
    assert await second.poll() is None

    first.proc.kill()
    first.proc.wait()
    first.pid = 0
    first._cgroup = None  # the old hub is gone
    assert await second.poll() == 0
    assert not group.exists()
    assert second.cgroup is None


async def test_make_preexec_fn_ignores_the_hub_name(make_spawner):
    if os.geteuid() != 0:
        pytest.skip("creates system users: needs root")
    from ai4scale.hub.system_users import ensure_system_user

    spawner = make_spawner()
    pw = ensure_system_user(spawner.system_username)
    out = subprocess.run(
        ["id", "-un"],
        preexec_fn=spawner.make_preexec_fn("root"),
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == pw.pw_name


#: A stand-in server that binds its port as jupyter-server does (no retries):
#: it exits when another process holds the port.
LISTENER = textwrap.dedent(
    """
    import os, socket, sys, time, urllib.parse
    url = urllib.parse.urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    time.sleep(0.3)  # start-up before it binds: the window another process took the port in
    s = socket.socket()
    try:
        s.bind((url.hostname, url.port))
    except OSError:
        sys.exit(f"the port {url.port} is not available")
    s.listen()
    time.sleep(300)
    """
)


@needs_root_cgroups
async def test_server_whose_random_port_was_taken_starts_on_another(make_spawner, monkeypatch):
    # Seen with 30 learners (benchmarks/load.py): a kernel's ZMQ socket took the
    # port chosen for a server still starting; the server exited and the hub
    # waited 90 s on the kernel's port. Here the first "random" port is taken.
    import jupyterhub.spawner

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    busy = taken.getsockname()[1]
    real_random_port = jupyterhub.spawner.random_port
    chosen = iter([busy])
    monkeypatch.setattr(jupyterhub.spawner, "random_port", lambda: next(chosen, real_random_port()))
    spawner = make_spawner(cmd=[sys.executable, "-c", LISTENER], start_timeout=20)
    try:
        ip, port = await spawner.start()
        assert port != busy and spawner.port == port
        assert await spawner.poll() is None
        # The server itself listens there, in its cgroup.
        listening = {
            c.laddr.port
            for c in psutil.Process(spawner.pid).net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN
        }
        assert port in listening
        assert spawner.pid in spawner.cgroup.pids()
    finally:
        taken.close()


# -- memory notice -----------------------------------------------------------


def _fake_group(root, path, *, kills, limit):
    group = Path(root) / "memory" / path
    group.mkdir(parents=True, exist_ok=True)
    (group / "memory.oom_control").write_text(
        f"oom_kill_disable 0\nunder_oom 0\noom_kill {kills}\n"
    )
    (group / "memory.limit_in_bytes").write_text(f"{limit}\n")
    return group


def test_check_oom_reports_growth_once(tmp_path):
    proc = tmp_path / "cgroup"
    proc.write_text("5:pids:/x\n4:memory:/ai4scale/jupyter-alice\n1:cpu,cpuacct:/\n")
    root, runtime = tmp_path / "root", tmp_path / "runtime"
    group = _fake_group(root, "ai4scale/jupyter-alice", kills=0, limit=2 << 30)
    kwargs = dict(proc_cgroup=proc, root=root, runtime_dir=runtime)

    assert check_oom(**kwargs) is None
    assert json.loads((runtime / STATE_FILE).read_text())["oom_kills"] == 0
    _fake_group(root, "ai4scale/jupyter-alice", kills=1, limit=2 << 30)
    message = check_oom(**kwargs)
    assert "memory limit (2.0 GiB)" in message
    assert "re-run your notebook from the top" in message
    assert check_oom(**kwargs) is None  # already told

    # A new server gets a new group (a new inode): its own count starts afresh.
    group.rename(group.with_name("old"))
    _fake_group(root, "ai4scale/jupyter-alice", kills=1, limit=512 << 20)
    assert "(512 MiB)" in check_oom(**kwargs)


def test_check_oom_without_memory_cgroup(tmp_path):
    proc = tmp_path / "cgroup"
    proc.write_text("0::/user.slice\n")
    assert check_oom(proc_cgroup=proc, root=tmp_path, runtime_dir=tmp_path) is None
    assert not (tmp_path / STATE_FILE).exists()
    # No limit: no size in the message.
    assert "memory limit." in notice_text(None)


def test_install_kernel_config(tmp_path):
    venv = tmp_path / "venv"
    file = install_kernel_config(venv)
    assert file == venv / "etc" / "ipython" / "ipython_kernel_config.py"
    assert file.read_text() == kernel_config_text()
    install_kernel_config(venv)
    assert file.read_text() == kernel_config_text()

    loaded = PyFileConfigLoader(file.name, path=str(file.parent)).load_config()
    merged = Config({"InteractiveShellApp": {"extensions": ["other"]}})
    merged.merge(loaded)
    assert merged.InteractiveShellApp.extensions == ["other", *KERNEL_EXTENSIONS]
    assert EXTENSION in KERNEL_EXTENSIONS and "ai4scale.hub.plain_errors" in KERNEL_EXTENSIONS

    # Someone else's configuration is kept, and ours appended once.
    file.write_text("c.InteractiveShell.colors = 'nocolor'")
    install_kernel_config(venv)
    install_kernel_config(venv)
    text = file.read_text()
    assert text.startswith("c.InteractiveShell.colors = 'nocolor'\n")
    assert text.count(f'append("{EXTENSION}")') == 1


#: Run as the learner inside the group: a kernel blows the memory limit, the next one explains.
NOTICE_DRIVER = textwrap.dedent(
    """
    import json, time
    from jupyter_client.manager import start_new_kernel

    def run(kc, code):
        out = {"stdout": "", "stderr": ""}
        def hook(msg):
            if msg["msg_type"] == "stream":
                out[msg["content"]["name"]] += msg["content"]["text"]
        kc.execute_interactive(code, output_hook=hook, timeout=60)
        return out

    km, kc = start_new_kernel(kernel_name="python3", startup_timeout=60)
    first = run(kc, "print(open('/proc/self/oom_score_adj').read().strip())")
    kc.execute("x = b'x' * (1 << 30)")
    deadline = time.monotonic() + 60
    while km.is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    died = not km.is_alive()
    kc.stop_channels()
    km.cleanup_resources()

    km, kc = start_new_kernel(kernel_name="python3", startup_timeout=60)
    second = run(kc, "print('hello')")
    third = run(kc, "print('again')")
    kc.stop_channels()
    km.shutdown_kernel(now=True)
    print(json.dumps({"first": first, "died": died, "second": second, "third": third}))
    """
)


@needs_root_cgroups
def test_memory_notice_in_a_real_kernel_after_oom_kill():
    from ai4scale.hub.system_users import ensure_system_user

    sysname = f"{PREFIX}nb{uuid.uuid4().hex[:8]}"
    group = CGroup(sysname, parent=PARENT)
    config_dir = Path(tempfile.mkdtemp(prefix="ai4t-ipython-"))
    try:
        pw = ensure_system_user(sysname)
        group.create()
        group.set_limits(memory_bytes=400 * MiB, max_pids=256)
        profile = config_dir / "profile_default"
        profile.mkdir()
        (profile / "ipython_kernel_config.py").write_text(kernel_config_text())
        # IPython ignores an IPYTHONDIR its user cannot write to.
        subprocess.run(["chown", "-R", f"{sysname}:", str(config_dir)], check=True)
        set_user = set_user_setuid(sysname)

        def preexec():
            group.add_pid(os.getpid())
            set_user()

        env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "HOME": pw.pw_dir,
            "USER": sysname,
            "IPYTHONDIR": str(config_dir),
        }
        proc = subprocess.run(
            [sys.executable, "-c", NOTICE_DRIVER],
            preexec_fn=preexec,
            env=env,
            cwd=pw.pw_dir,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        # Kernels volunteer to be killed before the server.
        assert result["first"]["stdout"].strip() == "300"
        assert result["first"]["stderr"] == ""
        assert result["died"]
        assert group.oom_kills() >= 1
        second = result["second"]
        assert second["stdout"] == "hello\n"
        assert (
            "stopped because your server reached its memory limit (400 MiB)" in (second["stderr"])
        )
        assert "re-run your notebook from the top" in second["stderr"]
        assert result["third"] == {"stdout": "again\n", "stderr": ""}
    finally:
        group.remove()
        _remove_parent()
        remove_system_user(sysname)
        subprocess.run(["rm", "-rf", str(config_dir)], check=True)
