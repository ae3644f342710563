"""The Kubernetes grading Job's container, run by Docker as a kubelet would run it.

No cluster can run here, so the pod of :func:`job_spec` is translated field by
field into ``docker run``: its image and entrypoint with the Job's ``args``,
``runAsUser``/``runAsGroup``, the capabilities dropped and added, no privilege
escalation (``no-new-privileges``), the read-only root, the memory/CPU limits,
the pids annotation, each memory-backed ``emptyDir`` as a world-writable tmpfs
of its ``sizeLimit`` (as the kubelet creates them), the request Secret as a
read-only directory holding one 0400 file, and no network (what the
NetworkPolicy leaves a pod: nothing). The container's log, stdout and stderr
together as ``kubectl logs`` gives them, is read by the executor's parser and
compared with what the docker executor returns for the same notebook.
"""

from __future__ import annotations

import secrets

import nbformat
from ai4scale.grading.containers._kubernetes import (
    PIDS_ANNOTATION,
    REQUEST_DIR,
    REQUEST_KEY,
    job_name,
    job_spec,
)
from ai4scale.grading.containers._kubernetes_executor import KubernetesJobExecutor
from ai4scale.grading.containers._kubernetes_results import (
    job_failure,
    parse_results,
    request_document,
)

SANDBOX = {
    "cell_timeout": 20.0,
    "notebook_timeout": 60.0,
    "memory": "512M",
    "zygote_memory": "1G",
    "max_output_bytes": 100_000,
}

CELLS = [
    "print('hello from the grading pod')",
    "import os\nuid = os.getuid()\nprint(uid, os.getcwd())",
    "open('answer.txt', 'w').write('42')\nprint(open('answer.txt').read())",
    "1 / 0",
    # The NetworkPolicy's "no network" is Docker's none here: only loopback.
    "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)",
    "print(open('/etc/hostname').read() != '', uid != 0)",
    # emptyDirs are created 0777: the runs' dir must still be closed to the grader,
    # and /tmp sticky (others' files safe), as the docker executor's tmpfs mounts.
    "import stat\ntry:\n    os.listdir('/grading/runs')\n    print('listed')\n"
    "except PermissionError:\n    print('private')\n"
    "mode = lambda path: oct(stat.S_IMODE(os.stat(path).st_mode))\n"
    "print(mode('/tmp'), mode('/grading/work'))",
]


def notebook(cells=CELLS):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])


def docker_run_of(pod, annotations, request_dir):
    """Return ``docker run`` keywords (SDK) doing what a kubelet does with ``pod``."""
    [container] = pod["spec"]["containers"]
    sec = container["securityContext"]
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    tmpfs, binds = {}, {}
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "emptyDir" in volume:
            assert volume["emptyDir"]["medium"] == "Memory"
            # The kubelet makes emptyDirs 0777, owned by root.
            tmpfs[mount["mountPath"]] = f"rw,size={volume['emptyDir']['sizeLimit']},mode=0777"
        else:
            assert volume["secret"]["secretName"] and mount["readOnly"] is True
            binds[str(request_dir)] = {"bind": mount["mountPath"], "mode": "ro"}
    limits = container["resources"]["limits"]
    security_opt = (
        ["seccomp=unconfined"] if sec["seccompProfile"]["type"] != "RuntimeDefault" else []
    )
    if sec["allowPrivilegeEscalation"] is False:
        security_opt.append("no-new-privileges")
    return {
        "image": container["image"],
        "command": container["args"],  # after the image's entrypoint, as args do
        "user": f"{sec['runAsUser']}:{sec['runAsGroup']}",
        "working_dir": container["workingDir"],
        "cap_drop": sec["capabilities"]["drop"],
        "cap_add": sec["capabilities"].get("add", []),
        "security_opt": security_opt,
        "read_only": sec["readOnlyRootFilesystem"],
        "privileged": sec["privileged"],
        "mem_limit": int(limits["memory"]),
        "memswap_limit": int(limits["memory"]),
        "nano_cpus": int(limits["cpu"].rstrip("m")) * 1_000_000,
        "pids_limit": int(annotations[PIDS_ANNOTATION]),
        "tmpfs": tmpfs,
        "volumes": binds,
        "network_mode": "none",
    }


def run_job_container(client, tmp_path, image, runs, *, preload=""):
    """Run the Job of ``runs`` [(id, nb)]; return (log, exit code, State)."""
    executor = KubernetesJobExecutor(image=image, namespace="test", **SANDBOX)
    settings = executor.settings()
    worker = {k: v for k, v in settings.items() if k != "image"}
    doc = request_document(runs, settings=worker, preload=preload)
    name = job_name(secrets.token_hex(4), lab="k8s-job-test")
    job = job_spec(settings, name=name, request_secret=name, submissions=len(runs))
    # The Secret volume: a directory with the one key, 0400, root's.
    request_dir = tmp_path / "request"
    request_dir.mkdir()
    (request_dir / REQUEST_KEY).write_bytes(doc)
    (request_dir / REQUEST_KEY).chmod(0o400)
    request_dir.chmod(0o755)
    kw = docker_run_of(job["spec"]["template"], job["metadata"]["annotations"], request_dir)
    container = client.containers.run(
        detach=True, name=f"ai4scale-test-k8sjob-{secrets.token_hex(4)}", **kw
    )
    try:
        status = container.wait(timeout=job["spec"]["activeDeadlineSeconds"])
        container.reload()
        log = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        return log, status["StatusCode"], container.attrs["State"], kw
    finally:
        container.remove(force=True)


def comparable(result):
    """The parts of a RunResult that do not depend on timing or on which executor ran it."""
    return (
        result.outcome,
        [
            (c.index, c.status, c.ename, c.evalue, c.text().split()[:1], c.truncated)
            for c in result.cells
        ],
    )


def test_job_container_grades_like_the_docker_executor(docker_client, singleuser_image, tmp_path):
    nb = notebook()
    log, code, state, kw = run_job_container(
        docker_client, tmp_path, singleuser_image, [("a", nb), ("b", notebook(CELLS[:1]))]
    )
    assert code == 0, log[-3000:]
    assert not state["OOMKilled"]
    # The container ran as a kubelet would run the pod.
    assert kw["read_only"] and kw["network_mode"] == "none" and kw["cap_drop"] == ["ALL"]
    assert REQUEST_DIR in {v["bind"] for v in kw["volumes"].values()}

    results, errors, done = parse_results(log, ["a", "b"])
    assert errors == [] and done, log[-3000:]
    a, b = results["a"], results["b"]
    assert a.outcome == "completed" and a.forked
    status = [c.status for c in a.cells]
    assert status == ["ok", "ok", "ok", "error", "error", "ok", "ok"]
    assert "hello from the grading pod" in a.cells[0].text()
    uid, cwd = a.cells[1].text().split()
    assert uid != "0" and cwd.startswith("/grading/work/")  # the grading account, its work dir
    assert a.cells[2].text().strip() == "42"
    assert a.cells[3].ename == "ZeroDivisionError"
    assert a.cells[4].ename in ("OSError", "TimeoutError", "ConnectionRefusedError")
    assert a.cells[5].text().split() == ["True", "True"]
    assert a.cells[6].text().split() == ["private", "0o1777", "0o1733"]
    assert b.outcome == "completed" and [c.status for c in b.cells] == ["ok"]

    # The docker executor gives the same result for the same notebook.
    from ai4scale.grading.containers import DockerExecutor

    docker_result = DockerExecutor(image=singleuser_image, **SANDBOX).run(nb)
    assert comparable(docker_result) == comparable(a)


def test_bad_request_is_said_in_the_log(docker_client, singleuser_image, tmp_path):
    """A run the worker refuses comes back as the executor's words, not a crash."""
    executor = KubernetesJobExecutor(image=singleuser_image, namespace="test", **SANDBOX)
    log, code, state, _ = run_job_container(
        docker_client,
        tmp_path,
        singleuser_image,
        [("0", notebook(["x = 1"]))],
        preload="import no_such_module_x",
    )
    results, errors, done = parse_results(log, ["0"])
    assert code == 1 and results["0"] is None and errors, log[-3000:]
    job = {"spec": {}, "status": {"conditions": [{"type": "Failed", "status": "True"}]}}
    pod = {"status": {"containerStatuses": [{"state": {"terminated": {"exitCode": code}}}]}}
    outcome, reason = job_failure(job, pod, log=log, errors=errors)
    assert outcome == "startup_failed" and "no_such_module_x" in reason
    assert executor.name == "kubernetes"


def test_memory_bomb_is_a_memory_limit_result_and_the_job_goes_on(
    docker_client, singleuser_image, tmp_path
):
    """The pod's memory limit kills the bomb's kernel; the next run of the Job still runs."""
    bomb = notebook(["x = bytearray(3 << 30)\nx[::4096] = b'1' * len(x[::4096])"])
    log, code, state, kw = run_job_container(
        docker_client, tmp_path, singleuser_image, [("bomb", bomb), ("next", notebook(["1"]))]
    )
    assert kw["mem_limit"] == (512 << 20) + (1 << 30)
    results, errors, done = parse_results(log, ["bomb", "next"])
    assert done and not errors, log[-3000:]
    assert results["bomb"].outcome == "memory_limit", results["bomb"].reason
    assert results["next"].outcome == "completed"
    # Only the kernel was killed here (cgroup v1); Docker's OOMKilled flag says
    # that some process of the container was. On cgroup v2 nodes Kubernetes
    # ends the whole container instead (memory.oom.group): the pod's status
    # then says OOMKilled, which job_failure turns into the same memory_limit.
    assert code == 0 and state["OOMKilled"]
