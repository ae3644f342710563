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

import ai4scale.grading.containers._kubernetes_executor as executor_module
import ai4scale.hub
import nbformat
import pytest
import yaml
from ai4scale.grading.containers._docker import CAPABILITIES as DOCKER_CAPABILITIES
from ai4scale.grading.containers._docker import container_args
from ai4scale.grading.containers._kubernetes import (
    COMPONENT_LABELS,
    CONTAINER,
    HUB_ROLE_RULES,
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
from ai4scale.grading.containers._kubernetes_executor import KubernetesJobExecutor
from ai4scale.grading.containers._kubernetes_results import (
    job_failure,
    job_finished,
    parse_results,
    pod_stuck,
    request_document,
    unrun_result,
)
from ai4scale.grading.containers._protocol import read_document
from ai4scale.grading.sandbox import OUTCOMES, CellResult, RunResult, Sandbox
from ai4scale.hub import load_settings
from ai4scale.hub._settings import SettingsError
from ai4scale.hub.course._config import CourseConfig
from ai4scale.hub.course._errors import Conflict
from ai4scale.hub.course._grading import grading_notice, make_executor
from kubernetes_asyncio.client import ApiClient

HUB_DIR = Path(ai4scale.hub.__file__).parent
GiB = 1 << 30
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

SETTINGS = """
profile = "kubernetes"
[kubernetes]
image = "registry.example.eu/ai4scale/singleuser:0.1.0"
"""

#: The timeouts the course service's "check my work" asks for (hub/course/_check.py).
CHECK_TIMEOUTS = {"cell_timeout": 30.0, "notebook_timeout": 120.0}


@pytest.fixture
def course_config(tmp_path):
    path = tmp_path / "ai4scale.toml"
    path.write_text(SETTINGS)
    return CourseConfig.from_settings(load_settings(path))


@pytest.fixture
def settings(course_config):
    """The executor's settings on the kubernetes profile (what job_spec is given)."""
    return make_executor(course_config, **CHECK_TIMEOUTS).settings()


def spec_of(settings, **kw):
    kw.setdefault("name", "ai4scale-grade-abc")
    kw.setdefault("request_secret", "ai4scale-grade-abc")
    return job_spec(settings, **kw)


def round_trip(manifest, kind):
    """Return ``manifest`` through the client's typed model ``kind`` and back."""

    async def through():
        async with ApiClient() as api:
            model = api._ApiClient__deserialize(manifest, kind)
            return api.sanitize_for_serialization(model)

    return asyncio.run(through())


def sandbox_part(settings):
    return {k: v for k, v in settings.items() if k != "image"}


def flag_values(args, flag):
    return [args[i + 1] for i, a in enumerate(args) if a == flag]


def docker_args(settings):
    """The docker executor's ``docker run`` arguments for the same settings."""
    return container_args(Sandbox(**sandbox_part(settings)), image="i", name="n")


def test_kubernetes_profile_grades_in_jobs(tmp_path, course_config):
    executor = make_executor(course_config, **CHECK_TIMEOUTS)
    assert isinstance(executor, KubernetesJobExecutor) and executor.name == "kubernetes"
    assert executor.image == "registry.example.eu/ai4scale/singleuser:0.1.0"
    assert executor.sandbox.notebook_timeout == 120.0
    assert grading_notice(course_config) == ""  # not "refused": nothing of the pod is needed
    # Asked for by name on another profile; "auto" elsewhere is never a Job.
    config = CourseConfig(sandbox="kubernetes", profile="local", grading_image="img:1")
    assert make_executor(config).image == "img:1"
    local = CourseConfig(sandbox="auto", profile="local")
    assert not isinstance(_executor_or_refusal(local), KubernetesJobExecutor)
    # The settings file accepts the name; a misspelt one is refused.
    path = tmp_path / "other.toml"
    path.write_text('[course]\nsandbox = "kubernetes"\n')
    assert CourseConfig.from_settings(load_settings(path)).sandbox == "kubernetes"
    path.write_text('[course]\nsandbox = "kubernetess"\n')
    with pytest.raises(SettingsError, match="kubernetess"):
        load_settings(path)


def _executor_or_refusal(config):
    try:
        return make_executor(config)
    except Conflict as e:  # the sandbox cannot run here: refused, never a Job
        return e


def test_job_runs_the_worker_once_from_the_request_secret(settings):
    job = spec_of(settings)
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    spec = job["spec"]
    assert spec["backoffLimit"] == 0  # a failed grading pod is never run again
    # The lab's imports, the kernel's start and its cells, plus the pod's start.
    assert spec["activeDeadlineSeconds"] == 120 + 30 + 120 + STARTUP_MARGIN
    assert spec["ttlSecondsAfterFinished"] > 0
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    [container] = pod["containers"]
    assert container["name"] == CONTAINER
    assert container["image"] == "registry.example.eu/ai4scale/singleuser:0.1.0"
    # The image's entrypoint (tini) stays; the worker reads the mounted request.
    assert "command" not in container
    request = f"{REQUEST_DIR}/{REQUEST_KEY}"
    assert container["args"][0] == "/bin/sh"
    worker = ["python", "-P", "-m", "ai4scale.grading.containers", "run", "--request", request]
    assert container["args"][-len(worker) :] == worker
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["request"] == {"name": "request", "mountPath": REQUEST_DIR, "readOnly": True}
    assert [m for m in container["volumeMounts"] if m.get("readOnly")] == [mounts["request"]]
    volumes = {v["name"]: v for v in pod["volumes"]}
    secret = volumes["request"]["secret"]
    assert secret["secretName"] == "ai4scale-grade-abc"
    assert secret["items"] == [{"key": REQUEST_KEY, "path": REQUEST_KEY}]
    assert secret["defaultMode"] == 0o400


def test_job_pod_is_locked_down_as_the_docker_executors_container(settings):
    pod = spec_of(settings)["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    assert not {"hostNetwork", "hostPID", "hostIPC", "serviceAccountName"} & set(pod)
    sec = pod["containers"][0]["securityContext"]
    assert sec["seccompProfile"] == {"type": "RuntimeDefault"}
    assert sec["allowPrivilegeEscalation"] is False
    assert sec["readOnlyRootFilesystem"] is True
    assert sec["privileged"] is False
    # Root in the container with exactly the docker executor's capabilities.
    assert (sec["runAsUser"], sec["runAsGroup"], sec["runAsNonRoot"]) == (0, 0, False)
    assert sec["capabilities"] == {"drop": ["ALL"], "add": list(DOCKER_CAPABILITIES)}
    docker = docker_args(settings)
    assert sorted(flag_values(docker, "--cap-add")) == sorted(sec["capabilities"]["add"])
    assert flag_values(docker, "--cap-drop") == ["ALL"]
    assert flag_values(docker, "--user") == ["0:0"]
    assert "--read-only" in docker and flag_values(docker, "--network") == ["none"]


def test_caps_and_work_dirs_equal_the_docker_executors_container(settings):
    job = spec_of(settings)
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    docker = docker_args(settings)
    res = container["resources"]
    assert res["limits"] == res["requests"]  # Guaranteed QoS: never evicted first
    assert res["limits"]["memory"] == flag_values(docker, "--memory")[0] == str(3 * GiB)
    assert res["limits"]["cpu"] == "1000m" and flag_values(docker, "--cpus") == ["1.0"]
    pids = flag_values(docker, "--pids-limit")
    assert [job["metadata"]["annotations"][PIDS_ANNOTATION]] == pids
    # Every tmpfs of the docker container is a memory-backed emptyDir of the same size.
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
    tmpfs = dict(t.split(":", 1) for t in flag_values(docker, "--tmpfs"))
    assert set(tmpfs) | {"/dev/shm"} == set(mounts) - {REQUEST_DIR}
    for path, options in tmpfs.items():
        size = re.search(r"size=(\d+)", options)[1]
        assert mounts[path]["emptyDir"] == {"medium": "Memory", "sizeLimit": size}, path
    assert mounts["/dev/shm"]["emptyDir"]["sizeLimit"] == flag_values(docker, "--shm-size")[0]
    # emptyDirs are world-writable: the container's root sets the tmpfs modes first.
    script = container["args"][2]
    for path, options in tmpfs.items():
        mode = re.search(r"mode=(\d+)", options)[1]
        assert f"chmod {mode} {path} && " in script
    assert script.endswith('exec "$@"')


@pytest.mark.parametrize(
    ("change", "where", "expected"),
    [
        ({"image": "other.example.eu/lab:2"}, "image", "other.example.eu/lab:2"),
        ({"memory": "512M"}, "memory", str((512 << 20) + 2 * GiB)),
        ({"zygote_memory": "1G"}, "memory", str(2 * GiB)),
        ({"cpu": 0.25}, "cpu", "250m"),
        ({"max_pids": 64}, "pids", "128"),
        ({"notebook_timeout": 10.0}, "deadline", 120 + 30 + 10 + STARTUP_MARGIN),
        ({"tmp_disk": "1M"}, "tmp", str(1 << 20)),
    ],
)
def test_spec_follows_settings_changes(settings, change, where, expected):
    kw = {**sandbox_part(settings), **change}
    image = kw.pop("image", settings["image"])
    job = spec_of(KubernetesJobExecutor(image=image, namespace="ns", **kw).settings())
    container = job["spec"]["template"]["spec"]["containers"][0]
    volumes = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
    got = {
        "image": container["image"],
        "memory": container["resources"]["limits"]["memory"],
        "cpu": container["resources"]["limits"]["cpu"],
        "pids": job["metadata"]["annotations"][PIDS_ANNOTATION],
        "deadline": job["spec"]["activeDeadlineSeconds"],
        "tmp": volumes["tmp"]["emptyDir"]["sizeLimit"],
    }
    assert got[where] == expected
    if where in ("memory", "cpu"):
        assert container["resources"]["requests"][where] == expected


def test_image_follows_the_kubernetes_settings(tmp_path):
    path = tmp_path / "ai4scale.toml"
    path.write_text(SETTINGS.replace("singleuser:0.1.0", "singleuser:0.2.0"))
    config = CourseConfig.from_settings(load_settings(path))
    job = spec_of(make_executor(config).settings())
    image = job["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "registry.example.eu/ai4scale/singleuser:0.2.0"


@pytest.mark.parametrize(("submissions", "margin"), [(1, 0), (4, 60), (0, 5)])
def test_deadline_is_the_notebooks_in_a_row_plus_the_margin(settings, submissions, margin):
    job = spec_of(settings, submissions=submissions, margin=margin)
    per_run = 120 + 30  # notebook_timeout + startup_timeout
    expected = 120 + per_run * max(submissions, 1) + margin  # preload_timeout first
    assert job["spec"]["activeDeadlineSeconds"] == expected


def test_bad_cpu_is_refused(settings):
    with pytest.raises(ValueError, match="cpu"):
        spec_of({**settings, "cpu": 0})


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


def test_manifests_have_the_kubernetes_api_shapes(settings):
    job = spec_of(settings, lab="03_Fairness Audit")
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


# -- the chart: the hub may create grading Jobs, grading pods have no network -------


def chart_documents():
    return list(yaml.safe_load_all((HUB_DIR / "kubernetes-grading.yaml").read_text()))


def test_values_grade_in_jobs_with_the_rbac_and_policy_applied_beside_the_chart(tmp_path):
    values = yaml.safe_load((HUB_DIR / "values.yaml").read_text())
    path = tmp_path / "ai4scale.toml"
    path.write_text(values["hub"]["extraFiles"]["ai4scale-settings"]["stringData"])
    config = CourseConfig.from_settings(load_settings(path))
    executor = make_executor(config)
    assert isinstance(executor, KubernetesJobExecutor)
    image = values["singleuser"]["image"]
    assert executor.image == f"{image['name']}:{image['tag']}"  # pulled on every node
    assert (
        "kubectl apply --namespace ai4scale -f hub/kubernetes-grading.yaml"
        in (HUB_DIR / "values.yaml").read_text()
    )

    role, binding, policy = chart_documents()
    assert role["kind"] == "Role" and role["rules"] == HUB_ROLE_RULES
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    # The chart's hub service account (its default name) is the one bound.
    sa = values["hub"].get("serviceAccount", {}).get("name") or "hub"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa}]
    assert policy == network_policy()
    kinds = ("V1Role", "V1RoleBinding", "V1NetworkPolicy")
    for doc, kind in zip((role, binding, policy), kinds, strict=True):
        assert round_trip(doc, kind) == doc


def verbs(resource, group=""):
    return {
        verb
        for rule in HUB_ROLE_RULES
        if group in rule["apiGroups"] and resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_role_allows_what_the_executor_calls():
    # Each API call of KubernetesJobExecutor._run_job, and nothing broader.
    source = Path(executor_module.__file__).read_text()
    calls = {
        "create_namespaced_secret": ("secrets", "", "create"),
        "patch_namespaced_secret": ("secrets", "", "patch"),
        "delete_namespaced_secret": ("secrets", "", "delete"),
        "create_namespaced_job": ("jobs", "batch", "create"),
        "read_namespaced_job": ("jobs", "batch", "get"),
        "delete_namespaced_job": ("jobs", "batch", "delete"),
        "list_namespaced_pod": ("pods", "", "list"),
        "read_namespaced_pod_log": ("pods/log", "", "get"),
    }
    used = set(re.findall(r"\.(\w+_namespaced_\w+)\(|\b(\w+_namespaced_\w+)\b", source))
    used = {a or b for a, b in used}
    assert used == set(calls)
    for resource, group, verb in calls.values():
        assert verb in verbs(resource, group), (resource, verb)
    # Nothing more: every verb granted is one the executor uses.
    granted = {
        (resource, group, verb)
        for rule in HUB_ROLE_RULES
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert granted == set(calls.values())
    assert "get" not in verbs("secrets")  # never reads a Secret, its own or the chart's


def test_course_service_gets_the_api_address_and_namespace(monkeypatch, tmp_path):
    from ai4scale.hub.profiles.kubernetes import KUBERNETES_ENV, update_kubernetes
    from traitlets.config import Config

    env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    env["POD_NAMESPACE"] = "ai4scale"
    for key in KUBERNETES_ENV:
        monkeypatch.setenv(key, env[key])
    c = Config()
    c.JupyterHub.services = [{"name": "course", "environment": {"X": "1"}}]
    path = tmp_path / "ai4scale.toml"
    path.write_text(SETTINGS)
    settings = load_settings(path)
    update_kubernetes(c, settings)
    [course] = c.JupyterHub.services
    assert {k: course["environment"][k] for k in KUBERNETES_ENV} == env
    assert course["environment"]["X"] == "1"


def test_request_too_big_for_a_secret_is_refused_before_any_call(monkeypatch):
    # No cluster is configured: a call would fail with another reason.
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    executor = KubernetesJobExecutor(image="img:1", namespace="ns")
    big = {"table.csv": b"x" * (1 << 20)}
    result = executor.run(notebook("import pandas", "1"), workdir_files=big)
    assert result.outcome == "startup_failed"
    assert "Kubernetes Secret holds at most 1048576" in result.reason
    assert [c.status for c in result.cells] == ["not_run", "not_run"]


def test_datasets_claim_is_mounted_read_only_as_in_the_docker_executors_container(
    settings, course_config
):
    executor = make_executor(course_config, **CHECK_TIMEOUTS)
    # The profile's claim and folder reach the executor from the settings file.
    assert executor.datasets_claim == "ai4scale-datasets"
    assert executor.datasets_dir == "/srv/ai4scale/datasets"
    job = spec_of(settings, datasets_claim="ds-claim", datasets_dir="/srv/data")
    assert round_trip(job, "V1Job") == job
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "datasets")
    assert mount == {"name": "datasets", "mountPath": "/srv/data", "readOnly": True}
    volume = next(v for v in pod["volumes"] if v["name"] == "datasets")
    assert volume["persistentVolumeClaim"] == {"claimName": "ds-claim", "readOnly": True}
    assert {"name": "AI4SCALE_DATASETS", "value": "/srv/data"} in container["env"]
    # The docker executor gives its containers the same folder, read-only, same variable.
    args = container_args(
        Sandbox(**sandbox_part(settings)), image="i", name="n", datasets_dir="/srv/data"
    )
    assert "type=bind,source=/srv/data,target=/srv/data,readonly" in flag_values(args, "--mount")
    assert "AI4SCALE_DATASETS=/srv/data" in flag_values(args, "--env")
    # Without a claim: no datasets volume at all.
    bare = spec_of(settings)["spec"]["template"]["spec"]
    assert not any(v["name"] == "datasets" for v in bare["volumes"])
