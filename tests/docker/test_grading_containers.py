"""Grading in containers: the ``docker`` executor against a real engine and image.

Each test starts real grading containers of the single-user image (network
``none``) and compares with the local sandbox where scores are concerned.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest
from ai4scale.grading.labformat import find_labs
from nbformat.v4 import new_code_cell, new_notebook

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "honest"))
import attacks  # noqa: E402
import messy  # noqa: E402


def nb(*sources):
    return new_notebook(cells=[new_code_cell(s) for s in sources])


@pytest.fixture
def datasets(tmp_path):
    """A prepared-datasets folder of the host (one file, read-only for the grader)."""
    folder = tmp_path / "datasets"
    folder.mkdir()
    (folder / "hello.csv").write_text("a,b\n1,2\n")
    folder.chmod(0o755)
    tmp_path.chmod(0o755)
    return folder


@pytest.fixture
def executor(docker_client, singleuser_image, datasets):
    from ai4scale.grading.containers import DockerExecutor

    ex = DockerExecutor(
        image=singleuser_image,
        datasets_dir=str(datasets),
        cell_timeout=5,
        notebook_timeout=60,
        memory="400M",
    )
    ex.open_pool(preload="import pandas", size=1, workdir_files={"data.txt": b"lab file"})
    yield ex
    ex.close_pool()


def _run(ex, *sources):
    return ex.run(nb(*sources), workdir_files={"data.txt": b"lab file"})


def test_grading_container_is_confined(executor, docker_client, datasets):
    (container,) = executor._containers
    attrs = docker_client.api.inspect_container(container.name)
    host = attrs["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    caps = sorted(c.removeprefix("CAP_") for c in host["CapAdd"])
    assert caps == ["SETGID", "SETPCAP", "SETUID"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["Memory"] > 0 and host["MemorySwap"] == host["Memory"]
    assert host["NanoCpus"] == 1_000_000_000 and host["PidsLimit"] > 0
    # The only mount besides the tmpfs: the prepared datasets, read-only, at the same path.
    (mount,) = attrs["Mounts"]
    assert (mount["Type"], mount["Source"], mount["Destination"]) == (
        "bind",
        str(datasets),
        str(datasets),
    )
    assert mount["RW"] is False and not host.get("Binds")
    assert host["Mounts"] == [
        {"Type": "bind", "Source": str(datasets), "Target": str(datasets), "ReadOnly": True}
    ]
    assert set(host["Tmpfs"]) == {"/tmp", "/var/tmp", "/grading/work", "/grading/runs"}
    result = _run(
        executor,
        "import os; print(os.getuid(), os.getcwd(), open('data.txt').read())",
        "print(open('/proc/self/status').read().split('CapEff:')[1].split()[0])",
        "from ai4scale.datasets import get_data_home\n"
        "print(os.environ['AI4SCALE_DATASETS'] == str(get_data_home()), "
        "open(get_data_home() / 'hello.csv').read().split()[1])",
        "try:\n    open(get_data_home() / 'mine.csv', 'w')\nexcept OSError as e:\n"
        "    print('refused', e.errno)",
    )
    assert result.outcome == "completed", result.reason
    uid, cwd, *text = result.cells[0].text().split()
    assert int(uid) != 0 and cwd.startswith("/grading/work/") and text == ["lab", "file"]
    assert int(result.cells[1].text(), 16) == 0
    assert result.cells[2].text() == "True 1,2\n"
    assert result.cells[3].text() == "refused 30\n"  # EROFS: nothing written for the next run
    assert not (datasets / "mine.csv").exists()


def test_endless_loop_and_memory_bomb_cost_only_their_run(executor):
    loop = _run(executor, "while True: pass", "print('never')")
    assert loop.outcome == "cell_timeout", loop.reason
    # Beyond the container's cap (memory + zygote_memory): the OOM killer takes the kernel.
    bomb = _run(executor, "x = []\nwhile True:\n    x.append(b'x' * (64 << 20))")
    assert bomb.outcome == "memory_limit", bomb.reason
    assert bomb.cells[0].status == "dead"
    after = _run(executor, "print(open('data.txt').read())")
    assert after.outcome == "completed" and after.cells[0].text() == "lab file\n"
    (container,) = executor._containers  # a fresh one: no memory notice in later runs


def test_no_network_not_even_the_hosts_loopback(executor):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    port = server.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    try:
        result = _run(
            executor,
            f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), 2)\n"
            "    print('reached')\nexcept OSError as e:\n    print('refused', e.errno)",
            "try:\n    socket.getaddrinfo('pypi.org', 443)\n    print('resolved')\n"
            "except OSError:\n    print('no dns')",
            "import os; print(sorted(os.listdir('/sys/class/net')))",
        )
    finally:
        server.close()
    assert result.outcome == "completed", result.reason
    assert result.cells[0].text().startswith("refused"), result.cells[0].text()
    assert result.cells[1].text() == "no dns\n"
    assert result.cells[2].text() == "['lo']\n"  # no route out: nothing to reach
    assert not accepted


TAMPER = r"""
import os, signal, subprocess
tried = []
for pid in (os.getppid(), 1):
    try:
        os.kill(pid, signal.SIGKILL); tried.append(f'killed {pid}')
    except OSError as e:
        tried.append(f'kill {pid}: {e.errno}')
me = os.getuid()
others = [p for p in os.listdir('/proc') if p.isdigit() and os.stat(f'/proc/{p}').st_uid != me]
for pid in others:
    try:
        with open(f'/proc/{pid}/fd/1', 'w') as f:
            f.write('{"event": "result", "id": "2", "result": {}}\n'); tried.append(f'wrote {pid}')
    except OSError:
        pass
subprocess.Popen(['sh', '-c', 'sleep 30; echo late > /tmp/late'], start_new_session=True)
for d in ('/tmp', '/var/tmp', '/dev/shm', '/grading/work'):
    try:
        open(f'{d}/for-the-next-run', 'w').write('x'); tried.append(f'file {d}')
    except OSError as e:
        tried.append(f'file {d}: {e.errno}')
print(tried)
"""

PROBE = r"""
import os, glob
me = os.getuid()
mine = [p for p in os.listdir('/proc') if p.isdigit() and os.stat(f'/proc/{p}').st_uid == me]
left = [p for d in ('/tmp', '/var/tmp', '/dev/shm', '/grading/work') for p in glob.glob(d + '/*')
        if os.stat(p).st_uid == os.getuid() and not p.startswith(os.getcwd())]
print(len(mine), left, os.path.exists('/tmp/late'))
"""


def test_tampering_does_not_reach_the_next_run(executor):
    first = _run(executor, TAMPER)
    assert first.outcome == "completed", first.reason
    tried = first.cells[0].text()
    assert "killed" not in tried and "wrote" not in tried, tried
    assert "file /tmp'" in tried  # the attempt was made: what it left must be gone
    second = _run(executor, PROBE, "print(open('data.txt').read())")
    assert second.outcome == "completed", second.reason
    count, rest = second.cells[0].text().split(" ", 1)
    assert int(count) <= 2, count  # the kernel itself (and a thread-less helper at most)
    assert rest == "[] False\n"
    assert second.cells[1].text() == "lab file\n"


#: Every real lab (each loads a prepared dataset; lab 04's hidden tests import its
#: reference rule) and the example.
SCORE_LABS = find_labs(REPO / "labs")


@pytest.mark.parametrize("lab_dir", SCORE_LABS, ids=lambda p: p.name)
def test_scores_equal_the_local_sandbox(
    docker_client, singleuser_image, lab_sandbox, lab_dir, tmp_path
):
    """The reference, the learner's blank notebook, an honest messy one, an attack: same grades."""
    from ai4scale.grading.autograde import grade_batch, open_lab
    from ai4scale.grading.containers import DockerExecutor
    from ai4scale.grading.containers._docker import DEFAULT_DATASETS
    from ai4scale.grading.labformat import learner_version

    glab = open_lab(lab_dir)
    subs = tmp_path / "subs"
    for learner, build in {
        "reference": lambda n, s: messy.solved(s, n),
        "blank": lambda n, s: learner_version(s, name=n),
        "kernel-exit": lambda n, s: _built(attacks.ATTACKS["kernel-exit"][0], messy.solved(s, n)),
    }.items():
        (subs / learner).mkdir(parents=True)
        for name, source in glab.sources.items():
            nbformat.write(build(name, source), subs / learner / name)
    messy.write_variant(subs, "honest-everything", glab.sources, "everything", glab.id)
    docker = DockerExecutor(
        image=singleuser_image,
        datasets_dir=DEFAULT_DATASETS,
        cell_timeout=120,
        notebook_timeout=600,
    )
    in_docker = {g.learner: g for g in grade_batch(glab, subs, executor=docker, workers=2)}
    local = {g.learner: g for g in grade_batch(glab, subs, executor=lab_sandbox, workers=2)}
    assert set(in_docker) == set(local) == {p.name for p in subs.iterdir()}
    for learner in local:
        assert in_docker[learner].status == local[learner].status, learner
        assert [r.score for r in in_docker[learner].results] == [
            r.score for r in local[learner].results
        ], learner
        assert in_docker[learner].total == local[learner].total, learner
        assert sorted(in_docker[learner].flags) == sorted(local[learner].flags), learner
        assert "setup_failed" not in in_docker[learner].flags, in_docker[learner].flags
    assert in_docker["reference"].total == in_docker["honest-everything"].total
    assert in_docker["reference"].total > in_docker["blank"].total


def _built(build, nb):
    build(nb)
    return nb


def _json(notebook):
    return json.loads(nbformat.writes(notebook))


def test_one_request_from_a_file(singleuser_image):
    """The Kubernetes Job mode: a request document in, JSON lines out (same worker)."""
    from ai4scale.grading.containers._docker import container_args
    from ai4scale.grading.sandbox import Sandbox

    doc = {
        "protocol": 1,
        "settings": {"cell_timeout": 5},
        "preload": "import json",
        "files": {"data.txt": "bGFiIGZpbGU="},
        "runs": [
            {
                "id": "a",
                "notebook": json.loads(nbformat.writes(nb("print(open('data.txt').read())"))),
            },
            {"id": "b", "notebook": json.loads(nbformat.writes(nb("while True: pass")))},
        ],
    }
    args = container_args(Sandbox(), image=singleuser_image, name="ai4scale-grading-test-file")
    i = args.index(singleuser_image)
    cmd = [
        *args[: i + 1],
        "sh",
        "-c",
        "cat > /grading/runs/request.json && exec python -P -m ai4scale.grading.containers "
        "run --request /grading/runs/request.json",
    ]
    cmd.insert(cmd.index("-i") + 1, "--rm")
    out = subprocess.run(
        ["docker", *cmd], input=json.dumps(doc).encode(), capture_output=True, timeout=120
    )
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert out.returncode == 0, out.stderr[-2000:]
    assert [e["event"] for e in events] == ["ready", "result", "result", "done"]
    a, b = events[1]["result"], events[2]["result"]
    assert a["outcome"] == "completed" and a["cells"][0]["outputs"][0]["text"] == "lab file\n"
    assert b["outcome"] == "cell_timeout"
