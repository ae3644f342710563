"""Grading on Kubernetes: a Job per request, from the same settings as the ``docker`` executor.

Everything here is a pure function from settings to manifests (plain dicts,
the JSON the API server receives) or from a pod's log to results; the
executor that sends them (:mod:`._kubernetes_executor`) stays thin.

A grading run on the ``kubernetes`` profile is:

- a **Secret** holding the request (the notebooks and the lab's files, in the
  in-container worker's protocol), mounted read-only into the pod: nothing of
  the hub's is shared and nothing comes back through a volume;
- a **Job** of one pod, never restarted (``backoffLimit: 0``), killed at
  ``activeDeadlineSeconds`` (the notebook timeout times the submissions plus a
  start-up margin), removed ``ttlSecondsAfterFinished`` after it ends. Its
  container is the single-user image (``[kubernetes] image``) running the
  worker's file mode; it has the ``[limits]`` memory (limit = request) and
  CPU (limit = request: Guaranteed QoS, so a grading pod is not the first
  evicted and its timeouts are not eaten by a throttled neighbour), no
  capabilities but the ones the in-container zygote needs to drop kernels to
  the grading account, no privilege escalation, a read-only root, the
  runtime's default seccomp profile, no service-account token and no service
  links; its work dir and ``/tmp`` are memory-backed ``emptyDir`` volumes
  with a size limit;
- a **NetworkPolicy** (:func:`network_policy`, applied once with the chart's
  extra objects) that denies all ingress and egress to pods labelled
  ``app.kubernetes.io/component: grading``: the pod needs no network at all.

The results come back as JSON lines on the container's standard output,
read from the pod's log (:func:`parse_results`).

``limits.processes`` has no per-pod field in Kubernetes: the process cap is
the kubelet's ``podPidsLimit`` (set it on the node pool to the same value);
the Job carries it as the annotation :data:`PIDS_ANNOTATION` so the value is
visible where the pod is.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re

from jupyterhub.traitlets import ByteSpecification

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

#: Annotation carrying ``[limits] processes``: enforced by the kubelet's ``podPidsLimit``.
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

#: What the hub's service account must be allowed in its namespace to grade:
#: the chart's hub Role already has secrets and pods; Jobs and pod logs are ours.
HUB_ROLE_RULES = [
    {
        "apiGroups": ["batch"],
        "resources": ["jobs"],
        "verbs": ["get", "list", "watch", "create", "delete"],
    },
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "delete", "patch"]},
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


def _quantity(size):
    """Return a size in JupyterHub's units (``"2G"`` = 2 GiB) as a Kubernetes quantity in bytes."""
    return str(ByteSpecification().validate(None, size))


def _cpu(cores):
    """Return CPU cores as a Kubernetes quantity in millicores (``1.5`` -> ``"1500m"``)."""
    milli = round(float(cores) * 1000)
    if milli <= 0:
        raise ValueError(f"[limits] cpu must be above 0, not {cores!r}")
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


def active_deadline(*, notebook_timeout, submissions, margin=STARTUP_MARGIN):
    """Return the seconds a Job may run: its notebooks' timeouts in a row, plus ``margin``."""
    return int(math.ceil(float(notebook_timeout) * max(int(submissions), 1) + margin))


def job_spec(
    settings,
    *,
    name,
    request_secret,
    args,
    submissions=1,
    notebook_timeout=300.0,
    lab=None,
    hub=DEFAULT_HUB,
    run_as=None,
    add_capabilities=(),
    work_dir="/work",
    disk="100M",
    tmp_disk="20M",
    margin=STARTUP_MARGIN,
):
    """Return the ``batch/v1`` Job manifest that grades one request.

    Parameters
    ----------
    settings : dict
        Loaded settings: ``kubernetes.image``, ``limits.memory``,
        ``limits.cpu``, ``limits.processes`` (as :data:`PIDS_ANNOTATION`).
    name : str
        The Job's name, a DNS-1123 label (see :func:`job_name`).
    request_secret : str
        Name of the Secret holding the request (see :func:`request_secret`),
        mounted read-only at :data:`REQUEST_DIR`.
    args : list of str
        The in-container worker's file mode, reading the request from
        ``REQUEST_DIR/REQUEST_KEY``; the image's entrypoint (tini, which
        reaps what kernels leave behind) runs it.
    submissions : int
        Notebooks in the request (for the deadline).
    notebook_timeout : float
        Seconds one notebook may run.
    lab : str, optional
        The lab graded (a label, for ``kubectl get jobs -l``).
    hub : str
        The hub's name (a label, :data:`HUB_LABEL`).
    run_as : tuple of int, optional
        ``(uid, gid)`` of the container's processes. None: root in the
        container, as the docker executor, for a zygote that drops each
        kernel to the grading account (``add_capabilities`` then lists the
        capabilities it needs; all others are dropped).
    add_capabilities : sequence of str
        Capabilities kept (``SETUID``, ``SETGID``...); ``ALL`` is dropped.
    work_dir : str
        The worker's working directory (a memory-backed ``emptyDir`` of ``disk``).
    disk, tmp_disk : str
        Sizes of the work dir and of ``/tmp`` (JupyterHub units: ``100M``);
        they count towards the memory limit, as a tmpfs does.
    margin : int
        Seconds added to the notebooks' time for the pod's start.

    Returns
    -------
    dict
    """
    limits = settings["limits"]
    image = settings["kubernetes"]["image"]
    labels = _labels(hub, lab)
    resources = {"memory": _quantity(limits["memory"]), "cpu": _cpu(limits["cpu"])}

    pod_security = {"seccompProfile": {"type": "RuntimeDefault"}}
    if run_as is None:
        pod_security.update(runAsUser=0, runAsGroup=0, runAsNonRoot=False)
    else:
        uid, gid = run_as
        pod_security.update(runAsUser=int(uid), runAsGroup=int(gid), runAsNonRoot=True)
    container_security = {
        "privileged": False,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    if add_capabilities:
        container_security["capabilities"]["add"] = sorted(add_capabilities)

    container = {
        "name": CONTAINER,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": list(args),
        "workingDir": work_dir,
        "env": [
            {"name": "HOME", "value": work_dir},
            {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
        ],
        "resources": {"limits": dict(resources), "requests": dict(resources)},
        "securityContext": container_security,
        "volumeMounts": [
            {"name": "request", "mountPath": REQUEST_DIR, "readOnly": True},
            {"name": "work", "mountPath": work_dir},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    pod = {
        "metadata": {"labels": dict(labels)},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": 5,
            "securityContext": pod_security,
            "containers": [container],
            "volumes": [
                {
                    "name": "request",
                    "secret": {
                        "secretName": request_secret,
                        "defaultMode": 0o400,
                        "items": [{"key": REQUEST_KEY, "path": REQUEST_KEY}],
                    },
                },
                {"name": "work", "emptyDir": {"medium": "Memory", "sizeLimit": _quantity(disk)}},
                {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": _quantity(tmp_disk)}},
            ],
        },
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {PIDS_ANNOTATION: str(int(limits["processes"]))},
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": active_deadline(
                notebook_timeout=notebook_timeout, submissions=submissions, margin=margin
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
