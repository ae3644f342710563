"""A benchmark hub with N learners, and memory by proportional set size (PSS).

Index:
- :func:`bench_hub` -- start a hub (fork servers on or off) with learners whose
  system accounts already exist, so timings measure starts, not ``useradd``.
- :func:`open_notebook` -- what JupyterLab does when a notebook opens (a session
  with a new kernel), connected and ready to run cells.
- :func:`pss_mib` / :func:`cgroup_pss_mib` -- PSS of processes, of a learner's cgroup.
- :func:`pct` -- percentile of a list.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import hubtest  # noqa: E402

PREFIX = "ai4b-"
CGROUP_PARENT = "ai4scale-bench"


def pct(values, q):
    """Return the ``q``-th percentile (nearest rank) of ``values``."""
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(q / 100 * (len(values) - 1))))
    return values[k]


def pss_mib(pids):
    """Sum of the proportional set size of ``pids``, in MiB (gone processes count 0)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            total += psutil.Process(pid).memory_full_info().pss
    return total / 2**20


def cgroup_pids(account):
    """Pids in learner ``account``'s memory cgroup."""
    procs = Path(f"/sys/fs/cgroup/memory/{CGROUP_PARENT}/{account}/cgroup.procs")
    try:
        return [int(p) for p in procs.read_text().split()]
    except OSError:
        return []


def cgroup_pss_mib(account):
    """PSS of everything in learner ``account``'s cgroup (server, kernels), in MiB."""
    return pss_mib(cgroup_pids(account))


@contextlib.contextmanager
def bench_hub(learners, *, fork=True, memory="2G", profile="local", image=None):
    """Start a hub with ``learners`` learners (accounts created); yield (hub, names, tokens).

    ``profile="docker"``: learners' servers are containers of ``image`` on the
    host network (no system accounts); their containers and home volumes are
    removed at the end.
    """
    names = [f"bench{i:02d}" for i in range(learners)]
    docker = profile == "docker"
    roster = {n: ("learner", "", f"bench-pass-{n}") for n in names}
    state = Path(tempfile.mkdtemp(prefix="ai4scale-bench-"))
    flag = "true" if fork else "false"
    settings_file, settings = hubtest.prepare_state(
        state,
        roster,
        user_prefix=PREFIX,
        cgroup_parent=CGROUP_PARENT,
        memory=memory,
        culler_timeout=0,
        profile=profile,
        extra=f'[docker]\nimage = "{image}"\nnetwork = "host"\n' if docker else "",
    )
    text = settings_file.read_text() + f"\n[spawn]\nfork = {flag}\n[kernels]\nfork = {flag}\n"
    settings_file.write_text(text)
    settings["spawn"]["fork"] = settings["kernels"]["fork"] = fork
    from ai4scale.hub.system_users import ensure_system_user, system_username

    for n in names if not docker else ():  # as after a first sign-in: accounts exist
        ensure_system_user(system_username(PREFIX, n), comment=f"AI4Scale {n}")
    hub = hubtest.start_hub(settings, settings_file)
    try:
        tokens = {}
        for n in names:
            session = hubtest.login(hub, n, roster[n][2])[0]
            tokens[n] = hubtest.user_token(session, hub, n)
        yield hub, names, tokens
    finally:
        hubtest.stop_hub(hub)
        hubtest.remove_accounts(PREFIX, CGROUP_PARENT)
        if docker:
            remove_containers(names)


def _client():
    from ai4scale.hub.images import docker_client

    return docker_client()


def container_of(name):
    """The Docker container of learner ``name``'s server (docker profile)."""
    from ai4scale.hub.profiles.docker import CONTAINER_PREFIX

    return _client().containers.get(f"{CONTAINER_PREFIX}-{name}")


def container_pids(name):
    """Pids of every process in learner ``name``'s container."""
    try:
        pid = container_of(name).attrs["State"]["Pid"]
        root = psutil.Process(pid)
        return [pid] + [p.pid for p in root.children(recursive=True)]
    except Exception:  # noqa: BLE001 - gone: counts nothing
        return []


def remove_containers(names):
    """Remove the benchmark learners' containers and home volumes."""
    client = _client()
    for n in names:
        with contextlib.suppress(Exception):
            container_of(n).remove(force=True)
        with contextlib.suppress(Exception):
            client.volumes.get(f"ai4scale-home-{n}").remove(force=True)


def spawn_request(hub, name, token):
    """POST the spawn as the learner's browser does; return when the server is ready (seconds)."""
    t0 = time.monotonic()
    hubtest.spawn(hub, name, token=token, timeout=600)
    return time.monotonic() - t0


def open_notebook(hub, name, token, path="bench.ipynb"):
    """Open a notebook as JupyterLab does (POST /api/sessions); return a connected Kernel."""
    base = f"{hub.url}/user/{name}"
    headers = {"Authorization": f"token {token}"}
    body = {"path": path, "type": "notebook", "name": path, "kernel": {"name": "python3"}}
    r = requests.post(f"{base}/api/sessions", json=body, headers=headers, timeout=120)
    r.raise_for_status()
    kernel = hubtest.Kernel.__new__(hubtest.Kernel)
    kernel.base, kernel.headers, kernel.id = base, headers, r.json()["kernel"]["id"]
    kernel.ws = kernel._connect()
    return kernel


def new_session_id():
    """A random id (for unique notebook paths)."""
    return uuid.uuid4().hex[:8]
