"""The docker profile end to end: a real hub whose learners' servers are real containers.

The hub runs on this machine (as ``ai4scale up`` runs it) with ``profile =
"docker"`` and ``[docker] network = "host"``: each learner's server is a
container of the single-user image on the host network, listening on
127.0.0.1 at a port of its own. Learners of this module are named ``dkp...``
and their containers and volumes ``ai4scale-dkp...`` / ``ai4scale-home-dkp...``:
only those are removed at the end.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import docker
import hubtest
import pytest
import requests
from hubtest import Kernel, login, spawn, user_token

#: Test learners: username -> (role, team, password). ``dkp_ben`` is not a
#: valid DNS label (``_``): DockerSpawner escapes it in container and volume names.
ROSTER = {
    "dkpanna": ("learner", "", "anna-password-1"),
    "dkp_ben": ("learner", "", "ben-password-12"),
    "dkpdead": ("learner", "", "dead-password-1"),
    "dkpdeadb": ("learner", "", "dead-password-2"),
}

#: What the dead-at-start learner's container prints before it exits.
DEATH_WORDS = "ai4scale-test: this server cannot start (on purpose)"

#: Hub configuration of this module: the sandbox's, and a start command that
#: fails at once for ``dkpdead`` only (both lines on stderr: Docker keeps
#: no order between its stdout and stderr streams).
CONFIG = textwrap.dedent(
    f"""
    from ai4scale.hub import apply_config

    apply_config(c)  # noqa: F821


    def _broken_start(spawner):
        if spawner.user.name.startswith("dkpdead"):
            script = "exec >&2; sleep 2; echo line-one; echo '{DEATH_WORDS}'; exit 3"
            spawner.cmd = ["sh", "-c", script]


    c.Spawner.pre_spawn_hook = _broken_start  # noqa: F821
    """
)


def _remove_ours(client):
    """Remove this module's containers and home volumes (never anyone else's)."""
    for container in client.containers.list(all=True, filters={"name": "ai4scale-dkp"}):
        container.remove(force=True)
    for volume in client.volumes.list(filters={"name": "ai4scale-home-dkp"}):
        volume.remove(force=True)


@pytest.fixture(scope="module")
def docker_hub(docker_client, singleuser_image):
    """A hub of the docker profile on the host network, with the roster above."""
    if os.geteuid() != 0:
        pytest.fail("the hub tests start JupyterHub as root")
    _remove_ours(docker_client)
    state = Path(tempfile.mkdtemp(prefix="ai4scale-dkp-"))
    settings_file, settings = hubtest.prepare_state(
        state,
        ROSTER,
        user_prefix="dkp-",
        cgroup_parent="ai4scale-dkp",
        memory="1G",
        profile="docker",
        extra=f'[docker]\nimage = "{singleuser_image}"\nnetwork = "host"\n',
    )
    (Path(settings["paths"]["datasets_dir"]) / "hello.csv").write_text("a,b\n1,2\n")
    config = state / "jupyterhub_config.py"
    config.write_text(CONFIG)
    hub = hubtest.start_hub(settings, settings_file, config_file=config)
    try:
        yield hub
    finally:
        try:
            hubtest.stop_hub(hub)
        finally:
            _remove_ours(docker_client)
            shutil.rmtree(state, ignore_errors=True)
            shutil.rmtree(settings["paths"]["datasets_dir"], ignore_errors=True)


@pytest.fixture(scope="module")
def anna(docker_hub):
    """Anna, logged in through the form, with her server started by that login."""
    s, r = login(docker_hub, "dkpanna", ROSTER["dkpanna"][2])
    assert r.status_code == 302, r.text
    # Where the login sends her: the hub starts her server.
    s.get(docker_hub.url + r.headers["Location"], timeout=60)
    spawn(docker_hub, "dkpanna", timeout=180)
    return s, user_token(s, docker_hub, "dkpanna")


def inspect(client, name):
    return client.api.inspect_container(name)


def test_login_gives_a_container_with_the_limits(docker_hub, docker_client, anna):
    info = inspect(docker_client, "ai4scale-dkpanna")
    assert info["State"]["Running"]
    host = info["HostConfig"]
    assert host["NetworkMode"] == "host"
    assert host["Memory"] == 1024**3
    assert host["MemorySwap"] == 1024**3, "swap past the memory limit"
    assert host["NanoCpus"] == 10**9 or host["CpuQuota"] == host["CpuPeriod"] == 100_000
    assert host["PidsLimit"] == 256
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["AutoRemove"] is False  # kept until read, removed by the hub
    assert info["Config"]["User"] == "1000:100"
    mounts = {m["Destination"]: m for m in info["Mounts"]}
    home = mounts["/home/jovyan"]
    assert (home["Type"], home["Name"], home["RW"]) == ("volume", "ai4scale-home-dkpanna", True)
    datasets = docker_hub.settings["paths"]["datasets_dir"]
    assert mounts[datasets]["Type"] == "bind"
    assert mounts[datasets]["RW"] is False
    # tini is PID 1, the server its child.
    top = docker_client.api.top("ai4scale-dkpanna", ps_args="-o pid,args")["Processes"]
    assert "tini" in top[0][1], top
    assert any("jupyterhub-singleuser" in p[1] for p in top), top
    # The proxy reaches it on the machine's loopback at a port of its own.
    model = docker_hub.admin("GET", "/users/dkpanna").json()
    assert model["servers"][""]["ready"]
    env = dict(e.split("=", 1) for e in info["Config"]["Env"])
    assert env["JUPYTERHUB_SERVICE_URL"].startswith("http://127.0.0.1:")
    assert env["JUPYTERHUB_API_URL"].startswith("http://127.0.0.1:")
    course_port = docker_hub.settings["course"]["port"]
    assert env["AI4SCALE_COURSE_URL"] == f"http://127.0.0.1:{course_port}/services/course/"
    assert env["AI4SCALE_DATASETS"] == datasets
    assert env["MEM_LIMIT"] == str(1024**3) and env["OMP_NUM_THREADS"] == "1"


def test_kernel_runs_as_jovyan_without_privileges_and_reads_datasets(docker_hub, anna):
    _, token = anna
    kernel = Kernel(docker_hub, "dkpanna", token)
    try:
        out = kernel.execute(
            "import os, pathlib, urllib.request\n"
            "wanted = ('CapEff', 'NoNewPrivs')\n"
            "caps = [l for l in open('/proc/self/status') if l.startswith(wanted)]\n"
            "print(os.getuid(), os.getgid(), os.getcwd(), ''.join(caps).split())\n"
            "ds = pathlib.Path(os.environ['AI4SCALE_DATASETS'])\n"
            "print((ds / 'hello.csv').read_text().splitlines()[0])\n"
            "try:\n"
            "    (ds / 'x').write_text('x')\n"
            "except OSError as e:\n"
            "    print('read-only', e.errno)\n"
            "u = os.environ['AI4SCALE_COURSE_URL']\n"
            "try:\n"
            "    urllib.request.urlopen(u, timeout=10)\n"
            "except urllib.error.HTTPError as e:\n"
            "    print('course answers', e.code)\n"
            "else:\n"
            "    print('course answers', 200)\n",
            timeout=120,
        )
    finally:
        kernel.shutdown()
    assert out["status"] == "ok", out
    lines = out["stdout"].splitlines()
    assert lines[0].startswith("1000 100 /home/jovyan"), lines
    assert "CapEff:" in lines[0] and "0000000000000000" in lines[0], lines
    assert "NoNewPrivs:" in lines[0] and lines[0].rstrip("]'").endswith("1"), lines
    assert lines[1] == "a,b"
    assert lines[2] == "read-only 30", lines  # EROFS
    assert lines[3].startswith("course answers "), lines


def test_memory_bomb_kills_only_the_kernel(docker_hub, docker_client, anna):
    _, token = anna
    before = inspect(docker_client, "ai4scale-dkpanna")
    kernel = Kernel(docker_hub, "dkpanna", token)
    try:
        out = kernel.execute("x = b'x' * (3 * 1024**3)\nprint('survived')", timeout=120)
        assert out["status"] in ("dead", "error"), out
        assert "survived" not in out["stdout"]
    finally:
        try:
            kernel.shutdown()
        except requests.RequestException:
            pass
    after = inspect(docker_client, "ai4scale-dkpanna")
    assert after["State"]["Running"]
    assert after["Id"] == before["Id"]
    assert after["State"]["StartedAt"] == before["State"]["StartedAt"]
    # The server answers and a new kernel works.
    fresh = Kernel(docker_hub, "dkpanna", token)
    try:
        out = fresh.execute("print(6 * 7)", timeout=120)
    finally:
        fresh.shutdown()
    assert out["stdout"].strip() == "42", out


def test_escaped_name_and_stop_removes_container_keeps_volume(docker_hub, docker_client):
    s, r = login(docker_hub, "dkp_ben", ROSTER["dkp_ben"][2])
    assert r.status_code == 302, r.text
    spawn(docker_hub, "dkp_ben", timeout=180)
    # "_" is not allowed in a DNS label: escaped as DockerSpawner does.
    info = inspect(docker_client, "ai4scale-dkp-5fben")
    assert info["State"]["Running"]
    token = user_token(s, docker_hub, "dkp_ben")
    kernel = Kernel(docker_hub, "dkp_ben", token)
    try:
        out = kernel.execute("open('/home/jovyan/kept.txt', 'w').write('kept')")
    finally:
        kernel.shutdown()
    assert out["status"] == "ok", out

    hubtest.stop(docker_hub, "dkp_ben")
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get("ai4scale-dkp-5fben")
    volume = docker_client.volumes.get("ai4scale-home-dkp-5fben")
    assert volume.name == "ai4scale-home-dkp-5fben"

    # Her files are there at her next start.
    spawn(docker_hub, "dkp_ben", timeout=180)
    kernel = Kernel(docker_hub, "dkp_ben", token)
    try:
        out = kernel.execute("print(open('/home/jovyan/kept.txt').read())")
    finally:
        kernel.shutdown()
    assert out["stdout"].strip() == "kept", out
    hubtest.stop(docker_hub, "dkp_ben")


def test_hub_restart_keeps_the_container_and_finds_it(docker_hub, docker_client, anna):
    before = inspect(docker_client, "ai4scale-dkpanna")
    docker_hub.proc.terminate()  # as `ai4scale restart`: the proxy and containers stay
    docker_hub.proc.wait(90)
    config = Path(docker_hub.settings["paths"]["state_dir"]) / "jupyterhub_config.py"
    restarted = hubtest.start_hub(docker_hub.settings, docker_hub.settings_file, config_file=config)
    docker_hub.proc, docker_hub.log = restarted.proc, restarted.log
    model = docker_hub.admin("GET", "/users/dkpanna").json()
    assert model["servers"][""]["ready"], model
    after = inspect(docker_client, "ai4scale-dkpanna")
    assert after["Id"] == before["Id"]
    assert after["State"]["StartedAt"] == before["State"]["StartedAt"]
    _, token = anna
    kernel = Kernel(docker_hub, "dkpanna", token)
    try:
        assert kernel.execute("print(1 + 1)")["stdout"].strip() == "2"
    finally:
        kernel.shutdown()


def _assert_says_why(text):
    text = html.unescape(text)
    assert "Your workspace could not start: it stopped as soon as it was started." in text
    assert "Container exit code 3. Last 2 log line(s):" in text
    assert f"line-one<br>{DEATH_WORDS}</code>" in text


def test_container_dead_at_start_says_why_with_its_log_lines(docker_hub, docker_client):
    s, r = login(docker_hub, "dkpdead", ROSTER["dkpdead"][2])
    assert r.status_code == 302, r.text
    # The learner's browser asks for her server. Her container lives 2 s,
    # longer than the hub waits before it sends the spawn-pending page; an
    # earlier death gives the hub's error page with the same words.
    page = s.get(docker_hub.url + "/hub/spawn/dkpdead", timeout=60)
    assert page.status_code in (200, 500), page.text[-1000:]
    # The spawn-pending page shows the progress events as they come.
    r = docker_hub.admin("GET", "/users/dkpdead/server/progress", stream=True)
    lines = r.iter_lines(decode_unicode=True)
    events = [json.loads(line[5:]) for line in lines if line.startswith("data:")]
    assert events[-1]["failed"] is True, events
    assert "Your workspace could not start" in events[-1]["message"]
    assert DEATH_WORDS in events[-1]["message"]
    _assert_says_why(events[-1]["html_message"])
    # The page a later visit lands on.
    page = s.get(docker_hub.url + "/hub/spawn-pending/dkpdead", timeout=30)
    _assert_says_why(page.text)
    # Nothing left behind; the hub did not wait for its HTTP timeout.
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get("ai4scale-dkpdead")
    assert "ended at start" in docker_hub.log_text()


def test_learner_reads_why_in_her_browser(docker_hub):
    import browsertest
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = browsertest.launch(p)
        try:
            context = browser.new_context()
            browsertest.watch(context)
            page = context.new_page()
            page.goto(docker_hub.url + "/hub/login")
            page.fill("#username_input", "dkpdeadb")
            page.fill("#password_input", ROSTER["dkpdeadb"][2])
            page.click("#login_submit")
            message = page.wait_for_selector("text=Your workspace could not start", timeout=90_000)
            shown = message.inner_text()
            page_text = page.inner_text("body")
        finally:
            browser.close()
    assert "it stopped as soon as it was started" in shown
    assert DEATH_WORDS in page_text and "line-one" in page_text


def _settings_file(tmp_path, **extra):
    path, _ = hubtest.write_settings(
        tmp_path / "state",
        user_prefix="dkp-",
        cgroup_parent="ai4scale-dkp",
        profile="docker",
        extra="[docker]\n" + "".join(f'{k} = "{v}"\n' for k, v in extra.items()),
    )
    return path


def test_up_without_engine_says_how_to_start_one_and_starts_nothing(tmp_path):
    path = _settings_file(tmp_path, network="host")
    env = dict(os.environ, DOCKER_HOST=f"unix://{tmp_path}/missing/docker.sock")
    ai4scale = str(Path(sys.executable).with_name("ai4scale"))
    cmd = [ai4scale, "--config", str(path), "up", "--no-demo"]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    out = run.stdout + run.stderr
    assert run.returncode == 2, out
    assert "the docker profile needs a Docker engine" in out
    assert "missing/docker.sock" in out
    assert "dockerd --bridge=none" in out and "apt-get install docker.io" in out
    # Nothing prepared or started: no state, no proxy.
    assert not (tmp_path / "state" / "proxy.pid").exists()
    assert not any((tmp_path / "state").glob("*.log"))


def test_ai4scale_up_runs_the_docker_profile_and_down_stops_it(tmp_path, singleuser_image):
    from ai4scale.hub import daemons, load_settings

    path = _settings_file(tmp_path, network="host", image=singleuser_image)
    settings = load_settings(path)
    ai4scale = str(Path(sys.executable).with_name("ai4scale"))
    up = [ai4scale, "--config", str(path), "up", "--no-demo", "--no-datasets", "--service"]
    try:
        run = subprocess.run(up, capture_output=True, text=True, timeout=240)
        assert run.returncode == 0, run.stdout + run.stderr
        assert daemons.hub_answers(settings) and daemons.proxy_answers(settings)
        log = daemons.hub_log(settings).read_text()
        assert "Using Spawner: ai4scale.hub.spawn.docker.DockerSandboxSpawner" in log
    finally:
        down = [ai4scale, "--config", str(path), "down"]
        run = subprocess.run(down, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr
    assert not daemons.hub_answers(settings) and not daemons.proxy_answers(settings)


def test_missing_image_and_network_are_refused_with_what_to_run(tmp_path, singleuser_image):
    from ai4scale.hub import load_settings
    from ai4scale.hub.spawn.docker_checks import DockerProfileUnavailable, check_docker_profile

    settings = load_settings(_settings_file(tmp_path, image="ai4scale/dkp-absent:never"))
    with pytest.raises(DockerProfileUnavailable, match="ai4scale image build"):
        check_docker_profile(settings)

    settings = load_settings(_settings_file(tmp_path, network="ai4scale-dkp-nonet"))
    settings["docker"]["image"] = singleuser_image
    with pytest.raises(DockerProfileUnavailable, match="docker network create ai4scale-dkp-nonet"):
        check_docker_profile(settings)
