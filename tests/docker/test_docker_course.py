"""The docker profile end to end: a real hub, each learner's server a container.

A learner logs in through the form and gets her container; she fetches a
lab, runs it in a kernel of her container and submits; the instructor
autogrades, and the scores equal those of the local profile's grading
sandbox for the same notebook; feedback is released and she reads it. Two
members share their team's workspace container; a browser logs in and
reaches JupyterLab; the idle culler's stop removes the container.

Everything of this module is named with :data:`PREFIX` (users ``dk15*``,
containers ``ai4scale-dk15*`` and ``ai4scale-team-2ddk15t``, volumes
``ai4t15d-home-*``) and removed at the end; nothing else is touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import docker
import pytest
import requests
from coursetest import CourseAPI, answered, put_file, read_file, wait_job
from dockercourse import container_of, nudge
from hubtest import Kernel, login, prepare_state, spawn, start_hub, stop_hub, user_token, wait_until
from yroom import RoomClient

pytestmark = pytest.mark.hub

#: Prefix of the volumes (and, through the usernames, containers) of this module.
PREFIX = "ai4t15d-"
TEAM = "dk15t"
WORKSPACE = f"team-{TEAM}"
#: username -> (role, team, password)
ROSTER = {
    "dk15ina": ("instructor", "", "instructor-pass-dk15"),
    "dk15ann": ("learner", TEAM, "learner-pass-ann15"),
    "dk15ben": ("learner", TEAM, "learner-pass-ben15"),
    "dk15cat": ("learner", "", "learner-pass-cat15"),
    "dk15dan": ("learner", "", "learner-pass-dan15"),
}
MEMORY = "700M"
LAB = "example-intro"
#: ``[course] sandbox`` of the hub (grading containers), and the executor its grades name.
GRADING, GRADING_EXECUTOR = "docker", "docker"
NB = "approval-rates.ipynb"


def _ours(client):
    containers = [
        c
        for c in client.containers.list(all=True, filters={"name": "dk15"})
        if c.name.startswith(("ai4scale-dk15", "ai4scale-team-2ddk15"))
    ]
    volumes = [v for v in client.volumes.list() if v.name.startswith(PREFIX)]
    return containers, volumes


def _remove_ours(client):
    containers, volumes = _ours(client)
    for c in containers:
        c.remove(force=True)
    for v in volumes:
        v.remove(force=True)


@pytest.fixture(scope="module")
def dhub(docker_client, singleuser_image):
    """A hub of the docker profile (host network) with this module's roster."""
    if os.geteuid() != 0:
        pytest.fail("the hub tests start JupyterHub as root: run them as root (./sandbox test)")
    _remove_ours(docker_client)
    state = Path(tempfile.mkdtemp(prefix=f"{PREFIX}hub-"))
    docker_section = (
        "[docker]\n"
        'network = "host"\n'
        f'image = "{singleuser_image}"\n'
        f'volume_template = "{PREFIX}home-{{username}}"\n'
    )
    settings_file, settings = prepare_state(
        state,
        ROSTER,
        user_prefix=f"{PREFIX}u-",
        cgroup_parent=f"{PREFIX}cg",
        labs=[LAB],
        memory=MEMORY,
        profile="docker",
        extra=docker_section,
        course_extra=f'sandbox = "{GRADING}"',
    )
    hub = None
    try:
        hub = start_hub(settings, settings_file)
        yield hub
    finally:
        try:
            if hub is not None:
                stop_hub(hub)
        finally:
            if hub is not None:
                artifacts = Path(__file__).parents[1] / "artifacts"
                artifacts.mkdir(parents=True, exist_ok=True)
                (artifacts / "jupyterhub-docker.log").write_text(hub.log_text())
            _remove_ours(docker_client)
            shutil.rmtree(state, ignore_errors=True)
            shutil.rmtree(settings["paths"]["datasets_dir"], ignore_errors=True)


_TOKENS = {}


def person(hub, name):
    """Log ``name`` in through the form once; return her API token."""
    if name not in _TOKENS:
        s, r = login(hub, name, ROSTER[name][2])
        assert r.status_code == 302, r.text
        _TOKENS[name] = user_token(s, hub, name)
    return _TOKENS[name]


def grade_locally(hub, notebook, folder, *, learner):
    """Grade ``notebook`` (bytes) as the local profile does; return {grade_id: score} scored.

    The root grading sandbox of the local profile, with an account, runs
    folder and cgroup of this module's own (removed after).
    """
    from ai4scale.grading.autograde import SandboxExecutor, grade_submission, open_lab
    from ai4scale.grading.sandbox import remove_grader_account

    path = folder / NB
    path.write_bytes(notebook)
    glab = open_lab(Path(hub.settings["course"]["labs_dir"]) / LAB)
    user, runs = f"{PREFIX}grader", Path(f"/srv/{PREFIX}runs")
    executor = SandboxExecutor(user=user, runs_dir=str(runs), cgroup_parent=f"{PREFIX}grading")
    try:
        graded = grade_submission(glab, {NB: path}, learner=learner, executor=executor)
    finally:
        executor.close_pool()
        remove_grader_account(user)
        shutil.rmtree(runs, ignore_errors=True)
        for controller in ("memory", "cpu", "pids"):
            try:
                os.rmdir(f"/sys/fs/cgroup/{controller}/{PREFIX}grading")
            except OSError:
                pass
    assert graded.status == "graded", graded
    return {r.grade_id: r.score for r in graded.results if r.score is not None}


def test_learner_logs_in_and_gets_her_container(dhub, docker_client):
    s, r = login(dhub, "dk15ann", ROSTER["dk15ann"][2])
    assert r.status_code == 302, r.text
    token = person(dhub, "dk15ann")
    spawn(dhub, "dk15ann", token=token)  # started by her, with her own token
    info = container_of(docker_client, "dk15ann").attrs
    assert info["State"]["Running"] and info["Config"]["User"] == "1000:100"
    host = info["HostConfig"]
    assert host["NetworkMode"] == "host"
    assert host["Memory"] == 700 << 20
    assert host["CapDrop"] == ["ALL"] and "no-new-privileges" in host["SecurityOpt"]
    mounts = {m["Destination"]: m for m in info["Mounts"]}
    assert mounts["/home/jovyan"]["Name"] == f"{PREFIX}home-dk15ann"
    datasets = dhub.settings["paths"]["datasets_dir"]
    assert mounts[datasets]["RW"] is False
    # Her JupyterLab answers through the proxy, with her login's cookie.
    lab = s.get(f"{dhub.url}/user/dk15ann/lab", timeout=60)
    assert lab.status_code == 200 and "jupyter-config-data" in lab.text


def test_fetch_run_submit_grade_feedback(dhub, docker_client, tmp_path):
    ina = CourseAPI(dhub, person(dhub, "dk15ina"))
    token = person(dhub, "dk15ann")
    ann = CourseAPI(dhub, token)
    spawn(dhub, "dk15ann", token=token)
    r = ina.post("/instructor/releases", json={"lab": LAB})
    assert r.status_code == 201, r.text

    # Get lab: the service writes the learner version through her container's server.
    r = ann.post(f"/labs/{LAB}/fetch")
    assert r.status_code == 200, r.text
    assert r.json()["written"] == [f"{LAB}/{NB}"]
    fetched = read_file(dhub, token, "dk15ann", f"{LAB}/{NB}")
    assert b"BEGIN HIDDEN TESTS" not in fetched
    inside = container_of(docker_client, "dk15ann").exec_run(
        ["ls", f"/home/jovyan/{LAB}"], user="1000:100"
    )
    assert NB in inside.output.decode()  # in her volume, in her container

    # She answers and runs the notebook in a kernel of her container.
    mine = answered(fetched)
    put_file(dhub, token, "dk15ann", f"{LAB}/{NB}", mine)
    import nbformat

    kernel = Kernel(dhub, "dk15ann", token)
    try:
        for cell in nbformat.reads(mine.decode(), as_version=4).cells:
            if cell.cell_type == "code":
                out = kernel.execute(cell.source)
                assert out["status"] == "ok", (cell.source, out)
        out = kernel.execute("print(disparity_ratio(approval_rates(decisions)))")
        assert out["stdout"].strip() == str(0.5 / 0.75), out
        # Her kernel reaches the course service as her, and knows its limit.
        probe = (
            "import os\n"
            "from ai4scale.datasets._service import get_json\n"
            "from ai4scale.hub.memory_notice import memory_cgroup\n"
            "print(get_json('me')['name'])\n"
            "print(open(memory_cgroup() / 'memory.limit_in_bytes').read().strip())\n"
            "print(os.environ['AI4SCALE_COURSE_URL'])\n"
            "data = os.environ['AI4SCALE_DATASETS']\n"
            "print(os.path.isdir(data), os.access(data, os.W_OK))\n"
        )
        out = kernel.execute(probe)
        assert out["status"] == "ok", out
        who, limit, url, data_there, data_writable = out["stdout"].split()
        assert who == "dk15ann" and int(limit) == 700 << 20
        assert url.startswith("http://127.0.0.1:")
        # The prepared datasets: at the host's path, read-only.
        assert (data_there, data_writable) == ("True", "False")
    finally:
        kernel.shutdown()

    r = ann.post(f"/labs/{LAB}/submit")
    assert r.status_code == 201, r.text

    # The instructor collects and autogrades.
    assert "dk15ann" in ina.post(f"/instructor/labs/{LAB}/collect").json()["owners"]
    r = ina.post(f"/instructor/labs/{LAB}/autograde")
    assert r.status_code == 202, r.text
    job = wait_job(ina, r.json()["job"])
    assert job["state"] == "done" and job["done"] == job["total"] >= 1, job
    sub = ina.get(f"/instructor/labs/{LAB}/submissions/dk15ann").json()
    assert sub["status"] == "graded", sub
    assert sub["executor"] == GRADING_EXECUTOR, sub
    served = {i["grade_id"]: i["score"] for i in sub["items"]}

    # The same notebook graded by the local profile's grading sandbox.
    local = grade_locally(dhub, mine, tmp_path, learner="dk15ann")
    assert local, "the local grading gave no automatic scores"
    assert {gid: served[gid] for gid in local} == local
    assert local["test_approval_rates"] == 0.0 and local["test_disparity_ratio"] == 2.0

    # Manual items, then feedback: she reads it.
    for item, level in (("gap_meaning", 2), ("discuss_groups", 1)):
        r = ina.put(f"/instructor/labs/{LAB}/grades/dk15ann/{item}", json={"level": level})
        assert r.status_code == 200, r.text
    assert ann.get(f"/labs/{LAB}/feedback").status_code == 404
    r = ina.post(f"/instructor/labs/{LAB}/feedback/release")
    assert r.status_code == 200 and "dk15ann" in r.json()["owners"], r.text
    fb = ann.get(f"/labs/{LAB}/feedback")
    assert fb.status_code == 200, fb.text
    assert fb.json()["score"] == sum(local.values()) + 3.0
    page = ann.get(f"/labs/{LAB}/feedback.html")
    assert page.status_code == 200 and "HIDDEN" not in page.text


def test_team_workspace_shared_by_two_members(dhub, docker_client):
    tokens = {name: person(dhub, name) for name in ("dk15ann", "dk15ben", "dk15cat")}
    sessions = {}
    for name in ("dk15ann", "dk15ben"):
        sessions[name], r = login(dhub, name, ROSTER[name][2])
        assert r.status_code == 302
    # Ben starts it from the link of his hub home page, as a member may.
    s = sessions["dk15ben"]
    link = f"/hub/spawn/{WORKSPACE}?next=/user/{WORKSPACE}/lab"
    assert f'href="{link}"' in s.get(dhub.url + "/hub/home", timeout=30).text
    assert s.get(dhub.url + link, timeout=120).status_code == 200
    spawn(dhub, WORKSPACE)  # waits until it is ready
    info = container_of(docker_client, WORKSPACE).attrs
    mounts = {m["Destination"]: m["Name"] for m in info["Mounts"] if m["Type"] == "volume"}
    # Its own home (the volume's name escapes "-" as DockerSpawner does).
    assert mounts == {"/home/jovyan": f"{PREFIX}home-team-2d{TEAM}"}
    env = dict(e.split("=", 1) for e in info["Config"]["Env"])
    assert env["JUPYTER_CONFIG_PATH"] == "/opt/ai4scale/venv/etc/jupyter-workspace"

    # Both open the workspace's JupyterLab with their own login.
    for name, s in sessions.items():
        page = s.get(f"{dhub.url}/user/{WORKSPACE}/lab", timeout=60)
        assert page.status_code == 200, (name, page.status_code)

    # Ann writes a notebook; Ben sees it on the shared server.
    note = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    put_file(dhub, tokens["dk15ann"], WORKSPACE, "plan.ipynb", note)
    assert read_file(dhub, tokens["dk15ben"], WORKSPACE, "plan.ipynb") == note
    # Both open it in the collaboration room: Ann's edit reaches Ben live,
    # and the server saves it to the shared file.
    server = f"{dhub.url}/user/{WORKSPACE}"
    ben = RoomClient(server, "plan.ipynb", tokens["dk15ben"])
    ann = RoomClient(server, "plan.ipynb", tokens["dk15ann"])
    try:
        assert ann.session["fileId"] == ben.session["fileId"]
        ann.append_markdown("Ann: we audit the district rates first.")
        seen = ben.wait_for(lambda: "Ann: we audit the district rates first." in ben.sources())
        assert seen, ben.sources()
    finally:
        ann.close()
        ben.close()

    def saved():
        return b"we audit the district rates first" in read_file(
            dhub, tokens["dk15ben"], WORKSPACE, "plan.ipynb"
        )

    assert wait_until(saved, timeout=30, interval=0.5)

    # Not a member: refused.
    r = requests.get(
        f"{dhub.url}/user/{WORKSPACE}/api/contents/plan.ipynb",
        headers={"Authorization": f"token {tokens['dk15cat']}"},
        timeout=30,
    )
    assert r.status_code in (403, 404), r.status_code
    # Her own container never mounts the workspace's home.
    ann = container_of(docker_client, "dk15ann").attrs
    assert f"{PREFIX}home-team-2d{TEAM}" not in {m.get("Name") for m in ann["Mounts"]}


@pytest.mark.browser
def test_browser_login_reaches_jupyterlab_in_her_container(dhub, docker_client, artifacts):
    from browsertest import launch, watch
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = watch(browser.new_page(viewport={"width": 1280, "height": 800}))
            page.goto(dhub.url + "/hub/login")
            page.fill("#username_input", "dk15cat")
            page.fill("#password_input", ROSTER["dk15cat"][2])
            page.click("#login_submit")
            page.wait_for_selector(".jp-LabShell", timeout=180_000)
            page.screenshot(path=str(artifacts / "docker-jupyterlab.png"))
            assert "/user/dk15cat/lab" in page.url
        finally:
            browser.close()
    assert container_of(docker_client, "dk15cat").attrs["State"]["Running"]


def test_memory_limit_stops_her_kernel_and_the_next_cell_says_why(dhub, docker_client):
    token = person(dhub, "dk15ann")
    spawn(dhub, "dk15ann", token=token)
    before = container_of(docker_client, "dk15ann").attrs
    kernel = Kernel(dhub, "dk15ann", token)
    try:
        out = kernel.execute("big = b'x' * (1024**3)\nprint('kept')", timeout=120)
        assert out["status"] in ("dead", "error") and "kept" not in out["stdout"], out

        # Her server restarts the kernel; JupyterLab reconnects and asks for
        # the kernel's info until its broadcasts arrive (the server skips that
        # nudge when it still counts the kernel "busy", as it sometimes does
        # after a restart), then her first cell explains.
        assert wait_until(lambda: nudge(kernel), timeout=120, interval=1), "no kernel after restart"
        out = kernel.execute("print('after')", timeout=60)
    finally:
        kernel.shutdown()
    assert out["stdout"].strip() == "after", out
    assert "reached its memory limit (700 MiB)" in out["stderr"], out
    after = container_of(docker_client, "dk15ann").attrs
    assert after["State"]["Running"] and after["State"]["StartedAt"] == before["State"]["StartedAt"]


def test_idle_culler_stops_and_removes_the_container(dhub, docker_client):
    spawn(dhub, "dk15dan")
    assert container_of(docker_client, "dk15dan").attrs["State"]["Running"]
    # The culler the hub runs, run here with a short timeout (the admin
    # service's token may read activity and stop servers).
    env = {**os.environ, "JUPYTERHUB_API_TOKEN": dhub.token}
    culler = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterhub_idle_culler",
            f"--url={dhub.api}",
            "--timeout=1",
            "--cull-every=2",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def gone():
            try:
                container_of(docker_client, "dk15dan")
            except docker.errors.NotFound:
                return True
            return False

        assert wait_until(gone, timeout=90, interval=1), "the culled container is still there"

        def stopped():  # the hub records the stop once the spawner's stop returned
            return not dhub.admin("GET", "/users/dk15dan").json().get("server")

        assert wait_until(stopped, timeout=30, interval=0.5), "the hub still lists her server"
    finally:
        culler.terminate()
        culler.wait(10)
    volumes = {v.name for v in docker_client.volumes.list()}
    assert f"{PREFIX}home-dk15dan" in volumes  # her files stay
