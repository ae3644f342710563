"""Grading on Kubernetes without a cluster: the Job, Secret and NetworkPolicy it would send.

The manifests are checked field by field from settings files, and against
the Kubernetes API's own shapes offline: kubernetes_asyncio (KubeSpawner's
client) deserialises them into its typed models (which refuses a missing
required field) and serialises them back, so a misspelt key, dropped by
the models, shows as a difference. The worker's events come from the
in-container worker itself in tests/docker/test_docker_kubernetes_job.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from pathlib import Path

import ai4scale.hub
import nbformat
import pytest
from ai4scale.grading.containers._kubernetes import (
    COMPONENT_LABELS,
    CONTAINER,
    PIDS_ANNOTATION,
    REQUEST_DIR,
    REQUEST_KEY,
    STARTUP_MARGIN,
    dns_label,
    job_name,
    job_spec,
    network_policy,
    owner_reference,
    request_secret,
)
from ai4scale.grading.containers._kubernetes_executor import WORKER_ARGS
from ai4scale.grading.containers._kubernetes_results import (
    job_failure,
    job_finished,
    parse_results,
    pod_stuck,
    request_document,
    unrun_result,
)
from ai4scale.grading.containers._protocol import read_document
from ai4scale.grading.sandbox import OUTCOMES, CellResult, RunResult
from ai4scale.hub import load_settings
from kubernetes_asyncio.client import ApiClient

HUB_DIR = Path(ai4scale.hub.__file__).parent
GiB = 1 << 30
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

SETTINGS = """
profile = "kubernetes"
[limits]
memory = "3G"
cpu = 1.5
processes = 256
[kubernetes]
image = "registry.example.eu/ai4scale/singleuser:0.1.0"
"""


@pytest.fixture
def settings(tmp_path):
    path = tmp_path / "ai4scale.toml"
    path.write_text(SETTINGS)
    return load_settings(path)


def spec_of(settings, **kw):
    kw.setdefault("name", "ai4scale-grade-abc")
    kw.setdefault("request_secret", "ai4scale-grade-abc")
    kw.setdefault("args", WORKER_ARGS)
    return job_spec(settings, **kw)


def round_trip(manifest, kind):
    """Return ``manifest`` through the client's typed model ``kind`` and back."""

    async def through():
        async with ApiClient() as api:
            model = api._ApiClient__deserialize(manifest, kind)
            return api.sanitize_for_serialization(model)

    return asyncio.run(through())


def test_job_runs_the_worker_once_from_the_request_secret(settings):
    job = spec_of(settings, notebook_timeout=120.0)
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    spec = job["spec"]
    assert spec["backoffLimit"] == 0  # a failed grading pod is never run again
    assert spec["activeDeadlineSeconds"] == 120 + STARTUP_MARGIN
    assert spec["ttlSecondsAfterFinished"] > 0
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    [container] = pod["containers"]
    assert container["name"] == CONTAINER
    assert container["image"] == "registry.example.eu/ai4scale/singleuser:0.1.0"
    # The image's entrypoint (tini) stays; the worker reads the mounted request.
    assert "command" not in container
    request = f"{REQUEST_DIR}/{REQUEST_KEY}"
    assert container["args"][-2:] == ["--request", request]
    assert container["args"][:5] == [
        "python",
        "-m",
        "ai4scale.grading.containers",
        "run",
        "--request",
    ]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["request"] == {"name": "request", "mountPath": REQUEST_DIR, "readOnly": True}
    volumes = {v["name"]: v for v in pod["volumes"]}
    secret = volumes["request"]["secret"]
    assert secret["secretName"] == "ai4scale-grade-abc"
    assert secret["items"] == [{"key": REQUEST_KEY, "path": REQUEST_KEY}]
    assert secret["defaultMode"] == 0o400


def test_job_pod_is_locked_down(settings):
    pod = spec_of(settings)["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    assert "hostNetwork" not in pod and "hostPID" not in pod and "hostIPC" not in pod
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sec = pod["containers"][0]["securityContext"]
    assert sec["allowPrivilegeEscalation"] is False
    assert sec["readOnlyRootFilesystem"] is True
    assert sec["privileged"] is False
    assert sec["capabilities"] == {"drop": ["ALL"]}
    # The work dir and /tmp are memory-backed, size-capped emptyDirs.
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
    assert volumes[mounts["/tmp"]]["emptyDir"] == {"medium": "Memory", "sizeLimit": str(20 << 20)}
    work = pod["containers"][0]["workingDir"]
    assert volumes[mounts[work]]["emptyDir"] == {"medium": "Memory", "sizeLimit": str(100 << 20)}


def test_root_in_the_container_keeps_only_the_named_capabilities(settings):
    sec = spec_of(settings, add_capabilities=("SETUID", "SETGID"))["spec"]["template"]["spec"]
    assert sec["securityContext"]["runAsUser"] == 0
    assert sec["securityContext"]["runAsNonRoot"] is False
    caps = sec["containers"][0]["securityContext"]["capabilities"]
    assert caps == {"drop": ["ALL"], "add": ["SETGID", "SETUID"]}
    # Without root, the pod asks Kubernetes to refuse running as root.
    pod = spec_of(settings, run_as=(1000, 100))["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (
        1000,
        100,
    )


def test_resources_are_guaranteed_and_follow_the_limits(settings):
    container = spec_of(settings)["spec"]["template"]["spec"]["containers"][0]
    res = container["resources"]
    assert res["limits"] == res["requests"]  # Guaranteed QoS: never evicted first
    assert res["limits"] == {"memory": str(3 * GiB), "cpu": "1500m"}
    job = spec_of(settings)
    assert job["metadata"]["annotations"][PIDS_ANNOTATION] == "256"


@pytest.mark.parametrize(
    ("change", "where", "expected"),
    [
        (("kubernetes", "image", "other.example.eu/lab:2"), "image", "other.example.eu/lab:2"),
        (("limits", "memory", "512M"), "memory", str(512 << 20)),
        (("limits", "cpu", 0.25), "cpu", "250m"),
        (("limits", "processes", 64), "pids", "64"),
    ],
)
def test_spec_follows_settings_changes(settings, change, where, expected):
    section, key, value = change
    settings[section][key] = value
    job = spec_of(settings)
    container = job["spec"]["template"]["spec"]["containers"][0]
    got = {
        "image": container["image"],
        "memory": container["resources"]["limits"]["memory"],
        "cpu": container["resources"]["limits"]["cpu"],
        "pids": job["metadata"]["annotations"][PIDS_ANNOTATION],
    }
    assert got[where] == expected
    if where in ("memory", "cpu"):
        assert container["resources"]["requests"][where] == expected


@pytest.mark.parametrize(
    ("timeout", "submissions", "margin", "deadline"),
    [(300.0, 1, STARTUP_MARGIN, 300 + STARTUP_MARGIN), (30.5, 4, 60, 182), (10, 0, 0, 10)],
)
def test_deadline_is_the_notebooks_in_a_row_plus_the_margin(
    settings, timeout, submissions, margin, deadline
):
    job = spec_of(settings, notebook_timeout=timeout, submissions=submissions, margin=margin)
    assert job["spec"]["activeDeadlineSeconds"] == deadline


def test_bad_cpu_is_refused(settings):
    settings["limits"]["cpu"] = 0
    with pytest.raises(ValueError, match="cpu"):
        spec_of(settings)


@pytest.mark.parametrize(
    "lab",
    [
        "03-fairness-audit",
        "03_Fairness Audit",
        "Éthique & IA (v2)",
        "-x-",
        "a" * 200,
        "labs/../etc",
        "UPPER",
        "",
    ],
)
def test_names_are_dns_labels_whatever_the_lab_id(lab):
    name = job_name("0f3a9c21", lab=lab)
    assert DNS_LABEL.match(name) and len(name) <= 63
    assert name.startswith("ai4scale-grade-") and name.endswith("-0f3a9c21")
    label = dns_label(lab)
    assert DNS_LABEL.match(label) and len(label) <= 63


def test_dns_label_keeps_clean_names_and_tells_changed_ones_apart():
    assert dns_label("ai4scale-grade", "lab1") == "ai4scale-grade-lab1"
    # Two ids that clean up alike still give two names (a hash of the original).
    assert dns_label("Lab 1") != dns_label("lab-1")
    assert dns_label("Lab 1") != dns_label("lab_1")
    long_a, long_b = "x" * 100 + "a", "x" * 100 + "b"
    assert dns_label(long_a) != dns_label(long_b)
    assert len(dns_label(long_a)) == 63
    assert job_name("a1") != job_name("a2")


def test_job_labels_are_valid_and_selected_by_the_network_policy(settings):
    job = spec_of(settings, lab="03_Fairness Audit", hub="Class of 2026")
    pod_labels = job["spec"]["template"]["metadata"]["labels"]
    assert pod_labels["app.kubernetes.io/component"] == "grading"
    for key, value in pod_labels.items():
        assert DNS_LABEL.match(value) and len(value) <= 63, (key, value)
    policy = network_policy(settings)
    selector = policy["spec"]["podSelector"]["matchLabels"]
    assert selector == COMPONENT_LABELS
    assert selector.items() <= pod_labels.items()
    # Deny all, both ways: both policy types, and no rule that allows anything.
    assert sorted(policy["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    assert policy["spec"]["ingress"] == [] and policy["spec"]["egress"] == []


@pytest.mark.parametrize("add_capabilities", [(), ("SETUID", "SETGID")])
def test_manifests_have_the_kubernetes_api_shapes(settings, add_capabilities):
    job = spec_of(settings, lab="03_Fairness Audit", add_capabilities=add_capabilities)
    assert round_trip(job, "V1Job") == job
    policy = network_policy(settings)
    assert round_trip(policy, "V1NetworkPolicy") == policy
    secret = request_secret("ai4scale-grade-abc", b'{"protocol": 1}', lab="lab")
    assert round_trip(secret, "V1Secret") == secret
    ref = owner_reference({"metadata": {"name": "ai4scale-grade-abc", "uid": "1-2-3"}})
    assert round_trip(ref, "V1OwnerReference") == ref


def test_round_trip_catches_a_misspelt_or_missing_field(settings):
    job = spec_of(settings)
    job["spec"]["template"]["spec"]["restartpolicy"] = "Never"
    assert round_trip(job, "V1Job") != job
    job = spec_of(settings)
    del job["spec"]["template"]["spec"]["containers"][0]["name"]
    with pytest.raises(ValueError, match="name"):
        round_trip(job, "V1Job")


def notebook(*sources):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


def test_request_secret_carries_the_worker_document(settings):
    nb = notebook("x = 1", "print(x)")
    doc = request_document(
        [("0", nb)],
        settings={"cell_timeout": 5.0},
        preload="import math",
        files={"a.csv": b"x\n1\n"},
    )
    secret = request_secret("ai4scale-grade-abc", doc)
    assert secret["immutable"] is True
    assert base64.b64decode(secret["data"][REQUEST_KEY]) == doc
    opened, run = read_document(doc)  # the worker's own reader
    assert opened["op"] == "open" and opened["preload"] == "import math"
    assert opened["settings"] == {"cell_timeout": 5.0}
    assert base64.b64decode(opened["files"]["a.csv"]) == b"x\n1\n"
    assert run["op"] == "run" and run["id"] == "0"
    sent = nbformat.reads(json.dumps(run["notebook"]), as_version=4)
    assert [c.source for c in sent.cells] == ["x = 1", "print(x)"]
    assert secret["metadata"]["labels"]["app.kubernetes.io/component"] == "grading"


def result(outcome="completed"):
    return RunResult(
        outcome,
        OUTCOMES[outcome],
        [CellResult(index=0, cell_id="c0", status="ok", outputs=[{"output_type": "stream"}])],
        seconds=0.5,
        forked=True,
        timings={"fork": 0.01},
    )


def test_results_are_read_among_stderr_lines():
    expected = result()
    log = "\n".join(
        [
            "WARNING: a library writes to stderr",
            json.dumps({"event": "ready", "protocol": 1, "seconds": 1.0, "modules": 10}),
            "{not json at all",
            json.dumps(["a list"]),
            json.dumps({"event": "result", "id": "0", "result": expected.to_dict()}),
            json.dumps({"event": "result", "id": "other", "result": result().to_dict()}),
            json.dumps({"event": "error", "id": "1", "message": "bad notebook"}),
            json.dumps({"event": "done", "runs": 2}),
        ]
    )
    results, errors, done = parse_results(log, ["0", "1"])
    assert results["0"] == expected
    assert results["1"] is None
    assert errors == ["run 1: bad notebook"]
    assert done is True
    assert parse_results("", ["0"]) == ({"0": None}, [], False)


def pod_with(state, **status):
    return {
        "metadata": {"name": "p"},
        "status": {"containerStatuses": [{"state": state}], **status},
    }


def failed_job(reason=None):
    conditions = [{"type": "Failed", "status": "True", "reason": reason}] if reason else []
    return {"spec": {"activeDeadlineSeconds": 480}, "status": {"conditions": conditions}}


OOM = {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
PULL = {"waiting": {"reason": "ImagePullBackOff", "message": "no such image"}}
EVICTED = {"reason": "Evicted", "message": "node low on memory"}
BACKOFF = "BackoffLimitExceeded"


@pytest.mark.parametrize(
    ("job", "pod", "kw", "outcome", "words"),
    [
        (failed_job(BACKOFF), pod_with(OOM), {}, "memory_limit", "memory limit"),
        (failed_job("DeadlineExceeded"), pod_with({}), {}, "notebook_timeout", "480 s"),
        (failed_job(), pod_with({}, **EVICTED), {}, "kernel_died", "node low on memory"),
        (failed_job(), pod_with(PULL), {}, "startup_failed", "no such image"),
        (
            failed_job(BACKOFF),
            pod_with({"terminated": {"exitCode": 1}}),
            {"errors": ["open failed: bad preload"]},
            "startup_failed",
            "bad preload",
        ),
        (
            failed_job(BACKOFF),
            pod_with({"terminated": {"exitCode": 2}}),
            {"log": "Traceback\nImportError: x\n"},
            "startup_failed",
            "code 2",
        ),
        (failed_job(BACKOFF), None, {}, "startup_failed", "no pod"),
    ],
)
def test_a_pod_without_result_says_why(job, pod, kw, outcome, words):
    got, reason = job_failure(job, pod, **kw)
    assert got == outcome and got in OUTCOMES
    assert words in reason
    if "log" in kw:
        assert "ImportError: x" in reason


def test_job_states():
    assert not job_finished({"status": {}})
    assert not job_finished({"status": {"conditions": [{"type": "Failed", "status": "False"}]}})
    assert job_finished({"status": {"conditions": [{"type": "Complete", "status": "True"}]}})
    assert job_finished(failed_job("DeadlineExceeded"))
    assert pod_stuck(pod_with({"waiting": {"reason": "ContainerCreating"}})) == ""
    assert "pulled" in pod_stuck(pod_with({"waiting": {"reason": "ErrImagePull"}}))
    assert pod_stuck(None) == ""


def test_unrun_result_lists_every_code_cell():
    nb = notebook("a = 1", "b = 2")
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("text"))
    res = unrun_result(nb, "startup_failed", "no pod")
    assert (res.outcome, res.reason) == ("startup_failed", "no pod")
    assert [(c.index, c.status) for c in res.cells] == [(0, "not_run"), (2, "not_run")]
