"""Helpers for tests that start a real JupyterHub, log in and run kernels.

Index:
- :class:`RunningHub` -- a hub process started from our settings, with its admin token.
- :func:`login` -- a ``requests`` session logged in through the real login form.
- :func:`spawn` / :func:`stop` -- start and stop a user's server through the REST API.
- :class:`Kernel` -- run code in a kernel of a user's server over the websocket.
- :func:`write_settings`, :func:`write_roster`, :func:`remove_accounts` -- test hub set-up.
- :func:`prepare_state` -- all of a hub's set-up at once: settings, install steps, labs, roster.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests
import websocket
from ai4scale.hub import daemons, load_settings
from ai4scale.hub._state import admin_token_file
from ai4scale.hub.cli_up import share_team_workspaces, wait_for_hub


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_settings(
    state,
    *,
    user_prefix,
    cgroup_parent,
    memory="1G",
    culler_timeout=3600,
    culler_every=60,
    hub_extra="",
    datasets_dir=None,
    course_extra="",
    profile="local",
    extra="",
):
    """Write a settings file for a test hub under ``state``; return (path, settings).

    ``datasets_dir`` defaults to an empty folder beside ``state``; pass the
    prepared one (``/srv/ai4scale/datasets``) when learners' kernels load data.
    The course service gets a free port; ``course_extra`` adds ``[course]`` keys;
    ``extra`` is appended (whole sections, e.g. ``[docker]`` of ``profile = "docker"``).
    """
    state = Path(state)
    state.mkdir(parents=True, exist_ok=True)
    if datasets_dir is None:
        # Beside the (root-only) state directory: learners must be able to read it.
        datasets = state.parent / f"{state.name}-datasets"
        datasets.mkdir(exist_ok=True)
        datasets.chmod(0o755)
    else:
        datasets = Path(datasets_dir)
    venv = Path(os.environ.get("AI4SCALE_PREFIX", "/opt/ai4scale")) / "venv"
    text = f"""
profile = "{profile}"
[hub]
ip = "127.0.0.1"
port = {free_port()}
api_port = {free_port()}
proxy_api_port = {free_port()}
{hub_extra}
[paths]
state_dir = "{state}"
datasets_dir = "{datasets}"
venv = "{venv}"
[limits]
memory = "{memory}"
cpu = 1.0
processes = 256
[auth]
lockout_attempts = 3
lockout_seconds = 600
[culler]
timeout = {culler_timeout}
every = {culler_every}
[course]
port = {free_port()}
{course_extra}
[local]
user_prefix = "{user_prefix}"
cgroup_parent = "{cgroup_parent}"
{extra}
"""
    path = state / "ai4scale.toml"
    path.write_text(text)
    return path, load_settings(path)


def write_roster(path, roster):
    """Write a roster CSV from {username: (role, team, password)}."""
    lines = ["username,full_name,role,team"]
    lines += [f"{u},Test {u.title()},{role},{team}" for u, (role, team, _) in roster.items()]
    Path(path).write_text("\n".join(lines) + "\n")
    return path


def prepare_state(state, roster, *, user_prefix, cgroup_parent, labs=False, **settings_kw):
    """Make a hub's state directory as ``ai4scale up`` would: settings, install steps, roster.

    ``roster`` maps username -> (role, team, password); each password is set.
    With ``labs``, the service's labs folder is a copy of this checkout's labs
    (``True``: all; a list: those ids) in the root-only state directory.
    ``settings_kw`` go to :func:`write_settings`. Returns ``(settings file, settings)``.
    """
    import shutil

    from ai4scale.hub.accounts import AccountStore
    from ai4scale.hub.course import source_labs_dir
    from ai4scale.hub.installer import install_steps
    from ai4scale.hub.roster import read_roster

    state = Path(state)
    if labs:
        folder = state / "labs"
        extra = settings_kw.pop("course_extra", "")
        settings_kw["course_extra"] = f'labs_dir = "{folder}"\n{extra}'
    settings_file, settings = write_settings(
        state, user_prefix=user_prefix, cgroup_parent=cgroup_parent, **settings_kw
    )
    for step in install_steps(demo=False, datasets=False):
        step(settings)
    if labs:
        ignore = shutil.ignore_patterns("_*", ".*")
        if labs is True:
            shutil.copytree(source_labs_dir(), folder, ignore=ignore)
        else:
            for lab in labs:
                shutil.copytree(source_labs_dir() / lab, folder / lab, ignore=ignore)
    store = AccountStore.from_settings(settings)
    try:
        store.import_roster(read_roster(write_roster(state / "roster.csv", roster)))
        for name, (_, _, password) in roster.items():
            if password:
                store.set_password(name, password)
    finally:
        store.close()
    return settings_file, settings


def remove_accounts(user_prefix, cgroup_parent):
    """Remove the system users and cgroups a test hub left behind."""
    for line in Path("/etc/passwd").read_text().splitlines():
        name = line.split(":", 1)[0]
        if name.startswith(user_prefix):
            subprocess.run(["pkill", "-KILL", "-u", name], check=False)
            subprocess.run(["userdel", "-r", "-f", name], check=False, capture_output=True)
    for controller in ("memory", "cpu", "pids"):
        parent = Path("/sys/fs/cgroup") / controller / cgroup_parent
        if parent.is_dir():
            for child in parent.iterdir():
                if child.is_dir():
                    for pid in (child / "cgroup.procs").read_text().split():
                        subprocess.run(["kill", "-9", pid], check=False)
                    try:
                        child.rmdir()
                    except OSError:
                        pass


@dataclass
class RunningHub:
    """A JupyterHub process started with ``settings`` (see :func:`start_hub`)."""

    settings: dict
    settings_file: Path
    proc: subprocess.Popen
    log: Path
    token: str = field(default="")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.settings['hub']['port']}"

    @property
    def api(self):
        return self.url + "/hub/api"

    def admin(self, method, path, **kw):
        """Call the hub API as the ai4scale-admin service."""
        headers = {"Authorization": f"token {self.token}"}
        return requests.request(method, self.api + path, headers=headers, timeout=30, **kw)

    def log_text(self):
        return self.log.read_text(errors="replace")


def start_hub(settings, settings_file, *, config_file=None, timeout=90):
    """Start the proxy and JupyterHub as ``ai4scale up`` does; wait until the hub answers."""
    state = Path(settings["paths"]["state_dir"])
    state.mkdir(parents=True, exist_ok=True)
    daemons.reap_orphans(settings)
    daemons.ensure_proxy(settings, settings_file)
    log = state / "jupyterhub.log"
    proc = daemons.start_hub(settings, settings_file, config_file=config_file, log=log)
    hub = RunningHub(settings, Path(settings_file), proc, log)
    if not wait_for_hub(hub.url, proc, timeout=timeout):
        proc.kill()
        daemons.stop_proxy(settings)
        raise RuntimeError("hub did not start:\n" + hub.log_text()[-4000:])
    hub.token = admin_token_file(settings).read_text().strip()
    # As ``ai4scale up`` does once the hub answers: share the team workspaces.
    print(share_team_workspaces(settings))
    return hub


def stop_hub(hub, timeout=60, *, proxy=True):
    """Stop every server, the hub and its managed services, then the proxy.

    Everything is stopped even when a step fails; then
    :class:`ServerDidNotStop` is raised naming what did not stop in time.
    """
    problems = []
    try:
        users = hub.admin("GET", "/users").json()
    except (requests.RequestException, ValueError):
        users = []  # the hub is already gone: nothing to stop
    for user in users:
        if user.get("server") or user.get("pending"):
            try:
                stop(hub, user["name"])  # a collaboration workspace can take a minute
            except ServerDidNotStop as e:
                problems.append(str(e))
    # Managed services (the idle culler) keep the hub waiting at shutdown: stop
    # this hub's first (not another test run's).
    for service in _managed_services(hub):
        service.terminate()
    hub.proc.send_signal(signal.SIGTERM)
    try:
        hub.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        problems.append(f"the hub did not exit within {timeout} s of SIGTERM: killed")
        hub.proc.kill()
        hub.proc.wait(10)
    if proxy:
        daemons.stop_proxy(hub.settings)
        daemons.stop_forkservers(hub.settings)
    if problems:
        raise ServerDidNotStop("\n\n".join(problems))


def _managed_services(hub):
    """The processes of this hub's managed services (the idle culler)."""
    try:
        children = psutil.Process(hub.proc.pid).children(recursive=True)
    except psutil.Error:
        return []
    found = []
    for child in children:
        try:
            if any("jupyterhub_idle_culler" in arg for arg in child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def wait_until(predicate, timeout=30, interval=0.3):
    """Poll ``predicate`` until it is true; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def login(hub, username, password):
    """Log in through the login form; return (session, response)."""
    s = requests.Session()
    r = s.get(hub.url + "/hub/login", timeout=30)
    xsrf = s.cookies.get("_xsrf") or _xsrf_from_html(r.text)
    r = s.post(
        hub.url + "/hub/login",
        data={"username": username, "password": password, "_xsrf": xsrf},
        allow_redirects=False,
        timeout=30,
    )
    return s, r


def _xsrf_from_html(html):
    m = re.search(r'name="_xsrf" value="([^"]+)"', html)
    return m.group(1) if m else ""


def session_api(s, hub, method, path, **kw):
    """Call the hub API with a logged-in browser session (cookie + XSRF header)."""
    headers = {"X-XSRFToken": s.cookies.get("_xsrf", "")}
    return s.request(method, hub.api + path, headers=headers, timeout=30, **kw)


def user_token(s, hub, username):
    """Create an API token for the logged-in ``username``, as the user would."""
    r = session_api(s, hub, "POST", f"/users/{username}/tokens", json={"note": "test"})
    r.raise_for_status()
    return r.json()["token"]


def spawn(hub, username, *, token=None, timeout=120):
    """Start ``username``'s server and wait until it is ready; return the user model."""
    token = token or hub.token
    headers = {"Authorization": f"token {token}"}
    r = requests.post(f"{hub.api}/users/{username}/server", headers=headers, timeout=30)
    if r.status_code not in (201, 202, 400):  # 400: already running
        raise RuntimeError(f"spawn {username}: {r.status_code} {r.text}")

    def ready():
        model = hub.admin("GET", f"/users/{username}").json()
        server = model.get("servers", {}).get("", {})
        return model if server.get("ready") else None

    model = wait_until(ready, timeout=timeout, interval=0.5)
    if not model:
        raise RuntimeError(f"server of {username} not ready:\n" + hub.log_text()[-4000:])
    return model


class ServerDidNotStop(AssertionError):
    """A user's server was still there (running or pending stop) after the timeout."""


def stop(hub, username, timeout=120):
    """Stop ``username``'s server and wait until it is gone, not just pending stop.

    The hub drops the route (``server``) at once but may take a while to end
    the process (``pending: "stop"``); a start during that time is refused.

    Raises
    ------
    ServerDidNotStop
        When the hub refuses the stop, or the server is still there after
        ``timeout`` seconds: with the hub's user model and the server
        process's state, for the test to fail on it.
    """
    r = hub.admin("DELETE", f"/users/{username}/server")
    if r.status_code not in (202, 204):
        raise ServerDidNotStop(f"stop {username}: {r.status_code} {r.text}")

    def gone():
        model = hub.admin("GET", f"/users/{username}").json()
        return not model.get("server") and not model.get("pending")

    if wait_until(gone, timeout=timeout):
        return True
    model = hub.admin("GET", f"/users/{username}").json()
    raise ServerDidNotStop(
        f"the server of {username} did not stop within {timeout} s: "
        f"server={model.get('server')!r} pending={model.get('pending')!r}; "
        f"{process_state(server_pid(username))}\n" + hub.log_text()[-3000:]
    )


def process_state(pid):
    """Describe process ``pid`` (status, command line) for a failure message."""
    if pid is None:
        return "no server process"
    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            return f"process {pid} {proc.status()}: {' '.join(proc.cmdline())[:200]}"
    except psutil.Error as e:
        return f"process {pid}: {e}"


def server_pid(username):
    """Return the pid of ``username``'s running single-user server, or None."""
    for proc in psutil.process_iter(["cmdline"]):
        if not any("jupyterhub-singleuser" in arg for arg in proc.info["cmdline"] or []):
            continue
        try:
            if proc.environ().get("JUPYTERHUB_USER") == username:
                return proc.pid
        except psutil.Error:
            continue
    return None


class Kernel:
    """A kernel of a user's server, driven over the Jupyter websocket protocol."""

    def __init__(self, hub, username, token, *, kernel_name="python3"):
        self.base = f"{hub.url}/user/{username}"
        self.headers = {"Authorization": f"token {token}"}
        r = requests.post(
            self.base + "/api/kernels", json={"name": kernel_name}, headers=self.headers, timeout=60
        )
        r.raise_for_status()
        self.id = r.json()["id"]
        self.ws = self._connect()

    def _connect(self):
        url = self.base.replace("http", "ws", 1) + f"/api/kernels/{self.id}/channels"
        return websocket.create_connection(
            url, header=[f"Authorization: {self.headers['Authorization']}"], timeout=120
        )

    def reconnect(self):
        self.ws.close()
        self.ws = self._connect()

    def state(self):
        """The kernel's ``execution_state`` as its server reports it (``idle``, ``busy``, ...)."""
        r = requests.get(f"{self.base}/api/kernels/{self.id}", headers=self.headers, timeout=30)
        r.raise_for_status()
        return r.json()["execution_state"]

    def execute(self, code, *, timeout=120):
        """Run ``code``; return a dict with stdout, stderr, error (ename) and status.

        ``status`` is ``"dead"`` when the kernel died (e.g. killed for memory)
        before it answered.
        """
        msg_id = uuid.uuid4().hex
        msg = {
            "header": {
                "msg_id": msg_id,
                "msg_type": "execute_request",
                "username": "test",
                "session": uuid.uuid4().hex,
                "version": "5.3",
                "date": "",
            },
            "parent_header": {},
            "metadata": {},
            "content": {
                "code": code,
                "silent": False,
                "store_history": False,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
            "channel": "shell",
            "buffers": [],
        }
        self.ws.send(json.dumps(msg))
        out = {"stdout": "", "stderr": "", "error": None, "status": None, "results": []}
        # The reply (shell) and the idle status (iopub) come on different
        # channels, in either order: done when both have arrived.
        idle = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                break
            except websocket.WebSocketConnectionClosedException:
                data = ""
            if not data:  # the connection closed: the server is gone
                out["status"] = "dead"
                break
            reply = json.loads(data)
            mtype = reply.get("msg_type") or reply.get("header", {}).get("msg_type")
            content = reply.get("content", {})
            if mtype == "status" and content.get("execution_state") in ("restarting", "dead"):
                out["status"] = "dead"
                break
            if reply.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if mtype == "stream":
                out[content["name"]] += content["text"]
            elif mtype == "error":
                out["error"] = content["ename"]
                out["stderr"] += "\n".join(content.get("traceback", []))
            elif mtype in ("execute_result", "display_data"):
                out["results"].append(content["data"].get("text/plain", ""))
            elif mtype == "execute_reply":
                out["status"] = content["status"]
                if idle:
                    break
            elif mtype == "status" and content.get("execution_state") == "idle":
                idle = True
                if out["status"]:
                    break
        return out

    def shutdown(self):
        try:
            self.ws.close()
        finally:
            requests.delete(f"{self.base}/api/kernels/{self.id}", headers=self.headers, timeout=30)
