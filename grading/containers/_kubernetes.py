"""Grading on Kubernetes: a Job per request, from the same settings as the ``docker`` executor.

Pure functions from settings to manifests (plain dicts, the JSON the API
server receives); the executor that sends them (:mod:`._kubernetes_executor`)
stays thin, and the request and results are read in :mod:`._kubernetes_results`.

- a **Secret** holds the request (notebooks and lab files, in the worker's
  protocol), mounted read-only: nothing is shared with the hub and nothing
  comes back through a volume;
- a **Job** of one pod, never restarted (``backoffLimit: 0``), killed at its
  deadline, removed ``ttlSecondsAfterFinished`` after it ends, runs the
  single-user image's worker in file mode, with the docker executor's
  container: root in it with only ``SETUID``, ``SETGID``, ``SETPCAP``, no
  privilege escalation, read-only root, the runtime's seccomp profile,
  memory-backed size-capped work dirs; its memory and CPU limits equal its
  requests (Guaranteed QoS: not the first evicted, timeouts not eaten by a
  throttled neighbour); no service-account token, no service links;
- a **NetworkPolicy** (:func:`network_policy`, applied once per namespace)
  denies all ingress and egress to pods labelled
  ``app.kubernetes.io/component: grading``: they need no network at all.

The results come back as JSON lines on the container's stdout, read from the
pod's log. Processes have no per-pod cap in Kubernetes: it is the kubelet's
``podPidsLimit`` (set it on the node pool); the Job carries the docker
executor's value as the annotation :data:`PIDS_ANNOTATION`.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re

__all__ = [
    "COMPONENT_LABELS",
    "CONTAINER",
    "HUB_ROLE_RULES",
    "PIDS_ANNOTATION",
    "dns_label",
    "job_name",
    "job_spec",
    "network_policy",
    "owner_reference",
    "request_secret",
]

#: Labels every grading object carries; the NetworkPolicy selects pods by them.
COMPONENT_LABELS = {
    "app.kubernetes.io/part-of": "ai4scale",
    "app.kubernetes.io/component": "grading",
}

#: Label naming the hub (its course service) that made the object.
HUB_LABEL = "ai4scale.eu/hub"

#: Default value of :data:`HUB_LABEL`.
DEFAULT_HUB = "ai4scale"

#: Label naming the lab graded (a DNS label form of the lab id).
LAB_LABEL = "ai4scale.eu/lab"

#: Annotation carrying the docker executor's pids cap (the kubelet's ``podPidsLimit`` enforces one).
PIDS_ANNOTATION = "ai4scale.eu/pids-limit"

#: Name of the grading container in the pod.
CONTAINER = "grader"

#: Where the request Secret is mounted (read-only) in the pod.
REQUEST_DIR = "/var/run/ai4scale/request"

#: Key of the request in the Secret (the file name under :data:`REQUEST_DIR`).
REQUEST_KEY = "request.json"

#: Seconds a Job may take beyond its notebooks: scheduling, image pull (the
#: chart's puller has the image on every node already), the worker's start.
STARTUP_MARGIN = 180

#: Seconds a finished Job (and its pod and log) is kept if the hub did not delete it.
TTL_AFTER_FINISHED = 600

#: What the hub's service account must be allowed in its namespace to grade
#: (``hub/kubernetes-grading.yaml``): exactly the executor's API calls.
HUB_ROLE_RULES = [
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "get", "delete"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "patch", "delete"]},
]

_NOT_DNS = re.compile(r"[^a-z0-9-]+")


def dns_label(*parts, max_length=63):
    """Return a DNS-1123 label made of ``parts`` (lab ids, account names, ...).

    Lower case, runs of other characters as ``-``, no ``-`` at either end, at
    most ``max_length`` characters: when the words had to be changed or cut, a
    short hash of the original is appended, so two different inputs never
    give the same name.

    Parameters
    ----------
    *parts : str
        Words to join with ``-``.
    max_length : int
        At most 63 (a Kubernetes label value or name of a Job).

    Returns
    -------
    str
        ``[a-z0-9]([-a-z0-9]*[a-z0-9])?``, never empty.

    Examples
    --------
    >>> dns_label("ai4scale-grade", "03_Fairness Audit")
    'ai4scale-grade-03-fairness-audit-...'  # doctest: +SKIP
    """
    original = "-".join(str(p) for p in parts)
    clean = _NOT_DNS.sub("-", original.lower()).strip("-")
    if clean == original and 0 < len(clean) <= max_length:
        return clean
    digest = hashlib.sha256(original.encode()).hexdigest()[:8]
    head = clean[: max_length - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}" if head else digest


def job_name(unique, *, lab=None):
    """Return the name of a grading Job (and of its Secret): ``ai4scale-grade[-<lab>]-<unique>``.

    ``unique`` tells apart the runs (a random token per request); the result
    is a DNS-1123 label of at most 63 characters (see :func:`dns_label`).
    """
    if lab:
        return dns_label("ai4scale-grade", dns_label(lab, max_length=30), unique)
    return dns_label("ai4scale-grade", unique)


def _cpu(cores):
    """Return CPU cores as a Kubernetes quantity in millicores (``1.5`` -> ``"1500m"``)."""
    milli = round(float(cores) * 1000)
    if milli <= 0:
        raise ValueError(f"the grading cpu must be above 0, not {cores!r}")
    return f"{milli}m"


def _labels(hub, lab):
    labels = {**COMPONENT_LABELS, HUB_LABEL: dns_label(hub)}
    if lab:
        labels[LAB_LABEL] = dns_label(lab)
    return labels


def request_secret(name, request, *, hub=DEFAULT_HUB, lab=None):
    """Return the Secret manifest holding one grading request.

    Parameters
    ----------
    name : str
        The Secret's name (the Job's, see :func:`job_name`).
    request : bytes
        The request file, in the in-container worker's protocol.
    hub : str
        The hub's name, as a label (:data:`HUB_LABEL`).
    lab : str, optional
        The lab graded, as a label.

    Returns
    -------
    dict
        A ``v1`` ``Secret`` (``immutable``; at most 1 MiB, the API server's limit).
    """
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "labels": _labels(hub, lab)},
        "type": "Opaque",
        "immutable": True,
        "data": {REQUEST_KEY: base64.b64encode(request).decode("ascii")},
    }


def owner_reference(job):
    """Return the ``ownerReferences`` entry making ``job`` (a created Job, with its uid) the owner.

    Set on the request Secret, so Kubernetes' garbage collector removes it
    with the Job even when the hub did not (crash, restart).
    """
    meta = job["metadata"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": meta["name"],
        "uid": meta["uid"],
        "blockOwnerDeletion": False,
    }


def active_deadline(settings, *, submissions=1, margin=STARTUP_MARGIN):
    """Return the seconds a Job may run, from the worker's ``settings``.

    The lab's imports (``preload_timeout``), then each notebook in a row:
    its kernel's start (``startup_timeout``) and its cells
    (``notebook_timeout``); plus ``margin`` for the pod's own start.
    """
    per_run = float(settings["notebook_timeout"]) + float(settings["startup_timeout"])
    runs = max(int(submissions), 1)
    return int(math.ceil(float(settings["preload_timeout"]) + per_run * runs + margin))


def pod_limits(settings):
    """Return the grading container's caps from the worker's settings, as the docker executor's.

    Memory: the kernel's ``memory`` plus the ``zygote_memory`` (the lab's
    libraries, shared by the kernels it forks); CPU: ``cpu``; processes:
    ``max_pids`` plus the worker's and zygote's own.

    Returns
    -------
    dict
        ``memory`` (bytes), ``cpu`` (cores), ``pids``, ``disk`` and ``tmp_disk`` (bytes).
    """
    from ai4scale.grading.sandbox import parse_size

    from ._docker import OVERHEAD_PIDS

    return {
        "memory": parse_size(settings["memory"]) + parse_size(settings["zygote_memory"]),
        "cpu": float(settings["cpu"]),
        "pids": int(settings["max_pids"]) + OVERHEAD_PIDS,
        "disk": parse_size(settings["disk"]),
        "tmp_disk": parse_size(settings["tmp_disk"]),
    }


def worker_args(request_file):
    """Return the container's arguments: make the grading dirs private, then the worker's file mode.

    ``emptyDir`` volumes are created world-writable (0777); the docker
    executor's tmpfs mounts have the modes the worker expects, so the
    container's root (their owner: no capability needed) sets the same
    ones before the worker starts. The image's entrypoint (tini, which
    reaps what kernels leave behind) runs it all.
    """
    from ._confine import RUNS, WORK

    modes = {RUNS: "0711", WORK: "1733", "/tmp": "1777", "/var/tmp": "1777", "/dev/shm": "1777"}
    script = " && ".join(f"chmod {mode} {path}" for path, mode in modes.items())
    return [
        "/bin/sh",
        "-c",
        f'{script} && exec "$@"',
        "ai4scale-grading",
        "python",
        "-P",
        "-m",
        "ai4scale.grading.containers",
        "run",
        "--request",
        request_file,
    ]


def job_spec(
    settings,
    *,
    name,
    request_secret,
    submissions=1,
    lab=None,
    hub=DEFAULT_HUB,
    margin=STARTUP_MARGIN,
    datasets_claim="",
    datasets_dir="",
):
    """Return the ``batch/v1`` Job manifest that grades one request.

    Parameters
    ----------
    settings : dict
        The executor's settings, as the docker executor's ``settings()``
        gives them: ``image`` (``[kubernetes] image`` on that profile) and the
        worker's sandbox settings (``memory``, ``zygote_memory``, ``cpu``,
        ``max_pids``, ``disk``, ``tmp_disk`` and the timeouts).
    name : str
        The Job's name, a DNS-1123 label (see :func:`job_name`).
    request_secret : str
        Name of the Secret holding the request (see :func:`request_secret`),
        mounted read-only at :data:`REQUEST_DIR`.
    submissions : int
        Notebooks in the request (for the deadline).
    lab : str, optional
        The lab graded (a label, for ``kubectl get jobs -l``).
    hub : str
        The hub's name (a label, :data:`HUB_LABEL`).
    margin : int
        Seconds added for the pod's start (see :func:`active_deadline`).
    datasets_claim, datasets_dir : str, optional
        The PersistentVolumeClaim of the prepared datasets (``[kubernetes]
        datasets_claim``), mounted read-only at ``datasets_dir``
        (``paths.datasets_dir``) and named in ``$AI4SCALE_DATASETS``, as in
        learners' pods and the docker executor's containers. Empty: none.

    Returns
    -------
    dict
    """
    from ._confine import RUNS, WORK
    from ._docker import CAPABILITIES

    caps = pod_limits(settings)
    labels = _labels(hub, lab)
    resources = {"memory": str(caps["memory"]), "cpu": _cpu(caps["cpu"])}
    tmpfs = {  # mount point -> (volume, size): the docker executor's tmpfs mounts
        RUNS: ("runs", caps["disk"]),
        WORK: ("work", caps["disk"]),
        "/tmp": ("tmp", caps["tmp_disk"]),
        "/var/tmp": ("var-tmp", caps["tmp_disk"]),
        "/dev/shm": ("shm", caps["tmp_disk"]),
    }
    container = {
        "name": CONTAINER,
        "image": settings["image"],
        "imagePullPolicy": "IfNotPresent",
        "args": worker_args(f"{REQUEST_DIR}/{REQUEST_KEY}"),
        "workingDir": "/",
        "resources": {"limits": dict(resources), "requests": dict(resources)},
        "securityContext": {
            # Root in the container, as the docker executor: the zygote drops each
            # kernel to the grading account, with these capabilities and no other.
            "runAsUser": 0,
            "runAsGroup": 0,
            "runAsNonRoot": False,
            "privileged": False,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"], "add": list(CAPABILITIES)},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": "request", "mountPath": REQUEST_DIR, "readOnly": True},
            *({"name": vol, "mountPath": path} for path, (vol, _) in tmpfs.items()),
        ],
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    datasets = []
    if datasets_claim and datasets_dir:
        container["volumeMounts"].append(
            {"name": "datasets", "mountPath": datasets_dir, "readOnly": True}
        )
        container["env"] = [{"name": "AI4SCALE_DATASETS", "value": datasets_dir}]
        datasets = [
            {
                "name": "datasets",
                "persistentVolumeClaim": {"claimName": datasets_claim, "readOnly": True},
            }
        ]
    volumes = [
        {
            "name": "request",
            "secret": {
                "secretName": request_secret,
                "defaultMode": 0o400,
                "items": [{"key": REQUEST_KEY, "path": REQUEST_KEY}],
            },
        },
        *(
            {"name": vol, "emptyDir": {"medium": "Memory", "sizeLimit": str(size)}}
            for vol, size in tmpfs.values()
        ),
        *datasets,
    ]
    pod = {
        "metadata": {"labels": dict(labels)},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": 5,
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [container],
            "volumes": volumes,
        },
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {PIDS_ANNOTATION: str(caps["pids"])},
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": active_deadline(
                settings, submissions=submissions, margin=margin
            ),
            "ttlSecondsAfterFinished": TTL_AFTER_FINISHED,
            "template": pod,
        },
    }


def network_policy(settings=None):
    """Return the NetworkPolicy that cuts grading pods off the network, both ways.

    It selects the pods labelled :data:`COMPONENT_LABELS` (those of every
    hub in the namespace) and allows nothing: no ingress, no egress (not even
    DNS). Apply it once in the hub's namespace (see ``hub/values.yaml``).

    Parameters
    ----------
    settings : dict, optional
        Loaded settings (unused: the policy is the same for every setting;
        taken so every manifest builder reads alike).

    Returns
    -------
    dict
        A ``networking.k8s.io/v1`` ``NetworkPolicy``.
    """
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "ai4scale-grading", "labels": dict(COMPONENT_LABELS)},
        "spec": {
            "podSelector": {"matchLabels": dict(COMPONENT_LABELS)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [],
        },
    }
