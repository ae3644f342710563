"""The ``kubernetes`` profile: KubeSpawner under the Zero to JupyterHub chart.

The chart (``hub/values.yaml``) runs the hub, the proxy and the image
puller, and its ``jupyterhub_config.py`` sets the cluster plumbing: where the
hub listens and is reached (``hub_bind_url``, ``hub_connect_url``), the proxy
API in the proxy pod (``ConfigurableHTTPProxy.api_url``, ``should_start =
False``), the cookie secret, the namespace and common labels. Our settings
are applied after it (``hub.extraConfig``) and decide what a learner gets:

- image ``kubernetes.image``, user ``jovyan`` (uid 1000, fsGroup 100), no
  capabilities, no privilege escalation, no service-account token;
- ``limits.memory`` as memory limit *and* request: in a class everyone runs
  the same heavy cell at once, and an overcommitted node would evict pods;
- ``limits.cpu`` as CPU limit, half of it as request: CPU is throttled,
  never killed, so it can be shared;
- a PersistentVolumeClaim per learner (``storage_capacity``,
  ``storage_class``; empty = the cluster's default class) as ``/home/jovyan``;
- the datasets claim ``kubernetes.datasets_claim`` (ReadOnlyMany) mounted
  read-only at ``paths.datasets_dir``.

``limits.processes`` has no per-pod field in Kubernetes: the process cap is
the kubelet's ``podPidsLimit`` (set it on the node pool to the same value).

The course service runs in the hub pod: the proxy pod reaches it through the
chart's ``hub`` Service (``hub.service.extraPorts`` and the hub's network
policy in ``values.yaml`` open ``course.port``), so it listens on all of the
pod's addresses, and it reaches learners' servers through ``proxy-public``
unless ``course.servers_url`` says otherwise; it grades in Jobs (see
:mod:`ai4scale.grading.containers._kubernetes`) with the hub pod's service
account and the API server's address (:data:`KUBERNETES_ENV`). Learners' kernels reach it
through ``proxy-public`` as well (``$AI4SCALE_COURSE_URL``): the chart lets
learners' pods reach the proxy pod, not the service's port on the hub pod.
"""

from __future__ import annotations

import copy
import os

__all__ = [
    "HOME",
    "HUB_SERVICE",
    "KUBERNETES_ENV",
    "PROXY_SERVICE",
    "SPAWNER_KEYS_FROM_COMMON",
    "update_kubernetes",
]

#: Home directory of ``jovyan`` in the single-user image.
HOME = "/home/jovyan"

#: The chart's Services: the hub pod, and the proxy's public entry point.
HUB_SERVICE = "hub"
PROXY_SERVICE = "http://proxy-public"

#: ``c.Spawner`` keys the configurer sets that must also be set on
#: ``c.KubeSpawner``: the chart sets ``c.KubeSpawner.environment`` (and the
#: limits) from its own values, which would win over ``c.Spawner``.
SPAWNER_KEYS_FROM_COMMON = ("mem_limit", "cpu_limit", "environment", "default_url", "http_timeout")

#: The hub pod's environment the course service needs to create grading Jobs
#: (the API server's address, set by Kubernetes; the namespace, by the chart).
KUBERNETES_ENV = ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "POD_NAMESPACE")

#: Keys of the local topology (set by the configurer's network and state
#: steps) that mean nothing under the chart: the hub does not start the
#: proxy, and the chart's ``hub_bind_url`` decides where the hub listens.
_LOCAL_ONLY = {
    "JupyterHub": ("bind_url", "hub_port"),
    "ConfigurableHTTPProxy": ("command", "pid_file"),
}


def update_kubernetes(c, settings):
    """Configure KubeSpawner from the settings, leaving the chart's plumbing alone.

    Runs last among the configurer's steps. Removes the local-only keys
    listed in ``_LOCAL_ONLY`` (idempotent), copies the common spawner
    settings to ``c.KubeSpawner`` and sets the pod specification.

    Parameters
    ----------
    c : traitlets.config.Config
        JupyterHub's configuration, possibly pre-populated by the chart.
    settings : dict
        Loaded settings (``[kubernetes]``, ``[limits]``, ``paths.datasets_dir``).
    """
    kube = settings["kubernetes"]
    limits = settings["limits"]
    datasets = settings["paths"]["datasets_dir"]

    for section, keys in _LOCAL_ONLY.items():
        for key in keys:
            c[section].pop(key, None)

    c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
    for key in SPAWNER_KEYS_FROM_COMMON:
        if key in c.Spawner:
            c.KubeSpawner[key] = copy.deepcopy(c.Spawner[key])

    c.KubeSpawner.image = kube["image"]
    c.KubeSpawner.image_pull_policy = "IfNotPresent"
    c.KubeSpawner.notebook_dir = HOME

    c.KubeSpawner.mem_limit = limits["memory"]
    c.KubeSpawner.mem_guarantee = limits["memory"]
    c.KubeSpawner.cpu_limit = float(limits["cpu"])
    c.KubeSpawner.cpu_guarantee = float(limits["cpu"]) / 2

    c.KubeSpawner.uid = 1000
    c.KubeSpawner.fs_gid = 100
    c.KubeSpawner.privileged = False
    c.KubeSpawner.allow_privilege_escalation = False
    c.KubeSpawner.container_security_context = {
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    c.KubeSpawner.automount_service_account_token = False

    c.KubeSpawner.storage_pvc_ensure = True
    c.KubeSpawner.pvc_name_template = "claim-{user_server}"
    c.KubeSpawner.storage_capacity = kube["storage_capacity"]
    c.KubeSpawner.storage_access_modes = ["ReadWriteOnce"]
    if kube["storage_class"]:
        c.KubeSpawner.storage_class = kube["storage_class"]
    else:
        c.KubeSpawner.pop("storage_class", None)
    c.KubeSpawner.volumes = [
        {"name": "home", "persistentVolumeClaim": {"claimName": "{pvc_name}"}},
        {
            "name": "datasets",
            "persistentVolumeClaim": {"claimName": kube["datasets_claim"], "readOnly": True},
        },
    ]
    c.KubeSpawner.volume_mounts = [
        {"name": "home", "mountPath": HOME},
        {"name": "datasets", "mountPath": datasets, "readOnly": True},
    ]

    _course_service_in_cluster(c, settings)


def _course_service_in_cluster(c, settings):
    # The proxy runs in its own pod: 127.0.0.1 would be the proxy's own loopback.
    services = []
    for service in c.JupyterHub.get("services", []):
        if service.get("name") == "course":
            service = copy.deepcopy(service)
            service["url"] = f"http://{HUB_SERVICE}:{settings['course']['port']}"
            env = service.setdefault("environment", {})
            env["AI4SCALE_COURSE_BIND"] = "0.0.0.0"
            # Grading Jobs: the hub passes a service only what it is given.
            for key in KUBERNETES_ENV:
                if os.environ.get(key):
                    env[key] = os.environ[key]
            if not settings["course"]["servers_url"]:
                env["AI4SCALE_COURSE_SERVERS_URL"] = PROXY_SERVICE
        services.append(service)
    if services:
        c.JupyterHub.services = services
