"""End-to-end: a real hub, real system users, real servers in real cgroups, real kernels."""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

import hubtest
import psutil
import pytest
import requests
from conftest import ROSTER, TEST_CGROUP_PARENT, TEST_USER_PREFIX
from hubtest import Kernel, login, server_pid, spawn, user_token, wait_until

pytestmark = pytest.mark.hub


def password(name):
    return ROSTER[name][2]


def is_gone(pid):
    """True when ``pid`` has exited (a zombie not yet reaped by the hub counts)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def cgroup_dir(pid, controller):
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return Path("/sys/fs/cgroup") / controller / path.lstrip("/")
    raise AssertionError(f"pid {pid} has no {controller} cgroup")


@pytest.fixture(scope="module")
def tom(hub):
    s, r = login(hub, "tom", password("tom"))
    assert r.status_code == 302, r.text
    spawn(hub, "tom")
    return s, user_token(s, hub, "tom")


def test_login_form_and_spawn_as_own_system_user_in_cgroup(hub, tom):
    pid = server_pid("tom")
    assert pid, "no single-user server process for tom"
    proc = psutil.Process(pid)
    assert proc.username() == TEST_USER_PREFIX + "tom"
    home = Path(f"/home/{TEST_USER_PREFIX}tom")
    st = home.stat()
    assert stat.S_IMODE(st.st_mode) == 0o700
    assert st.st_uid == proc.uids().real

    memory = cgroup_dir(pid, "memory")
    assert memory.parent.name == TEST_CGROUP_PARENT
    assert int((memory / "memory.limit_in_bytes").read_text()) == 1024**3
    cpu = cgroup_dir(pid, "cpu")
    assert int((cpu / "cpu.cfs_quota_us").read_text()) == int(
        (cpu / "cpu.cfs_period_us").read_text()
    )
    pids = cgroup_dir(pid, "pids")
    assert (pids / "pids.max").read_text().strip() == "256"


def test_kernel_has_the_lab_software(hub, tom):
    _, token = tom
    kernel = Kernel(hub, "tom", token)
    try:
        out = kernel.execute(
            "import pandas, sklearn, fairlearn, shap, matplotlib, pyarrow, ai4scale, os\n"
            "from threadpoolctl import threadpool_info\n"
            "blas = sorted({p['num_threads'] for p in threadpool_info()})\n"
            "print('ok', fairlearn.__version__, os.getuid() != 0, os.environ['MEM_LIMIT'], blas)",
            timeout=180,
        )
    finally:
        kernel.shutdown()
    assert out["error"] is None, out["stderr"]
    assert out["stdout"].startswith("ok "), out
    assert "True" in out["stdout"] and str(1024**3) in out["stdout"]
    # BLAS/OpenMP pools as large as the CPU limit (1), not the machine's cores
    assert out["stdout"].rstrip().endswith("[1]"), out["stdout"]


def test_learner_cannot_read_another_learners_home(hub, tom):
    _, token = tom
    spawn(hub, "tara")
    secret = Path(f"/home/{TEST_USER_PREFIX}tara/secret.txt")
    secret.write_text("tara's work")
    kernel = Kernel(hub, "tom", token)
    try:
        out = kernel.execute(f"open({str(secret)!r}).read()")
    finally:
        kernel.shutdown()
    assert out["error"] == "PermissionError", out


def test_learner_token_cannot_reach_other_servers_or_admin_api(hub, tom):
    _, token = tom
    headers = {"Authorization": f"token {token}"}

    def call(method, url):
        return requests.request(method, url, headers=headers, timeout=30, allow_redirects=False)

    tara_before = hub.admin("GET", "/users/tara").json()["servers"][""]
    assert tara_before["ready"]
    # JupyterHub answers 404 for another user's resources (it does not say they
    # exist) and 403 for what a learner's scopes never cover.
    r = call("POST", f"{hub.api}/users/tara/server")
    assert r.status_code == 404, (r.status_code, r.text)
    r = call("DELETE", f"{hub.api}/users/tara/server")
    assert r.status_code == 404, (r.status_code, r.text)
    r = call("GET", f"{hub.url}/user/tara/api/contents")
    assert r.status_code == 403, (r.status_code, r.text[:300])
    assert "secret.txt" not in r.text
    r = call("POST", f"{hub.api}/users/newbie")
    assert r.status_code == 403, (r.status_code, r.text)
    assert hub.admin("GET", "/users/newbie").status_code == 404  # not created
    r = call("GET", f"{hub.api}/groups")
    assert r.status_code == 403, (r.status_code, r.text)
    r = call("GET", f"{hub.api}/users")  # not even the list of names
    assert r.status_code == 403 and "list:users" in r.json()["message"], (r.status_code, r.text)
    # and tara's server is still running: the same one, untouched
    tara_after = hub.admin("GET", "/users/tara").json()["servers"][""]
    assert tara_after["ready"] and tara_after["started"] == tara_before["started"]
    # while tom reaches his own
    assert call("GET", f"{hub.url}/user/tom/api/status").status_code == 200


def test_instructor_lists_learners_and_opens_their_server(hub, tom):
    s, r = login(hub, "tina", password("tina"))
    assert r.status_code == 302
    token = user_token(s, hub, "tina")
    headers = {"Authorization": f"token {token}"}
    users = requests.get(f"{hub.api}/users", headers=headers, timeout=30).json()
    names = {u["name"] for u in users}
    assert {"tom", "tara", "theo"} <= names
    learners = requests.get(f"{hub.api}/groups/learners", headers=headers, timeout=30).json()
    assert {"tom", "tara", "theo"} <= set(learners["users"])
    r = requests.get(f"{hub.url}/user/tom/api/contents", headers=headers, timeout=30)
    assert r.status_code == 200
    # but an instructor is no admin
    assert requests.delete(f"{hub.api}/users/tom", headers=headers, timeout=30).status_code == 403


def test_groups_follow_the_roster(hub):
    groups = {g["name"]: set(g["users"]) for g in hub.admin("GET", "/groups").json()}
    assert groups["instructors"] == {"tina"}
    assert {"tom", "tara", "theo"} <= groups["learners"]
    assert groups["team-t1"] == {"tom", "tara"}


def test_memory_bomb_is_killed_and_the_learner_told(hub, tom):
    s, r = login(hub, "theo", password("theo"))
    assert r.status_code == 302
    spawn(hub, "theo")
    token = user_token(s, hub, "theo")
    kernel = Kernel(hub, "theo", token)
    try:
        assert kernel.execute("x = 1")["status"] == "ok"
        out = kernel.execute("bomb = b'x' * (3 * 1024**3)", timeout=120)
        assert out["status"] in ("dead", None), out
        pid = server_pid("theo")
        memory = cgroup_dir(pid, "memory")
        assert "oom_kill 0" not in (memory / "memory.oom_control").read_text()
        # the hub and the other learners are unharmed
        assert requests.get(hub.api + "/", timeout=10).status_code == 200
        assert hub.admin("GET", "/users/tom").json()["servers"][""]["ready"]
        headers = {"Authorization": f"token {tom[1]}"}
        r = requests.get(f"{hub.url}/user/tom/api/status", headers=headers, timeout=10)
        assert r.status_code == 200, r.status_code
        # the server survived; the restarted kernel tells the learner what happened
        assert server_pid("theo") == pid
        # A request sent while the new kernel starts can be lost, and the server's
        # execution_state may say "starting" until a client listens: ask again on
        # a fresh connection until the kernel answers.
        stderr = []

        def notice():
            kernel.reconnect()
            out = kernel.execute("print('after')", timeout=20)
            stderr.append(out["stderr"])
            return out if "after" in out["stdout"] else None

        out = wait_until(notice, timeout=150, interval=2)
        assert out, "the restarted kernel does not answer"
        assert "memory limit" in "".join(stderr).lower(), (out, stderr)
        assert kernel.execute("x")["error"] == "NameError"
    finally:
        kernel.shutdown()


def assert_refused(r, message):
    """A login refused on the login form: 403, ``message`` in its error line, no session."""
    assert r.status_code == 403, (r.status_code, r.text[-2000:])
    error = re.search(r'class="login_error">([^<]*)<', r.text)
    assert error and message in error.group(1), r.text[-2000:]
    assert 'id="username_input"' in r.text  # the form again, to try once more
    assert "jupyterhub-hub-login" not in r.cookies


def test_wrong_password_and_lockout(hub):
    for _ in range(2):
        s, r = login(hub, "tlock", "not-the-password")
        assert_refused(r, "Invalid username or password")
    s, r = login(hub, "tlock", "not-the-password")  # the third: locked now
    assert_refused(r, "Invalid username or password. After too many failed sign-ins")
    s, r = login(hub, "tlock", password("tlock"))
    assert_refused(r, "This account is locked after too many failed sign-ins")
    assert hub.store.get("tlock").locked
    hub.store.unlock("tlock")
    s, r = login(hub, "tlock", password("tlock"))
    assert r.status_code == 302


def test_non_roster_user_cannot_log_in(hub):
    s, r = login(hub, "mallory", "whatever-password")
    assert_refused(r, "Invalid username or password")
    assert hub.admin("GET", "/users/mallory").status_code == 404  # no hub user was made


def redeem(hub, data):
    """Post the set-password form (a fresh session, as a new browser); return the response."""
    s = requests.Session()
    page = s.get(hub.url + "/hub/set-password", timeout=30)
    assert page.status_code == 200
    data = {**data, "_xsrf": s.cookies.get("_xsrf", "")}
    return s.post(hub.url + "/hub/set-password", data=data, timeout=30, allow_redirects=False)


def test_first_login_with_one_time_code(hub):
    s, r = login(hub, "tnew", "")
    assert_refused(r, "Invalid username or password")
    s, r = login(hub, "tnew", "a-guessed-password")
    assert_refused(r, "No password has been set for this account yet")
    code = hub.store.issue_code("tnew", ttl_hours=1)
    s = requests.Session()
    page = s.get(hub.url + "/hub/set-password", timeout=30)
    assert page.status_code == 200
    data = {
        "username": "tnew",
        "code": code,
        "password": "a-new-long-password",
        "password_confirmation": "a-new-long-password",
        "_xsrf": s.cookies.get("_xsrf", ""),
    }
    r = s.post(hub.url + "/hub/set-password", data=data, timeout=30, allow_redirects=False)
    assert r.status_code == 302, r.text
    assert "password_set=1" in r.headers["Location"]
    s, r = login(hub, "tnew", "a-new-long-password")
    assert r.status_code == 302
    # the code works once: its second use is refused and changes nothing
    data["password"] = data["password_confirmation"] = "another-long-password"
    r = redeem(hub, data)
    assert r.status_code == 400, (r.status_code, r.text[-2000:])
    assert 'id="set_password_error"' in r.text
    assert "There is no one-time code for this account" in r.text
    s, r = login(hub, "tnew", "another-long-password")
    assert_refused(r, "Invalid username or password")
    s, r = login(hub, "tnew", "a-new-long-password")
    assert r.status_code == 302


def test_branding_and_services(hub):
    page = requests.get(hub.url + "/hub/login", timeout=30).text
    assert hub.settings["branding"]["name"] in page
    services = hub.admin("GET", "/services").json()
    assert "idle-culler" in services
    # this hub's own culler (another hub on the machine may run one too)
    culler = hubtest._managed_services(hub)
    assert culler, "the idle culler of this hub is not running"
    assert "--timeout=3600" in culler[0].cmdline()


@pytest.fixture
def culling_hub():
    """A second, small hub whose idle culler stops servers idle for 5 s.

    The session hub keeps its hour: its learners' servers sit idle between
    tests. No course service; its own user prefix and cgroup parent, removed after.
    """
    from ai4scale.hub.accounts import AccountStore
    from ai4scale.hub.installer import install_steps
    from ai4scale.hub.roster import read_roster

    prefix, cgroups = f"{TEST_USER_PREFIX}c-", f"{TEST_CGROUP_PARENT}-cull"
    state = Path(tempfile.mkdtemp(prefix="ai4scale-cull-"))
    settings_file, settings = hubtest.write_settings(
        state,
        user_prefix=prefix,
        cgroup_parent=cgroups,
        culler_timeout=5,
        culler_every=10,  # the settings' minimum
        course_extra="enabled = false",
    )
    for step in install_steps(demo=False, datasets=False):
        step(settings)
    roster = {"tidle": ("learner", "", "learner-pass-idle")}
    store = AccountStore.from_settings(settings)
    store.import_roster(read_roster(hubtest.write_roster(state / "roster.csv", roster)))
    store.close()
    running = hubtest.start_hub(settings, settings_file)
    try:
        yield running
    finally:
        try:
            hubtest.stop_hub(running)
        finally:
            hubtest.remove_accounts(prefix, cgroups)
            shutil.rmtree(state, ignore_errors=True)
            shutil.rmtree(settings["paths"]["datasets_dir"], ignore_errors=True)


def test_idle_culler_stops_an_idle_learners_server(culling_hub):
    hub = culling_hub
    culler = hubtest._managed_services(hub)
    assert culler and "--timeout=5" in culler[0].cmdline(), "the culler did not get the settings"
    spawn(hub, "tidle")
    pid = server_pid("tidle")
    assert pid, "no server process for tidle"

    def culled():
        model = hub.admin("GET", "/users/tidle").json()
        return not model.get("server") and not model.get("pending")

    # idle 5 s, then the culler's next round (every 10 s) stops it
    assert wait_until(culled, timeout=60, interval=1), "the idle server was not culled"
    assert wait_until(lambda: is_gone(pid), timeout=30), "the server process is still running"
    # It was the culler that stopped it: the hub logged the culler service's request.
    log = hub.log_text()
    assert re.search(r"DELETE /hub/api/users/tidle/server.*idle-culler", log), log[-3000:]
    # and the account stays: only the server was culled
    assert hub.admin("GET", "/users/tidle").status_code == 200


def test_stopping_a_server_removes_its_cgroup(hub):
    s, r = login(hub, "tara", password("tara"))
    spawn(hub, "tara")
    pid = server_pid("tara")
    memory = cgroup_dir(pid, "memory")
    assert memory.is_dir()
    hub.admin("DELETE", "/users/tara/server")
    assert wait_until(lambda: not memory.exists(), timeout=60), f"{memory} left behind"
    assert is_gone(pid)
    assert os.path.isdir(f"/home/{TEST_USER_PREFIX}tara")


def test_server_killed_by_memory_limit_tells_the_learner_why(hub):
    s, r = login(hub, "theo", password("theo"))
    assert r.status_code == 302
    spawn(hub, "theo")
    token = user_token(s, hub, "theo")
    pid = server_pid("theo")
    kernel = Kernel(hub, "theo", token)
    shm = Path(f"/dev/shm/{TEST_USER_PREFIX}theo-fill")
    try:
        # Make the server the OOM killer's choice (as if it had grown), then
        # fill the group with tmpfs pages, which count against the limit but
        # belong to no process's resident size.
        Path(f"/proc/{pid}/oom_score_adj").write_text("1000")
        kernel.execute(
            f"f = open({str(shm)!r}, 'wb')\nfor _ in range(3 * 1024):\n    f.write(b'x' * 2**20)",
            timeout=60,
        )
        assert wait_until(lambda: is_gone(pid), timeout=30), "the server was not killed"
    finally:
        kernel.ws.close()
        shm.unlink(missing_ok=True)
    # the hub notices on its next poll and the learner is told why
    assert wait_until(
        lambda: not hub.admin("GET", "/users/theo").json().get("server"), timeout=90, interval=2
    ), "the hub did not notice the dead server"
    page = s.get(hub.url + "/hub/user/theo/lab", timeout=30)
    assert page.status_code == 424
    assert "used more memory than its limit" in page.text
    assert "1.0 GiB" in page.text
    # starting again works and clears the message
    spawn(hub, "theo")
    page = s.get(hub.url + "/hub/home", timeout=30)
    assert "used more memory" not in page.text


def test_instructor_issues_a_one_time_code_from_the_browser(hub):
    s, r = login(hub, "tina", password("tina"))
    assert r.status_code == 302
    home = s.get(hub.url + "/hub/home", timeout=30).text
    assert 'id="ai4scale-codes-link"' in home
    assert 'href="/hub/token"' in home  # trainers keep the hub's tools in their navigation
    # A trainer lands on the teaching page after login.
    assert r.headers["Location"].endswith("/services/course/instructor/"), r.headers
    page = s.get(hub.url + "/hub/codes", timeout=30)
    assert page.status_code == 200
    assert "<td>tnew</td>" in page.text  # learners only:
    assert "<td>tina</td>" not in page.text
    xsrf = s.cookies.get("_xsrf", "")
    r = s.post(hub.url + "/hub/codes", data={"username": "tnew", "_xsrf": xsrf}, timeout=30)
    assert r.status_code == 200
    code = re.search(r'<code class="fs-4">([A-Z0-9-]+)</code>', r.text).group(1)
    # the learner redeems it
    data = {
        "username": "tnew",
        "code": code,
        "password": "code-from-instructor",
        "password_confirmation": "code-from-instructor",
    }
    r = redeem(hub, data)
    assert r.status_code == 302, r.text
    assert login(hub, "tnew", "code-from-instructor")[1].status_code == 302
    # an instructor cannot take over another instructor's account
    r = s.post(hub.url + "/hub/codes", data={"username": "tina", "_xsrf": xsrf}, timeout=30)
    assert r.status_code == 403
    assert not hub.store.get("tina").code_valid  # and no code was issued


def test_learner_cannot_issue_codes(hub):
    s, r = login(hub, "tara", password("tara"))
    assert r.status_code == 302
    assert 'id="ai4scale-codes-link"' not in s.get(hub.url + "/hub/home", timeout=30).text
    assert s.get(hub.url + "/hub/codes", timeout=30).status_code == 403
    xsrf = s.cookies.get("_xsrf", "")
    r = s.post(hub.url + "/hub/codes", data={"username": "tom", "_xsrf": xsrf}, timeout=30)
    assert r.status_code == 403
    assert not hub.store.get("tom").code_valid  # no code was issued
