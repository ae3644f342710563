"""The ``docker`` profile: DockerSpawner, one container per learner.

For one big machine. The hub runs in a container named :data:`HUB_HOSTNAME`
on the Docker network ``docker.network``; each learner's server is a
container of ``docker.image`` (built from ``hub/Dockerfile``) on the same
network, with

- a named volume per learner (``docker.volume_template``) as ``/home/jovyan``;
- the prepared datasets (``paths.datasets_dir`` on the Docker host) mounted
  read-only at the same path, so ``$AI4SCALE_DATASETS`` is valid inside;
- the memory and CPU limits of ``[limits]``: DockerSpawner reads the common
  ``c.Spawner.mem_limit`` / ``cpu_limit`` the configurer sets, and passes them
  to Docker as ``Memory`` and ``CpuQuota``; swap is capped at the same value;
- at most ``limits.processes`` processes (``PidsLimit``);
- user ``jovyan`` (uid 1000, gid 100), no capabilities, no privilege gain
  (``no-new-privileges``); the image's ``tini`` reaps orphaned kernels;
- the container removed when the server stops (the volume stays).

The proxy, started beside the hub in the hub's container (``ai4scale up``
runs both; a hub restart keeps it and the learners' containers), reaches the servers at
their addresses on the network (``use_internal_ip``); the servers reach the
hub API at ``http://ai4scale-hub:<hub.api_port>``. ``hub.ip`` / ``hub.port``
are where the proxy listens inside the hub container: set ``hub.ip =
"0.0.0.0"`` and publish the port. Kernels reach the course service through
that proxy too (``$AI4SCALE_COURSE_URL`` is
``http://ai4scale-hub:<hub.port>/services/course/``): the service listens on
the hub container's loopback.
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
