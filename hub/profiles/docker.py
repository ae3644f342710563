"""The ``docker`` profile: one container per learner (the ``ai4scale-docker`` spawner).

For one big machine. ``ai4scale up`` runs the proxy, the hub and the course
service on the machine, as root, as on the local profile, after checking that
a Docker engine answers, that the image ``docker.image`` (``ai4scale image
build``) is current and that the network exists
(:mod:`ai4scale.hub.spawn.docker_checks`). Each learner's server is a
container of ``docker.image`` (:class:`~ai4scale.hub.spawn.docker.DockerSandboxSpawner`,
a DockerSpawner) with

- a named volume per learner (``docker.volume_template``; the username is
  escaped as DockerSpawner does, ``_`` -> ``-5f``) as ``/home/jovyan``, kept
  when the container is removed at stop;
- the prepared datasets (``paths.datasets_dir`` on the Docker host) mounted
  read-only at the same path, so ``$AI4SCALE_DATASETS`` is valid inside;
- the memory and CPU limits of ``[limits]``: DockerSpawner reads the common
  ``c.Spawner.mem_limit`` / ``cpu_limit`` the configurer sets, and passes them
  to Docker as ``Memory`` and ``CpuQuota``; swap is capped at the same value,
  so memory that runs out kills the biggest process (a kernel), not the server;
- at most ``limits.processes`` processes (``PidsLimit``);
- user ``jovyan`` (uid 1000, gid 100), no capabilities, no privilege gain
  (``no-new-privileges``); the image's ``tini`` is PID 1 and reaps orphans;
- its container named ``ai4scale-<escaped username>``.

``docker.network`` decides how the pieces reach each other:

- ``"host"`` (the default; this machine and single-host installs): the
  containers share the machine's network. Each server listens on
  ``127.0.0.1`` at a port chosen free for each start, where the proxy
  reaches it; servers and their kernels reach the hub API and the course
  service on ``127.0.0.1`` as on the local profile. A container reaches
  what a local server reaches: the network boundary is the machine's.
- a user-defined network (production elsewhere): the hub runs in a
  container named :data:`HUB_HOSTNAME` on that network, with the proxy
  beside it. The proxy reaches servers at their addresses on the network
  (``use_internal_ip``); the servers reach the hub API at
  ``http://ai4scale-hub:<hub.api_port>`` and the course service through the
  proxy, ``http://ai4scale-hub:<hub.port>/services/course/`` (it listens on
  the hub container's loopback). Set ``hub.ip = "0.0.0.0"`` and publish the
  port. Not runnable on a machine without bridge networks; its configuration
  is asserted in ``tests/test_profiles.py``.

A container that ends before its server listens is read (exit status,
``OOMKilled``, last log lines) and removed; the hub's page says why.
"""

from __future__ import annotations

from jupyterhub.traitlets import ByteSpecification

__all__ = ["CONTAINER_PREFIX", "HOME", "HUB_HOSTNAME", "SINGLEUSER_USER", "update_docker"]

#: Name (or network alias) of the hub's container on ``docker.network``.
HUB_HOSTNAME = "ai4scale-hub"

#: Learners' containers are named ``<prefix>-<escaped username>``.
CONTAINER_PREFIX = "ai4scale"

#: Home directory of ``jovyan`` in the single-user image.
HOME = "/home/jovyan"

#: uid:gid of ``jovyan`` in the single-user image (docker-stacks convention).
SINGLEUSER_USER = "1000:100"


def update_docker(c, settings):
    """Configure the ``ai4scale-docker`` spawner from the settings.

    Parameters
    ----------
    c : traitlets.config.Config
        JupyterHub's configuration; ``c.Spawner.mem_limit`` and
        ``c.Spawner.cpu_limit`` are already set by the configurer.
    settings : dict
        Loaded settings (``[docker]``, ``[limits]``, ``paths.datasets_dir``).
    """
    docker = settings["docker"]
    datasets = settings["paths"]["datasets_dir"]

    c.JupyterHub.spawner_class = "ai4scale-docker"
    c.DockerSpawner.network_name = docker["network"]
    # No published ports: on the host network servers listen on the
    # machine's loopback (each at a port of its own) and reach the hub API
    # there; on a named network they are reached at their addresses on it.
    c.DockerSpawner.use_internal_ip = True
    if docker["network"] != "host":
        # The hub API listens on every interface of the hub container, and
        # servers on the network reach it by the container's name.
        c.JupyterHub.hub_ip = "0.0.0.0"
        c.JupyterHub.hub_connect_ip = HUB_HOSTNAME

    c.DockerSpawner.image = docker["image"]
    # Images are built here (`ai4scale image build`), never pulled:
    # `ai4scale up` refuses to start when the image is missing.
    c.DockerSpawner.pull_policy = "never"
    # The image's CMD too; set here so no image inspection is needed.
    c.DockerSpawner.cmd = ["jupyterhub-singleuser"]
    c.DockerSpawner.notebook_dir = HOME
    c.DockerSpawner.prefix = CONTAINER_PREFIX
    c.DockerSpawner.remove = True

    c.DockerSpawner.volumes = {docker["volume_template"]: HOME}
    c.DockerSpawner.read_only_volumes = {datasets: datasets}

    c.DockerSpawner.extra_create_kwargs = {"user": SINGLEUSER_USER}
    c.DockerSpawner.extra_host_config = {
        "pids_limit": settings["limits"]["processes"],
        # Memory + swap = the memory limit: no swapping past the limit.
        "memswap_limit": ByteSpecification().validate(None, settings["limits"]["memory"]),
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
    }
