"""``ai4scale up --service``, ``status``, ``restart`` and ``down`` as an administrator runs them.

systemd is not the init system here, so ``--service`` runs the proxy and the
hub detached (the systemd units themselves are checked in test_daemons.py).
A learner's kernel holds a variable through ``ai4scale restart`` (same
websocket) and through ``ai4scale restart --proxy`` (the websocket drops,
the client reconnects, the kernel is the same); ``ai4scale down`` leaves
nothing running.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import hubtest
import psutil
import pytest
from ai4scale.hub import daemons
from ai4scale.hub.forkserver import forkservers_for
from conftest import TEST_CGROUP_PARENT, TEST_USER_PREFIX

PREFIX, CGROUPS = f"{TEST_USER_PREFIX}s-", f"{TEST_CGROUP_PARENT}-svc"
LEARNER, PASSWORD = "tsvc", "learner-pass-tsvc"


def ai4scale(settings_file, *args, timeout=300):
    result = subprocess.run(
        [sys.executable, "-m", "ai4scale", "--config", str(settings_file), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",
    )
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def admin():
    """A settings file and roster; whatever runs is stopped afterwards."""
    from ai4scale.hub.accounts import AccountStore
    from ai4scale.hub.roster import read_roster

    state = Path(tempfile.mkdtemp(prefix="ai4scale-svc-"))
    settings_file, settings = hubtest.write_settings(
        state, user_prefix=PREFIX, cgroup_parent=CGROUPS, course_extra="enabled = false"
    )
    state.chmod(0o700)
    store = AccountStore.from_settings(settings)
    roster = {LEARNER: ("learner", "", PASSWORD)}
    store.import_roster(read_roster(hubtest.write_roster(state / "roster.csv", roster)))
    store.set_password(LEARNER, PASSWORD)
    store.close()
    try:
        yield settings_file, settings
    finally:
        ai4scale(settings_file, "down")
        daemons.stop_hub(settings)
        daemons.stop_proxy(settings)
        daemons.stop_forkservers(settings)
        hubtest.remove_accounts(PREFIX, CGROUPS)
        shutil.rmtree(state, ignore_errors=True)
        shutil.rmtree(settings["paths"]["datasets_dir"], ignore_errors=True)


def test_service_mode_restart_and_down(admin):
    settings_file, settings = admin
    rc, out = ai4scale(settings_file, "up", "--service", "--no-demo", "--no-datasets")
    assert rc == 0, out
    assert "run detached" in " ".join(out.split()), out
    rc, out = ai4scale(settings_file, "status")
    assert rc == 0 and "hub:   answers" in out and "proxy: answers" in out, out
    hub_pid, proxy_pid = daemons.hub_pid(settings), daemons.proxy_pid(settings)
    assert hub_pid and proxy_pid
    forkservers, roles = forkservers_for(settings)
    assert roles == ["server", "kernel"]
    zygotes = {role: forkservers.pid(role) for role in roles}
    assert all(zygotes.values()), out
    for role, pid in zygotes.items():
        assert f"{role} fork server: running (pid {pid})" in out, out

    # A learner at work.
    hub = hubtest.RunningHub(settings, settings_file, None, daemons.hub_log(settings))
    hub.token = (Path(settings["paths"]["state_dir"]) / "admin-service-token").read_text().strip()
    s, r = hubtest.login(hub, LEARNER, PASSWORD)
    assert r.status_code == 302, r.text
    token = hubtest.user_token(s, hub, LEARNER)
    hubtest.spawn(hub, LEARNER, token=token)
    server = hubtest.server_pid(LEARNER)
    kernel = hubtest.Kernel(hub, LEARNER, token)
    assert kernel.execute("kept = 'still here'")["status"] == "ok"

    # New settings are read by a restart (here: the idle culler's period).
    text = settings_file.read_text().replace("every = 60", "every = 120")
    settings_file.write_text(text)
    rc, out = ai4scale(settings_file, "restart")
    assert rc == 0, out
    assert "Restarted" in out, out
    assert daemons.hub_pid(settings) not in (None, hub_pid)
    assert daemons.proxy_pid(settings) == proxy_pid
    culler = [
        p
        for p in psutil.Process(daemons.hub_pid(settings)).children(recursive=True)
        if "jupyterhub_idle_culler" in " ".join(p.cmdline())
    ]
    assert culler and "--cull-every=120" in culler[0].cmdline()
    out = kernel.execute("print(kept)")  # the same websocket
    assert out["stdout"].strip() == "still here", out
    # The fork servers started anew (an upgrade's code); what they forked runs on.
    assert hubtest.wait_until(lambda: all(forkservers.pid(r) for r in roles), timeout=60)
    assert all(forkservers.pid(r) != zygotes[r] for r in roles)
    assert hubtest.server_pid(LEARNER) == server

    # The proxy restarted too: connections drop, the client reconnects.
    rc, out = ai4scale(settings_file, "restart", "--proxy")
    assert rc == 0, out
    assert daemons.proxy_pid(settings) not in (None, proxy_pid)
    assert kernel.execute("print(kept)")["status"] == "dead"  # the old connection is gone
    kernel.reconnect()
    out = kernel.execute("print(kept)")
    assert out["stdout"].strip() == "still here", out
    assert hubtest.server_pid(LEARNER) == server

    # down: servers, hub and proxy stop; status says so.
    kernel.shutdown()
    rc, out = ai4scale(settings_file, "down")
    assert rc == 0, out
    assert "1 server(s) stopped" in out and "hub: stopped" in out and "proxy: stopped" in out, out
    assert "server fork server: stopped" in out and "kernel fork server: stopped" in out, out
    assert not any(forkservers.pid(r) for r in roles)
    assert hubtest.server_pid(LEARNER) is None
    assert daemons.hub_pid(settings) is None and daemons.proxy_pid(settings) is None
    rc, out = ai4scale(settings_file, "status")
    assert rc == 3, out


def test_the_command_is_on_roots_path():
    """``sudo ai4scale restart`` as the README says: ./sandbox links the command."""
    found = shutil.which("ai4scale", path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin")
    assert found, "ai4scale is not on root's PATH"
    result = subprocess.run([found, "status", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "hub" in result.stdout, result.stdout + result.stderr


def _up_foreground(settings_file, settings):
    """Start ``ai4scale up`` in the foreground, as a person at a terminal; wait for the hub."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ai4scale", "--config", str(settings_file), "up"]
        + ["--no-demo", "--no-datasets"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd="/",
    )
    assert hubtest.wait_until(lambda: daemons.hub_answers(settings), timeout=120), proc.poll()
    return proc


def test_foreground_sigterm_keeps_learners_and_ctrl_c_stops_all(admin):
    import signal

    settings_file, settings = admin
    up = _up_foreground(settings_file, settings)
    hub = hubtest.RunningHub(settings, settings_file, None, daemons.hub_log(settings))
    hub.token = (Path(settings["paths"]["state_dir"]) / "admin-service-token").read_text().strip()
    hubtest.spawn(hub, LEARNER)
    server = hubtest.server_pid(LEARNER)
    # A service manager's stop: the hub stops, the learner's server and the proxy stay.
    up.send_signal(signal.SIGTERM)
    up.wait(120)
    assert not daemons.hub_answers(settings) and daemons.hub_pid(settings) is None
    assert hubtest.server_pid(LEARNER) == server and daemons.proxy_pid(settings)
    # Started again, the hub has the server; Ctrl-C stops everything.
    up = _up_foreground(settings_file, settings)
    model = hub.admin("GET", f"/users/{LEARNER}").json()
    assert model["servers"][""]["ready"], model
    up.send_signal(signal.SIGINT)
    out, _ = up.communicate(timeout=180)
    assert up.returncode == 0, out
    assert "Stopped: 1 server(s) stopped, hub: stopped, proxy: stopped" in " ".join(out.split()), (
        out
    )
    assert hubtest.server_pid(LEARNER) is None
    assert daemons.hub_pid(settings) is None and daemons.proxy_pid(settings) is None
