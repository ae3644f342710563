"""The sandbox's processes without a hub: parent-death launcher, the proxy daemon, systemd units."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import hubtest
import psutil
import pytest
import requests
from ai4scale.hub import daemons
from ai4scale.hub.daemons import parent_death


def test_a_wrapped_command_ends_when_its_parent_is_killed(tmp_path):
    marker = tmp_path / "child.pid"
    # A stand-in for the hub: starts a wrapped child in a session of its own
    # (as JupyterHub starts services), then waits to be killed.
    parent_code = textwrap.dedent(
        f"""
        import subprocess, sys, time
        from ai4scale.hub.daemons.parent_death import wrap
        cmd = wrap([sys.executable, "-c",
                    "import os, time; open({str(marker)!r}, 'w').write(str(os.getpid())); "
                    "time.sleep(300)"])
        subprocess.Popen(cmd, start_new_session=True)
        time.sleep(300)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code])
    try:
        assert hubtest.wait_until(lambda: marker.exists() and marker.read_text(), timeout=20)
        child = psutil.Process(int(marker.read_text()))
        assert child.ppid() == parent.pid
        assert "parent_death" not in " ".join(child.cmdline()), "the launcher did not exec"
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        child.wait(10)  # raises TimeoutExpired if it outlived its parent
    finally:
        parent.kill()


def test_the_launcher_starts_nothing_when_the_parent_is_already_gone(tmp_path):
    flag = tmp_path / "started"
    cmd = parent_death.wrap(["touch", str(flag)], parent_pid=1)  # not our parent
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert not flag.exists()
    assert "gone" in result.stderr


@pytest.fixture
def proxy_settings(tmp_path):
    state = tmp_path / "state"
    settings_file, settings = hubtest.write_settings(
        state, user_prefix="ai4t-px-", cgroup_parent="ai4scale-test-px"
    )
    state.chmod(0o700)
    yield settings_file, settings
    daemons.stop_proxy(settings)


def test_the_proxy_runs_on_its_own_and_keeps_its_token_off_the_command_line(proxy_settings):
    settings_file, settings = proxy_settings
    assert not daemons.proxy_answers(settings)
    assert daemons.ensure_proxy(settings, settings_file).startswith("proxy: started")
    pid = daemons.proxy_pid(settings)
    assert pid and daemons.proxy_answers(settings)
    proc = psutil.Process(pid)
    assert proc.ppid() == os.getpid() and os.getsid(pid) == pid  # a session of its own
    token = daemons.proxy_token(settings)
    assert token not in " ".join(proc.cmdline())
    assert (daemons.proxy_token_file(settings).stat().st_mode & 0o777) == 0o600
    # A wrong token is refused; the public port answers (no route to a hub yet).
    api = f"http://127.0.0.1:{settings['hub']['proxy_api_port']}/api/routes"
    assert requests.get(api, headers={"Authorization": "token nope"}, timeout=5).status_code == 403
    public = requests.get(f"http://127.0.0.1:{settings['hub']['port']}/hub/", timeout=10)
    assert public.status_code in (404, 502, 503)
    # Idempotent: a second call finds it.
    assert daemons.ensure_proxy(settings, settings_file) == f"proxy: running (pid {pid})"
    assert daemons.stop_proxy(settings) == "proxy: stopped"
    assert not daemons.proxy_answers(settings)
    assert daemons.stop_proxy(settings) == "proxy: not running"


def test_a_stale_pid_file_is_not_taken_for_the_proxy(proxy_settings):
    settings_file, settings = proxy_settings
    daemons.proxy_pid_file(settings).write_text(f"{os.getpid()}\n")  # alive, but not a proxy
    assert daemons.proxy_pid(settings) is None
    assert daemons.ensure_proxy(settings, settings_file).startswith("proxy: started")


def test_status_says_nothing_runs(proxy_settings):
    settings_file, _ = proxy_settings
    result = subprocess.run(
        [sys.executable, "-m", "ai4scale", "--config", str(settings_file), "status"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "hub:   does not answer" in result.stdout


def test_systemd_units(tmp_path, proxy_settings):
    settings_file, settings = proxy_settings
    units = daemons.unit_files(settings, settings_file)
    proxy, hub = units[daemons.PROXY_UNIT], units[daemons.HUB_UNIT]
    assert "-m ai4scale.hub.daemons.proxy --settings" in proxy
    assert daemons.proxy_token(settings) not in proxy + hub
    assert (
        f"Wants={daemons.PROXY_UNIT}" in hub and f"After=network.target {daemons.PROXY_UNIT}" in hub
    )
    # systemd's default KillMode would kill every learner's server at a restart.
    assert "KillMode=process" in hub
    assert "Restart=always" in hub and "Restart=always" in proxy
    assert f"Environment=AI4SCALE_CONFIG={settings_file}" in hub
    # Written only (systemd is not the init system here); verified by systemd itself.
    done = daemons.install_units(settings, settings_file, unit_dir=tmp_path / "units", start=False)
    assert len(done) == 2
    assert (
        daemons.install_units(settings, settings_file, unit_dir=tmp_path / "units", start=False)
        == []
    )
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    result = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / "units" / n) for n in units)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if "ai4scale" in line and "Failed to" not in line or "Unknown key" in line
    ]
    assert result.returncode == 0 and not problems, result.stdout + result.stderr


def test_reap_leaves_unrelated_processes_alone(proxy_settings):
    _, settings = proxy_settings
    other = psutil.Popen(
        ["sleep", "60"],
        env=dict(
            os.environ,
            JUPYTERHUB_SERVICE_NAME="course",
            JUPYTERHUB_API_URL="http://127.0.0.1:1/hub/api",
        ),
    )
    try:
        assert daemons.reap_orphans(settings) == []
        time.sleep(0.2)
        assert other.is_running()
    finally:
        other.kill()


def test_the_proxy_names_the_client_itself(proxy_settings):
    """A client's own X-Real-Ip (the hub would log and rate-limit by it) is replaced."""
    import http.server
    import json
    import threading

    settings_file, settings = proxy_settings
    daemons.ensure_proxy(settings, settings_file)

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = json.dumps(dict(self.headers.items())).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = f"http://127.0.0.1:{settings['hub']['proxy_api_port']}/api/routes/echo"
        auth = {"Authorization": f"token {daemons.proxy_token(settings)}"}
        target = f"http://127.0.0.1:{server.server_address[1]}"
        assert requests.post(api, json={"target": target}, headers=auth, timeout=10).ok
        r = requests.get(
            f"http://127.0.0.1:{settings['hub']['port']}/echo/",
            headers={"X-Real-Ip": "203.0.113.9", "X-Forwarded-For": "203.0.113.8"},
            timeout=10,
        )
        seen = {k.lower(): v for k, v in r.json().items()}
        assert seen["x-real-ip"] == "127.0.0.1", seen
        assert seen["x-forwarded-for"].split(",")[-1].strip() == "127.0.0.1", seen
    finally:
        server.shutdown()
