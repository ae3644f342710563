"""Secrets out of learners' reach: settings file, database passwords, tokens, cookie secrets.

A real hub on the local profile is set up as an administrator would: a
settings file in a world-readable folder (as ``/etc/ai4scale``), written
with mode 0644 (an editor's default), with OIDC and its client secret, the
hub database and the gradebook in PostgreSQL with passwords of their own
(roles made for the test). ``ai4scale up --no-start`` runs on it, then the
hub starts, two learners' servers are started through the REST API (with
OIDC nobody logs in through the form), and from a real kernel of one of
them, as her system account:

- the settings file, the state directory and each secret file there cannot
  be opened;
- a search of every file the account may read (the walker of
  ``test_learner_reach.py``) finds none of the secret values: the client
  secret, both database passwords, the hub's and the course service's
  cookie secrets, the admin service token, the proxy's auth token, the
  course service's and the idle culler's hub tokens, and the other
  learner's server token;
- no process's command line (``/proc/<pid>/cmdline`` is world-readable)
  holds any of them, seen from the kernel and from root, nor the
  environment of her own processes (what the hub passed to her server);
- the grading account, which runs learners' submitted code, reads none of
  them either.

A value planted in a world-readable file must be found, or the search
proves nothing. With the old 0644 settings file, the learner's kernel and
the grading account read the client secret and both database passwords.

Each secret value is read from where the running processes keep it (files
in the state directory, ``/proc/<pid>/environ`` as root), so the test
follows what the hub really uses. The values reach the kernel compressed,
and ``grep`` on its standard input: no readable file holds them.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import urllib.parse
import uuid
from pathlib import Path

import hubtest
import psutil
import pytest
import requests
from conftest import TEST_CGROUP_PARENT, TEST_USER_PREFIX, in_ci
from test_learner_reach import WALKER, _pack, _run_as

#: This module's own hub: its system accounts and cgroups, apart from the session hub's.
PREFIX = f"{TEST_USER_PREFIX}s-"
CGROUPS = f"{TEST_CGROUP_PARENT}-secrets"
LEARNERS = ("sela", "sami")


# -- the settings file step, without a hub ---------------------------------------


def test_a_new_settings_file_is_root_only(tmp_path):
    from ai4scale.hub.installer import ensure_settings_file

    path = tmp_path / "etc" / "ai4scale.toml"
    message = ensure_settings_file(path)
    st = path.stat()
    assert stat.S_IMODE(st.st_mode) == 0o600 and (st.st_uid, st.st_gid) == (0, 0)
    assert "root-only" in message
    assert 'profile = "local"' in path.read_text()


def test_an_existing_looser_settings_file_is_tightened_and_the_step_says_so(tmp_path):
    from ai4scale.hub.installer import ensure_settings_file

    path = tmp_path / "ai4scale.toml"
    path.write_text('[auth.oidc]\nclient_secret = "x"\n')
    path.chmod(0o664)
    os.chown(path, 65534, 65534)  # nobody: a file copied in by another account
    message = ensure_settings_file(path)
    st = path.stat()
    assert stat.S_IMODE(st.st_mode) == 0o600 and (st.st_uid, st.st_gid) == (0, 0)
    assert "made root-only" in message and "0664 -> 0600" in message, message
    assert "owner 65534:65534 -> root" in message, message
    assert path.read_text() == '[auth.oidc]\nclient_secret = "x"\n'  # kept as it was
    assert ensure_settings_file(path).endswith("(kept, root-only)")


def test_a_settings_folder_others_may_write_in_is_named(tmp_path):
    """Whoever writes in the folder may replace the file: said, not changed (it may be /tmp)."""
    from ai4scale.hub.installer import ensure_settings_file

    path = tmp_path / "ai4scale.toml"
    tmp_path.chmod(0o777)
    assert f"warning:[/] others may write in {tmp_path}" in ensure_settings_file(path)
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o777
    tmp_path.chmod(0o1777)  # sticky, as /tmp: nobody else may replace root's file
    assert "warning" not in ensure_settings_file(path)
    tmp_path.chmod(0o755)
    assert "warning" not in ensure_settings_file(path)


# -- PostgreSQL roles with passwords of their own ---------------------------------


def _psql(sql):
    """Run ``sql`` as the cluster's superuser (local peer login, as ./sandbox test does)."""
    proc = subprocess.run(
        ["runuser", "-u", "postgres", "--", "psql", "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
        capture_output=True,
        text=True,
        cwd="/",
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def databases():
    """Two databases, each owned by a role with its own distinctive password.

    Yields ``{"hub": url, "gradebook": url}`` and the passwords.
    """
    base = os.environ.get("AI4SCALE_TEST_POSTGRES_URL")
    if not base:
        if in_ci():
            pytest.fail("AI4SCALE_TEST_POSTGRES_URL is unset: run the suite with ./sandbox test")
        pytest.skip("no PostgreSQL: ./sandbox test starts one")
    where = urllib.parse.urlsplit(base)
    tag = uuid.uuid4().hex[:8]
    made, urls, passwords = [], {}, {}
    try:
        for kind in ("hub", "gradebook"):
            role = f"ai4s_{kind}_{tag}"
            password = f"{kind}-db-pass-{uuid.uuid4().hex}"
            _psql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
            made.append(role)
            _psql(f"CREATE DATABASE {role} OWNER {role}")
            urls[kind] = f"postgresql://{role}:{password}@{where.hostname}:{where.port}/{role}"
            passwords[kind] = password
        yield urls, passwords
    finally:
        for role in made:
            _psql(f"DROP DATABASE IF EXISTS {role} WITH (FORCE)")
            _psql(f"DROP ROLE IF EXISTS {role}")


# -- the hub, set up as an administrator would -------------------------------------


def _process(*words):
    """The one running process whose command line holds all ``words``."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if all(any(w in arg for arg in cmdline) for w in words):
            found.append(proc)
    assert len(found) == 1, (words, [p.info["cmdline"] for p in found])
    return found[0]


def _service(hub, word):
    """The managed service of ``hub`` whose command line holds ``word``."""
    found = [
        p
        for p in psutil.Process(hub.proc.pid).children(recursive=True)
        if any(word in arg for arg in p.cmdline())
    ]
    assert len(found) == 1, (word, [p.cmdline() for p in found])
    return found[0]


def _proxy_token(settings):
    """The proxy API's token: its root-only file, else the proxy's environment."""
    file = Path(settings["paths"]["state_dir"]) / "proxy-auth-token"
    if file.exists():
        return file.read_text().strip()
    proxy = _process("ai4scale.hub._proxy", str(settings["hub"]["proxy_api_port"]))
    return proxy.environ()["CONFIGPROXY_AUTH_TOKEN"]


def _server_token(name):
    pid = hubtest.server_pid(name)
    assert pid, f"no server process for {name}"
    return psutil.Process(pid).environ()["JUPYTERHUB_API_TOKEN"]


@pytest.fixture(scope="module")
def workdir():
    """The folder of the settings file (``etc/``) and of the state directory (``state/``)."""
    root = Path(tempfile.mkdtemp(prefix="ai4scale-secrets-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def setup(databases, workdir):
    """A running hub with OIDC and PostgreSQL; ``(hub, secrets, files, learner token)``."""
    if os.geteuid() != 0:
        pytest.fail("the hub tests start JupyterHub as root: run them as root (./sandbox test)")
    urls, passwords = databases
    root = workdir
    root.chmod(0o755)  # like / and /etc: learners may look around
    etc = root / "etc"
    etc.mkdir(mode=0o755)
    tag = uuid.uuid4().hex
    oidc = {
        "client_id": f"ai4scale-client-{tag[:12]}",
        "client_secret": f"oidc-client-secret-{tag}",
        "oauth_callback_url": "http://127.0.0.1:1/hub/oauth_callback",
        "authorize_url": f"https://idp-{tag[:8]}.example.eu/authorize",
        "token_url": f"https://idp-{tag[:8]}.example.eu/token",
        "userdata_url": f"https://idp-{tag[:8]}.example.eu/userinfo",
    }
    written, _ = hubtest.write_settings(
        root / "state",
        user_prefix=PREFIX,
        cgroup_parent=CGROUPS,
        hub_extra=f'db_url = "{urls["hub"]}"',
        course_extra=f'gradebook_url = "{urls["gradebook"]}"',
    )
    text = written.read_text().replace("[auth]\n", '[auth]\ntype = "oidc"\n', 1)
    text += "[auth.oidc]\n" + "".join(f'{k} = "{v}"\n' for k, v in oidc.items())
    written.unlink()
    settings_file = etc / "ai4scale.toml"
    settings_file.write_text(text)
    settings_file.chmod(0o644)  # what an editor leaves with umask 022
    # A value the learner may read, which the search must find (or it proves nothing).
    planted = root / "planted.txt"
    planted.write_text(f"planted-{tag}\n")
    planted.chmod(0o644)

    # `ai4scale up`'s preparation, as the administrator runs it.
    up = subprocess.run(
        [sys.executable, "-m", "ai4scale", "--config", str(settings_file), "up"]
        + ["--no-start", "--no-demo", "--no-datasets"],
        capture_output=True,
        text=True,
        cwd="/",
        timeout=300,
    )
    assert up.returncode == 0, up.stdout + up.stderr
    from ai4scale.hub import load_settings

    settings = load_settings(settings_file)
    assert settings["auth"]["type"] == "oidc" and settings["hub"]["db_url"] == urls["hub"]
    state = Path(settings["paths"]["state_dir"])
    hub = None
    try:
        hub = hubtest.start_hub(settings, settings_file)
        for name in LEARNERS:
            r = hub.admin("POST", f"/users/{name}")
            assert r.status_code == 201, r.text
            hubtest.spawn(hub, name)
        course = _service(hub, "ai4scale.hub.course")
        culler = _service(hub, "jupyterhub_idle_culler")
        secrets = {
            "OIDC client secret": oidc["client_secret"],
            "hub database password": passwords["hub"],
            "gradebook database password": passwords["gradebook"],
            "hub cookie secret": (state / "jupyterhub_cookie_secret").read_text().strip(),
            "admin service token": hub.token,
            "proxy auth token": _proxy_token(settings),
            "course service token": course.environ()["JUPYTERHUB_API_TOKEN"],
            "course service cookie secret": (state / "course" / "cookie_secret")
            .read_text()
            .strip(),
            "idle culler token": culler.environ()["JUPYTERHUB_API_TOKEN"],
            "another learner's server token": _server_token("sami"),
        }
        assert all(len(v) >= 16 for v in secrets.values()), secrets
        files = {
            "settings file": settings_file,
            "state directory": state,
            "hub cookie secret": state / "jupyterhub_cookie_secret",
            "admin service token": state / "admin-service-token",
            "proxy auth token": state / "proxy-auth-token",
            "course service files": state / "course",
            "course service cookie secret": state / "course" / "cookie_secret",
        }
        yield {
            "hub": hub,
            "up": up.stdout,
            "settings_file": settings_file,
            "secrets": secrets,
            "files": files,
            "token": _server_token("sela"),
            "planted": (str(planted), f"planted-{tag}"),
        }
    finally:
        try:
            if hub is not None:
                hubtest.stop_hub(hub)
        finally:
            hubtest.remove_accounts(PREFIX, CGROUPS)


@pytest.mark.hub
@pytest.mark.postgres
def test_up_made_the_settings_file_root_only_and_said_so(setup):
    st = setup["settings_file"].stat()
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0, oct(st.st_mode)
    assert f"settings: {setup['settings_file']} (kept; made root-only: mode 0644 -> 0600)" in (
        " ".join(setup["up"].split())
    ), setup["up"]


@pytest.mark.hub
@pytest.mark.postgres
def test_the_course_service_still_reads_its_settings(setup):
    """The services that need the settings run as root: the course service answers."""
    hub = setup["hub"]
    r = requests.get(hub.url + "/services/course/", allow_redirects=False, timeout=30)
    assert r.status_code in (200, 302), (r.status_code, r.text[:500])


#: Run in the learner's kernel: open each file; import what learners' kernels use.
OPEN_EACH = """
import json, os
from pathlib import Path
out = {}
for what, path in json.loads(%r).items():
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            Path(path).read_bytes()
        out[what] = "read"
    except OSError as e:
        out[what] = type(e).__name__
import ai4scale.hub.memory_notice, ai4scale.hub.plain_errors
from ai4scale import datasets
out["datasets listed"] = len(datasets.list()) > 0
print("OPEN", json.dumps(out))
"""


def _kernel(setup):
    return hubtest.Kernel(setup["hub"], "sela", setup["token"])


@pytest.mark.hub
@pytest.mark.postgres
def test_a_learners_kernel_cannot_open_the_settings_or_any_secret_file(setup):
    files = {what: str(path) for what, path in setup["files"].items()}
    kernel = _kernel(setup)
    try:
        out = kernel.execute(OPEN_EACH % json.dumps(files))
    finally:
        kernel.shutdown()
    assert out["error"] is None, out["stderr"][-3000:]
    got = json.loads(out["stdout"].split("OPEN ", 1)[1])
    # What learners' kernels load (the notices, the dataset loaders) needs no settings.
    assert got.pop("datasets listed") is True
    assert got == dict.fromkeys(files, "PermissionError")


#: Run in the learner's kernel: the ``/proc`` files that hold a secret. Command
#: lines are world-readable; environments only the owner's (her server's and
#: kernels': what the hub passed to them).
PROC_FILES = """
def proc_files(patterns):
    found = {}
    for pid in os.listdir("/proc"):
        for name in ("cmdline", "environ") if pid.isdigit() else ():
            try:
                with open(f"/proc/{pid}/{name}", "rb") as f:
                    text = f.read().replace(b"\\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            hits = [p for p in patterns if p in text]
            if hits:
                found[f"/proc/{pid}/{name}"] = hits
    return found
"""


def _named(found, secrets):
    names = {v: k for k, v in secrets.items()}
    return {where: [names.get(p, p) for p in hits] for where, hits in found.items()}


@pytest.mark.hub
@pytest.mark.postgres
def test_nothing_a_learner_can_read_holds_a_secret_value(setup):
    """The walker of test_learner_reach over all of ``/``; the ``/proc`` files she may read."""
    secrets = setup["secrets"]
    planted, value = setup["planted"]
    own = setup["token"]  # her server's token: in her processes' environment, not a leak
    patterns = [*secrets.values(), value]
    code = (
        WALKER
        + PROC_FILES
        + "import base64, zlib\n"
        + f"_p = json.loads(zlib.decompress(base64.b64decode({_pack(patterns)!r})))\n"
        + f"print('HITS', json.dumps({{'files': walk(_p), 'proc': proc_files(_p + [{own!r}])}}))\n"
    )
    kernel = _kernel(setup)
    try:
        out = kernel.execute(code, timeout=900)
    finally:
        kernel.shutdown()
    assert out["error"] is None, out["stderr"][-3000:]
    line = next((ln for ln in out["stdout"].splitlines() if ln.startswith("HITS ")), None)
    assert line is not None, out
    hits = json.loads(line[5:])
    assert hits["files"].pop(planted, None) == [value], "the search did not find the planted value"
    assert not hits["files"], "a learner can read secret values:\n" + json.dumps(
        _named(hits["files"], secrets), indent=2
    )
    # Her own processes' environments were read: her own token is found there.
    assert any(k.endswith("/environ") and own in v for k, v in hits["proc"].items()), hits["proc"]
    hits["proc"] = {k: [p for p in v if p != own] for k, v in hits["proc"].items()}
    hits["proc"] = {k: v for k, v in hits["proc"].items() if v}
    assert not hits["proc"], "command lines or environments hold secret values:\n" + json.dumps(
        _named(hits["proc"], secrets), indent=2
    )


@pytest.mark.hub
@pytest.mark.postgres
def test_no_process_command_line_holds_a_secret(setup):
    """As root, every process (the hub, proxy, course service, culler, servers, kernels)."""
    secrets = setup["secrets"]
    found = {}
    for proc in psutil.process_iter(["cmdline", "name"]):
        text = " ".join(proc.info["cmdline"] or [])
        hits = [name for name, value in secrets.items() if value in text]
        if hits:
            found[f"{proc.pid} {proc.info['name']}"] = hits
    assert not found, f"command lines hold secrets: {found}"


@pytest.mark.hub
@pytest.mark.postgres
def test_the_grading_account_reads_no_secret_value(setup):
    """Learners' submitted code runs as the grading account: it reads no secret either."""
    from ai4scale.grading.sandbox import GRADER_ACCOUNT, ensure_grader_account

    ensure_grader_account(GRADER_ACCOUNT)
    planted, value = setup["planted"]
    patterns = [*setup["secrets"].values(), value]
    code = (
        WALKER
        + "import pathlib\n"
        + "try:\n"
        + f"    pathlib.Path({str(setup['settings_file'])!r}).read_bytes(); opened = 'read'\n"
        + "except OSError as e:\n"
        + "    opened = type(e).__name__\n"
        + "print(json.dumps({'settings': opened, 'files': walk(json.load(sys.stdin))}))\n"
    )
    proc = _run_as(GRADER_ACCOUNT, code, stdin=json.dumps(patterns).encode())
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    got = json.loads(proc.stdout)
    assert got["settings"] == "PermissionError"
    assert got["files"].pop(planted, None) == [value], "the search did not find the planted value"
    assert not got["files"], "the grading account can read secret values:\n" + json.dumps(
        _named(got["files"], setup["secrets"]), indent=2
    )
