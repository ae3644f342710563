"""Restarts that keep learners working: the proxy on its own, servers kept, no orphans.

A hub of its own (own user prefix, cgroup parent and ports): three learners
hold a variable in a kernel and a file in their home. The hub is stopped
with SIGTERM (a service manager's restart) and started again, then killed
with SIGKILL and started again. Each time: the proxy kept running, every
kernel still holds its variable over the websocket it already had, the
files are there, and the hub's managed services (course service, idle
culler) run exactly once; a killed course service is replaced.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import hubtest
import psutil
import pytest
import requests
from ai4scale.hub import daemons
from conftest import ARTIFACTS, TEST_CGROUP_PARENT, TEST_USER_PREFIX

LEARNERS = {f"tr{i}": ("learner", "", f"learner-pass-tr{i}x") for i in range(3)}
ROSTER = {"trinst": ("instructor", "", "instructor-pass-tri"), **LEARNERS}


@pytest.fixture(scope="module")
def restart_hub():
    """A hub with the course service and the idle culler, started as ``ai4scale up`` does."""
    prefix, cgroups = f"{TEST_USER_PREFIX}r-", f"{TEST_CGROUP_PARENT}-restart"
    state = Path(tempfile.mkdtemp(prefix="ai4scale-restart-"))
    settings_file, settings = hubtest.prepare_state(
        state, ROSTER, user_prefix=prefix, cgroup_parent=cgroups, labs=True
    )
    running = hubtest.start_hub(settings, settings_file)
    try:
        yield running
    finally:
        try:
            hubtest.stop_hub(running)
        finally:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / "jupyterhub-restart.log").write_text(running.log_text())
            hubtest.remove_accounts(prefix, cgroups)
            shutil.rmtree(state, ignore_errors=True)
            shutil.rmtree(settings["paths"]["datasets_dir"], ignore_errors=True)


def services_of(hub):
    """Return {service name: [pids]} of the managed services talking to this hub."""
    api = f":{hub.settings['hub']['api_port']}/"
    found = {}
    for proc in psutil.process_iter():
        try:
            env = proc.environ()
        except (psutil.Error, OSError):
            continue
        name = env.get("JUPYTERHUB_SERVICE_NAME")
        if name in daemons.MANAGED_SERVICES and api in env.get("JUPYTERHUB_API_URL", ""):
            if proc.status() != psutil.STATUS_ZOMBIE:
                found.setdefault(name, []).append(proc.pid)
    return found


def course_answers(hub):
    try:
        r = requests.get(hub.url + "/services/course/", allow_redirects=False, timeout=5)
    except requests.RequestException:
        return False
    return r.status_code in (200, 302)


RUNNING = "JupyterHub is now running"


def start_again(hub):
    """Start the hub again as ``ai4scale up`` does (reap, proxy, hub); return seconds.

    Returns once the hub has started all it manages: the proxy kept the
    routes, so its API answers through the proxy a little earlier.
    """
    before = hub.log_text().count(RUNNING)
    t0 = time.monotonic()
    new = hubtest.start_hub(hub.settings, hub.settings_file)
    hub.proc = new.proc
    answered = time.monotonic() - t0
    assert hubtest.wait_until(lambda: hub.log_text().count(RUNNING) > before, timeout=60)
    return answered


def check_learners_kept(hub, learners, kernels, proxy_pid):
    assert daemons.proxy_pid(hub.settings) == proxy_pid, "the proxy was restarted"
    for i, name in enumerate(learners):
        model = hub.admin("GET", f"/users/{name}").json()
        assert model["servers"][""]["ready"], f"the hub lost the server of {name}"
        # The websocket opened before the restart is still the one in use.
        out = kernels[name].execute("print(answer, open('notes.txt').read())")
        assert out["status"] == "ok", out
        assert out["stdout"].split() == [str(40 + i), f"kept-{name}"], out
        # And a new page load through the proxy reaches the server.
        r = requests.get(
            f"{hub.url}/user/{name}/api/contents/notes.txt",
            headers=kernels[name].headers,
            timeout=30,
        )
        assert r.status_code == 200, r.text


def test_learners_keep_kernels_and_files_through_hub_restarts(restart_hub):
    hub = restart_hub
    kernels = {}
    for i, name in enumerate(LEARNERS):
        s, r = hubtest.login(hub, name, LEARNERS[name][2])
        assert r.status_code == 302, r.text
        token = hubtest.user_token(s, hub, name)
        hubtest.spawn(hub, name, token=token)
        kernels[name] = hubtest.Kernel(hub, name, token)
        code = f"answer = {40 + i}\nopen('notes.txt', 'w').write('kept-{name}')"
        assert kernels[name].execute(code)["status"] == "ok"
    servers = {name: hubtest.server_pid(name) for name in LEARNERS}
    proxy_pid = daemons.proxy_pid(hub.settings)
    assert proxy_pid, "the proxy does not run as its own process"
    assert proxy_pid not in {p.pid for p in psutil.Process(hub.proc.pid).children(True)}
    assert {k: len(v) for k, v in services_of(hub).items()} == {"course": 1, "idle-culler": 1}

    # 1. A graceful stop, as a service manager sends, and a start.
    assert daemons.stop_hub(hub.settings) == "hub: stopped"
    assert not daemons.hub_answers(hub.settings)
    assert services_of(hub) == {}, "the hub left its managed services running"
    assert {name: hubtest.server_pid(name) for name in LEARNERS} == servers
    out = kernels["tr0"].execute("print(answer + 1)")  # the hub is down; the kernel is not
    assert out["stdout"].strip() == "41", out
    seconds = start_again(hub)
    print(f"graceful restart: hub answered again {seconds:.1f} s after the start")
    check_learners_kept(hub, LEARNERS, kernels, proxy_pid)
    assert {k: len(v) for k, v in services_of(hub).items()} == {"course": 1, "idle-culler": 1}
    assert hubtest.wait_until(lambda: course_answers(hub), timeout=30)

    # 2. The hub killed outright: its services end with it, nothing is doubled.
    old_services = services_of(hub)
    os.kill(hub.proc.pid, signal.SIGKILL)
    hub.proc.wait(10)
    assert hubtest.wait_until(lambda: services_of(hub) == {}, timeout=15), (
        f"orphaned services after SIGKILL: {services_of(hub)}"
    )
    seconds = start_again(hub)
    print(f"after SIGKILL: hub answered again {seconds:.1f} s after the start")
    check_learners_kept(hub, LEARNERS, kernels, proxy_pid)
    now = services_of(hub)
    assert {k: len(v) for k, v in now.items()} == {"course": 1, "idle-culler": 1}
    assert not set(sum(now.values(), [])) & set(sum(old_services.values(), []))
    assert hubtest.wait_until(lambda: course_answers(hub), timeout=30)
    assert {name: hubtest.server_pid(name) for name in LEARNERS} == servers

    # The servers stayed in their cgroups, and the restarted hub still owns
    # them: stopping a server removes its group.
    parent = hub.settings["local"]["cgroup_parent"]
    prefix = hub.settings["local"]["user_prefix"]
    for name, pid in servers.items():
        procs = Path(f"/sys/fs/cgroup/memory/{parent}/{prefix}{name}/cgroup.procs")
        assert str(pid) in procs.read_text().split(), f"{name}'s server left its cgroup"
    kernels.pop("tr2").shutdown()
    hubtest.stop(hub, "tr2")
    assert not Path(f"/sys/fs/cgroup/memory/{parent}/{prefix}tr2").exists()
    hubtest.spawn(hub, "tr2")

    # 3. The course service killed: the hub starts a new one, once.
    [course_pid] = services_of(hub)["course"]
    os.kill(course_pid, signal.SIGKILL)

    def replaced():
        pids = services_of(hub).get("course", [])
        return len(pids) == 1 and pids[0] != course_pid and course_answers(hub)

    assert hubtest.wait_until(replaced, timeout=60), services_of(hub)
    for kernel in kernels.values():
        kernel.shutdown()


def test_orphans_of_a_killed_hub_are_reaped(restart_hub):
    """A service started without the launcher (an older version) is stopped at the next start."""
    hub = restart_hub
    api_port = hub.settings["hub"]["api_port"]
    env = dict(
        os.environ,
        JUPYTERHUB_SERVICE_NAME="idle-culler",
        JUPYTERHUB_API_URL=f"http://127.0.0.1:{api_port}/hub/api",
    )
    orphan = psutil.Popen(["sleep", "300"], env=env, start_new_session=True)
    try:
        done = daemons.reap_orphans(hub.settings)
        assert any(f"pid {orphan.pid}" in line for line in done), done
        assert not orphan.is_running()
        # The hub's own services have a live hub as parent: left alone.
        assert {k: len(v) for k, v in services_of(hub).items()} == {"course": 1, "idle-culler": 1}
    finally:
        if orphan.is_running():
            orphan.kill()


def graded_at(settings, lab):
    """Return {submission id: graded_at} of the lab's collected submissions, from the gradebook."""
    from ai4scale.hub.course import Course

    course = Course.from_settings(settings)
    try:
        book = course.gradebook
        return {
            info.id: book.submission_state(info.id)[3] for info in book.collected_submissions(lab)
        }
    finally:
        course.close()


NB = "approval-rates.ipynb"


def test_a_killed_course_service_takes_up_its_autograding_job(restart_hub):
    """Killed in the middle of a batch: the new service goes on; nothing graded twice or lost."""
    from coursetest import CourseAPI, answered, put_file, read_file, wait_job

    hub = restart_hub
    lab = "example-intro"
    tokens = {}
    for name, (_, _, password) in ROSTER.items():
        s, r = hubtest.login(hub, name, password)
        assert r.status_code == 302, r.text
        tokens[name] = hubtest.user_token(s, hub, name)
    inst = CourseAPI(hub, tokens["trinst"])
    r = inst.post("/instructor/releases", json={"lab": lab, "due": "2099-01-01T17:00:00+01:00"})
    assert r.status_code == 201, r.text
    for name in LEARNERS:
        hubtest.spawn(hub, name, token=tokens[name])
        learner = CourseAPI(hub, tokens[name])
        assert learner.post(f"/labs/{lab}/fetch").status_code == 200
        path = f"{lab}/{NB}"
        put_file(hub, tokens[name], name, path, answered(read_file(hub, tokens[name], name, path)))
        assert learner.post(f"/labs/{lab}/submit").status_code == 201
    assert inst.post(f"/instructor/labs/{lab}/collect").status_code == 200
    job = inst.post(f"/instructor/labs/{lab}/autograde").json()

    def one_graded():
        state = inst.get(f"/instructor/jobs/{job['job']}").json()
        return state if state["done"] >= 1 else None

    progress = hubtest.wait_until(one_graded, timeout=300, interval=0.2)
    assert progress and progress["state"] == "running", progress
    [course_pid] = services_of(hub)["course"]
    os.kill(course_pid, signal.SIGKILL)
    before = {sid: at for sid, at in graded_at(hub.settings, lab).items() if at is not None}
    assert 1 <= len(before) < len(LEARNERS), before

    def answering():
        try:
            return inst.get(f"/instructor/jobs/{job['job']}", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    assert hubtest.wait_until(answering, timeout=90), "no course service after the kill"
    final = wait_job(inst, job["job"], timeout=600)
    assert final["state"] == "done", final
    assert final["done"] == final["total"] == len(LEARNERS), final
    assert any("restarted" in note for note in final["notes"]), final
    after = graded_at(hub.settings, lab)
    assert len(after) == len(LEARNERS) and all(after.values()), after
    for sid, at in before.items():  # graded before the kill: not graded again
        assert after[sid] == at, (sid, at, after[sid])


def _notebook(*sources):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    return nbformat.writes(nb).encode()


@pytest.mark.browser
def test_jupyterlab_keeps_working_through_hub_and_proxy_restarts(restart_hub, artifacts):
    """In a real browser: a notebook keeps its kernel through a hub restart and a proxy restart."""
    from browsertest import launch, watch
    from coursetest import put_file
    from playwright.sync_api import sync_playwright

    hub, name = restart_hub, "tr1"
    s, r = hubtest.login(hub, name, LEARNERS[name][2])
    token = hubtest.user_token(s, hub, name)
    hubtest.spawn(hub, name, token=token)
    cells = (
        "x = 6 * 7",
        "print('after the hub restart', x)",
        "print('after the proxy restart', x)",
    )
    put_file(hub, token, name, "restart.ipynb", _notebook(*cells))
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = watch(browser.new_page(viewport={"width": 1280, "height": 800}))
            page.goto(hub.url + "/hub/login")
            page.fill("#username_input", name)
            page.fill("#password_input", LEARNERS[name][2])
            page.click("#login_submit")
            page.wait_for_selector(".jp-LabShell", timeout=120_000)
            # A first visit shows the welcome once; then the notebook opens alone.
            page.wait_for_selector("#ai4scale-welcome", timeout=60_000)
            page.goto(f"{hub.url}/user/{name}/lab/tree/restart.ipynb")
            page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=120_000)
            page.wait_for_selector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000
            )
            # The kernel is connected once the status bar says so.
            page.locator(".jp-StatusBar-Widget", has_text="| Idle").first.wait_for(timeout=90_000)
            nb = page.locator(".jp-NotebookPanel:visible")
            code = nb.locator(".jp-CodeCell")

            def run(i, expected):
                code.nth(i).locator(".cm-content").click()
                page.keyboard.press("Shift+Enter")
                if expected:
                    output = code.nth(i).locator(".jp-OutputArea-output", has_text=expected)
                    output.wait_for(timeout=120_000)

            run(0, None)
            code.nth(0).locator(".jp-InputPrompt", has_text="[1]").wait_for(timeout=60_000)

            daemons.stop_hub(hub.settings)
            start_again(hub)
            run(1, "after the hub restart 42")

            daemons.stop_proxy(hub.settings)
            daemons.ensure_proxy(hub.settings, hub.settings_file)
            # The hub puts the routes back; JupyterLab reconnects to the same kernel.
            run(2, "after the proxy restart 42")
        finally:
            page.screenshot(path=str(artifacts / "restart-notebook.png"))
            browser.close()
