"""Learners' servers and kernels forked warm (``[spawn] fork``, ``[kernels] fork``).

A real hub with two learners; every property is checked on real processes:
the learner's account, groups, capabilities and cgroup; limits; what a
learner can see of the fork servers and of another learner; signals and
ptrace between learners; a fork server killed under running learners;
interrupt and restart from the Jupyter API; random streams; a hub restart.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from pathlib import Path

import hubtest
import psutil
import pytest
import requests
from ai4scale.hub.daemons import proxy_pid
from ai4scale.hub.forkserver import ForkError, fork_child, forkservers_for
from conftest import TEST_CGROUP_PARENT, TEST_USER_PREFIX

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="starts a hub as root")

PREFIX = f"{TEST_USER_PREFIX}k-"
CGROUP_PARENT = f"{TEST_CGROUP_PARENT}-fork"
ROSTER = {
    "ann": ("learner", "", "ann-fork-pass-1"),
    "bob": ("learner", "", "bob-fork-pass-1"),
}


@pytest.fixture(scope="module")
def fork_hub():
    """A hub with fork servers on (the default) and two learners, each with a running server."""
    state = Path(tempfile.mkdtemp(prefix="ai4scale-fork-"))
    settings_file, settings = hubtest.prepare_state(
        state, ROSTER, user_prefix=PREFIX, cgroup_parent=CGROUP_PARENT, memory="1G"
    )
    assert settings["spawn"]["fork"] and settings["kernels"]["fork"]
    hub = hubtest.start_hub(settings, settings_file)
    hub.tokens = {}
    try:
        for name, (_, _, password) in ROSTER.items():
            session = hubtest.login(hub, name, password)[0]
            hub.tokens[name] = hubtest.user_token(session, hub, name)
            hubtest.spawn(hub, name, token=hub.tokens[name])
        yield hub
    finally:
        try:
            hubtest.stop_hub(hub)
        finally:
            hubtest.remove_accounts(PREFIX, CGROUP_PARENT)


def kernel(hub, name):
    return hubtest.Kernel(hub, name, hub.tokens[name])


def run(k, code):
    out = k.execute(code)
    assert out["status"] == "ok", out
    return out["stdout"]


def zygote(hub, role):
    servers, _ = forkservers_for(hub.settings)
    return servers.pid(role)


def status_of(pid):
    text = Path(f"/proc/{pid}/status").read_text()
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def cgroups_of(pid):
    found = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for ctrl in controllers.split(","):
            found[ctrl] = path
    return found


def kernel_pid(k):
    return int(run(k, "import os; print(os.getpid())"))


def test_forked_server_and_kernel_are_the_learners_processes(fork_hub):
    server = hubtest.server_pid("ann")
    assert server, "ann's server is not found by its command line"
    assert psutil.Process(server).ppid() == zygote(fork_hub, "server")
    k = kernel(fork_hub, "ann")
    try:
        pid = kernel_pid(k)
        assert psutil.Process(pid).ppid() == zygote(fork_hub, "kernel")
        account = psutil.Process(server).username()
        assert account == f"{PREFIX}ann"
        import pwd

        pw = pwd.getpwnam(account)
        groups = sorted(os.getgrouplist(pw.pw_name, pw.pw_gid))
        for p in (server, pid):
            st = status_of(p)
            assert st["Uid"].split() == [str(pw.pw_uid)] * 4
            assert st["Gid"].split() == [str(pw.pw_gid)] * 4
            assert sorted(int(g) for g in st["Groups"].split()) == groups
            for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
                assert int(st[cap], 16) == 0, (p, cap, st[cap])
            assert st["NoNewPrivs"].strip() == "1"
            for ctrl in ("memory", "cpu", "pids"):
                assert cgroups_of(p)[ctrl] == f"/{CGROUP_PARENT}/{account}"
        # What ps shows, and what the learner's code sees, is the learner's own.
        assert "ipykernel_launcher" in " ".join(psutil.Process(pid).cmdline())
        env = psutil.Process(pid).environ()
        assert env["HOME"] == pw.pw_dir and env["USER"] == account
        assert run(k, "import os; print(os.getcwd())").strip() == pw.pw_dir
        # The limits of the learner's cgroup hold for the forked kernel.
        limit = Path(f"/sys/fs/cgroup/memory/{CGROUP_PARENT}/{account}/memory.limit_in_bytes")
        assert int(limit.read_text()) == 2**30
    finally:
        k.ws.close()


def test_first_cell_runs_with_the_lab_libraries_loaded(fork_hub):
    k = kernel(fork_hub, "bob")
    try:
        out = run(
            k,
            "import sys; print(all(m in sys.modules for m in "
            "('pandas', 'sklearn', 'fairlearn', 'shap', 'matplotlib')))\n"
            "import matplotlib; print(matplotlib.get_backend())",
        )
        assert out.split()[0] == "True"
        assert "inline" in out.split()[1]  # plots show in the notebook
    finally:
        k.ws.close()


def test_paths_from_home_are_the_learners_own(fork_hub):
    """Libraries that read $HOME at import (here JupyterLab's settings folder) use the learner's."""
    import pwd

    home = Path(pwd.getpwnam(f"{PREFIX}ann").pw_dir)
    base = f"{fork_hub.url}/user/ann"
    headers = {"Authorization": f"token {fork_hub.tokens['ann']}"}
    setting = "@jupyterlab/apputils-extension:themes"
    r = requests.put(
        f"{base}/lab/api/settings/{setting}",
        json={"raw": '{"theme": "JupyterLab Dark"}'},
        headers=headers,
        timeout=30,
    )
    assert r.status_code == 204, r.text
    settings_dir = home / ".jupyter/lab/user-settings/@jupyterlab/apputils-extension"
    saved = settings_dir / "themes.jupyterlab-settings"
    assert "JupyterLab Dark" in saved.read_text()


def test_memory_bomb_kills_only_that_kernel(fork_hub):
    ann, bob = kernel(fork_hub, "ann"), kernel(fork_hub, "bob")
    try:
        bob_pid = kernel_pid(bob)
        out = ann.execute("x = b'\\x01' * (3 * 2**30)", timeout=120)
        assert out["status"] == "dead", out
        assert psutil.pid_exists(hubtest.server_pid("ann"))
        assert run(bob, "print(6 * 7)").strip() == "42"
        assert kernel_pid(bob) == bob_pid
        # ann's server is fine and gives her a new kernel.
        again = kernel(fork_hub, "ann")
        assert run(again, "print('alive')").strip() == "alive"
        again.ws.close()
    finally:
        ann.ws.close()
        bob.ws.close()


def secrets_in_memory(pid, needles):
    """Return which of ``needles`` (str) are in the readable memory of process ``pid``."""
    found = set()
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            addr, perms = line.split()[:2]
            if not perms.startswith("r") or "[vvar]" in line or "[vsyscall]" in line:
                continue
            start, end = (int(x, 16) for x in addr.split("-"))
            try:
                mem.seek(start)
                data = mem.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
            found.update(n for n in needles if n.encode() in data)
    return sorted(found)


def test_no_secret_of_the_fork_servers_or_another_learner_is_visible(fork_hub):
    settings = fork_hub.settings
    state = Path(settings["paths"]["state_dir"])
    bob_server = hubtest.server_pid("bob")
    bob_token = psutil.Process(bob_server).environ()["JUPYTERHUB_API_TOKEN"]
    secrets = {
        "bob's server token": bob_token,
        "the admin service token": (state / "admin-service-token").read_text().strip(),
        "the proxy token": (state / "proxy-auth-token").read_text().strip(),
        "the cookie secret": (state / "jupyterhub_cookie_secret").read_bytes().hex()[:32],
    }
    k = kernel(fork_hub, "ann")
    try:
        # The learner can read all memory of her own processes (same account,
        # dumpable): none of them may hold a secret. Scanned from here, so the
        # scan itself puts no secret in her memory.
        for pid in (hubtest.server_pid("ann"), kernel_pid(k)):
            found = secrets_in_memory(pid, list(secrets.values()))
            assert not found, [name for name, value in secrets.items() if value in found]
        assert secrets_in_memory(bob_server, [bob_token]) == [bob_token]  # the scan works
        # Nothing in the environment but the learner's own; no file of the fork servers.
        env = json.loads(run(k, "import os, json; print(json.dumps(dict(os.environ)))"))
        assert env["JUPYTERHUB_USER"] == "ann"
        assert bob_token not in json.dumps(env)
        assert not any(key.startswith("MPLCONFIGDIR") for key in env)
        fds = json.loads(
            run(
                k,
                "import os, json\n"
                "print(json.dumps([os.readlink(f'/proc/self/fd/{f}') "
                "for f in os.listdir('/proc/self/fd') if os.path.exists(f'/proc/self/fd/{f}')]))",
            )
        )
        assert not [f for f in fds if "forkserver" in f or f.startswith("/root")], fds
        # The server fork server answers root only: its folder is closed to learners.
        servers, _ = forkservers_for(settings)
        out = k.execute(
            "import socket; s = socket.socket(socket.AF_UNIX)\n"
            f"s.connect({servers.socket('server')!r})"
        )
        assert out["error"] == "PermissionError", out
    finally:
        k.ws.close()


def test_a_kernel_the_fork_server_cannot_serve_starts_the_plain_way(fork_hub):
    """A kernel with its own PYTHONPATH needs a fresh interpreter: it starts normally."""
    import pwd
    import sys

    pw = pwd.getpwnam(f"{PREFIX}bob")
    spec_dir = Path(pw.pw_dir) / ".local/share/jupyter/kernels/own-path"
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (own path)",
        "language": "python",
        "env": {"PYTHONPATH": "/opt"},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    for path in [spec_dir, *list(spec_dir.parents)[:4]]:
        os.chown(path, pw.pw_uid, pw.pw_gid)
    k = hubtest.Kernel(fork_hub, "bob", fork_hub.tokens["bob"], kernel_name="own-path")
    try:
        pid = kernel_pid(k)
        assert psutil.Process(pid).ppid() == hubtest.server_pid("bob")  # not forked
        assert run(k, "import os; print(os.environ['PYTHONPATH'])").strip() == "/opt"
    finally:
        k.ws.close()


def test_learners_kernels_cannot_signal_or_trace_each_other(fork_hub):
    ann, bob = kernel(fork_hub, "ann"), kernel(fork_hub, "bob")
    try:
        bob_pid = kernel_pid(bob)
        code = (
            "import ctypes, os\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "res = []\n"
            f"try:\n    os.kill({bob_pid}, 0); res.append('signal')\n"
            "except PermissionError: pass\n"
            f"if libc.ptrace(16, {bob_pid}, 0, 0) == 0: res.append('ptrace')\n"  # PTRACE_ATTACH
            f"try:\n    open('/proc/{bob_pid}/environ').read(); res.append('environ')\n"
            "except PermissionError: pass\n"
            f"try:\n    open('/proc/{bob_pid}/mem', 'rb').read(1); res.append('mem')\n"
            "except (PermissionError, OSError): pass\n"
            "print(res)"
        )
        assert run(ann, code).strip() == "[]"
        assert run(bob, "print('still here')").strip() == "still here"
    finally:
        ann.ws.close()
        bob.ws.close()


def test_interrupt_and_restart_from_the_jupyter_api(fork_hub):
    k = kernel(fork_hub, "ann")
    headers = k.headers
    try:
        first = kernel_pid(k)
        msg = k.execute  # run a long cell, interrupt it over the REST API
        import threading

        result = {}
        t = threading.Thread(target=lambda: result.update(msg("import time; time.sleep(120)")))
        t.start()
        time.sleep(2)
        r = requests.post(f"{k.base}/api/kernels/{k.id}/interrupt", headers=headers, timeout=30)
        assert r.status_code == 204
        t.join(60)
        assert result.get("error") == "KeyboardInterrupt", result
        assert kernel_pid(k) == first
        run(k, "marker = 1")
        r = requests.post(f"{k.base}/api/kernels/{k.id}/restart", headers=headers, timeout=60)
        assert r.status_code == 200
        k.reconnect()
        deadline = time.monotonic() + 30
        while k.state() != "idle" and time.monotonic() < deadline:
            time.sleep(0.2)
        second = kernel_pid(k)
        assert second != first and not psutil.pid_exists(first)
        assert psutil.Process(second).ppid() == zygote(fork_hub, "kernel")
        out = k.execute("marker")
        assert out["error"] == "NameError", out
    finally:
        k.ws.close()


def test_random_streams_differ_between_forks(fork_hub):
    code = "import random, numpy; print(random.random(), numpy.random.rand())"
    kernels = [kernel(fork_hub, "ann"), kernel(fork_hub, "ann"), kernel(fork_hub, "bob")]
    try:
        draws = [run(k, code).split() for k in kernels]
        assert len({d[0] for d in draws}) == 3, draws
        assert len({d[1] for d in draws}) == 3, draws
    finally:
        for k in kernels:
            k.ws.close()


def test_the_kernel_fork_server_refuses_root_and_strangers(fork_hub):
    servers, _ = forkservers_for(fork_hub.settings)
    with pytest.raises(ForkError, match="root"):
        fork_child(servers.socket("kernel"), {"argv": ["x"], "env": {}})


def test_killing_the_fork_servers_keeps_learners_and_they_come_back(fork_hub):
    k = kernel(fork_hub, "bob")
    try:
        before = {role: zygote(fork_hub, role) for role in ("server", "kernel")}
        server = hubtest.server_pid("bob")
        pid = kernel_pid(k)
        for z in before.values():
            os.kill(z, signal.SIGKILL)
        time.sleep(2)
        assert psutil.pid_exists(server) and psutil.pid_exists(pid)
        assert run(k, "print(1 + 1)").strip() == "2"
        # The hub's spawner starts new ones within seconds.
        assert hubtest.wait_until(
            lambda: all(zygote(fork_hub, r) not in (None, before[r]) for r in before), timeout=90
        )
        # A kernel started now comes from the new kernel fork server.
        k2 = kernel(fork_hub, "bob")
        assert psutil.Process(kernel_pid(k2)).ppid() == zygote(fork_hub, "kernel")
        k2.ws.close()
    finally:
        k.ws.close()


def test_forked_server_survives_a_hub_restart(fork_hub):
    server = hubtest.server_pid("ann")
    assert psutil.Process(server).name() == "ai4scale-server"  # forked (its parent may be gone)
    proxy = proxy_pid(fork_hub.settings)
    fork_hub.proc.send_signal(signal.SIGTERM)
    fork_hub.proc.wait(90)
    restarted = hubtest.start_hub(fork_hub.settings, fork_hub.settings_file)
    fork_hub.proc = restarted.proc
    assert proxy_pid(fork_hub.settings) == proxy
    assert hubtest.server_pid("ann") == server
    model = fork_hub.admin("GET", "/users/ann").json()
    assert model["servers"][""]["ready"], model
    r = requests.get(
        f"{fork_hub.url}/user/ann/api/status",
        headers={"Authorization": f"token {fork_hub.tokens['ann']}"},
        timeout=30,
    )
    assert r.status_code == 200
    # The restarted hub watches the fork servers before anyone spawns.
    old = zygote(fork_hub, "kernel")
    os.kill(old, signal.SIGKILL)
    assert hubtest.wait_until(lambda: zygote(fork_hub, "kernel") not in (None, old), timeout=90)
    # Stopping it after the restart ends it and removes its cgroup.
    hubtest.stop(fork_hub, "ann")
    assert not psutil.pid_exists(server) or psutil.Process(server).status() == "zombie"
    assert not Path(f"/sys/fs/cgroup/memory/{CGROUP_PARENT}/{PREFIX}ann").exists()


def test_plain_start_when_fork_is_off():
    """``[spawn] fork = false`` and ``[kernels] fork = false`` give JupyterHub's plain processes."""
    from ai4scale.hub import apply_config, default_settings
    from traitlets.config import Config

    settings = default_settings()
    settings["spawn"]["fork"] = settings["kernels"]["fork"] = False
    c = apply_config(Config(), settings)
    assert c.SandboxSpawner.fork_servers is False and c.SandboxSpawner.fork_kernels is False
    settings["spawn"]["fork"] = settings["kernels"]["fork"] = True
    c = apply_config(Config(), settings)
    assert c.SandboxSpawner.fork_servers is True and c.SandboxSpawner.fork_kernels is True


def test_a_killed_server_closes_the_open_notebooks_connection(fork_hub):
    """The proxy ends the browser's websocket when the server's side ends (it used to hang)."""
    import websocket

    k = kernel(fork_hub, "bob")
    server = hubtest.server_pid("bob")
    try:
        assert run(k, "print('ok')").strip() == "ok"
        os.kill(server, signal.SIGKILL)
        k.ws.settimeout(20)
        started = time.monotonic()
        with pytest.raises(websocket.WebSocketConnectionClosedException):
            while time.monotonic() - started < 20:
                k.ws.recv()
        assert time.monotonic() - started < 20
    finally:
        k.ws.close()
