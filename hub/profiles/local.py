"""The ``local`` profile (default): learners' servers as processes on this machine.

The hub runs as root and starts each learner's server with
:class:`~ai4scale.hub.spawner.SandboxSpawner`:

- as the learner's own system account ``<local.user_prefix><username>``,
  created on first spawn, with a private home (0700) as the notebook directory;
- in a cgroup v1 ``<local.cgroup_parent>/<account>`` capping memory and CPU
  (``limits.memory`` / ``limits.cpu``, set on ``c.Spawner`` by the configurer)
  and processes (``limits.processes``), removed when the server stops;
- from the shared environment ``paths.venv``, with a ``~/datasets`` link to
  ``paths.datasets_dir``;
- forked from warm fork servers (:mod:`ai4scale.hub.forkserver`) when
  ``spawn.fork`` (servers) and ``kernels.fork`` (kernels) are on.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["update_local"]


def update_local(c, settings):
    """Configure the SandboxSpawner from the settings.

    Parameters
    ----------
    c : traitlets.config.Config
        JupyterHub's configuration; ``c.Spawner.mem_limit`` and
        ``c.Spawner.cpu_limit`` are already set by the configurer.
    settings : dict
        Loaded settings (``[local]``, ``[limits]``, ``[paths]``).
    """
    local = settings["local"]
    c.JupyterHub.spawner_class = "ai4scale-local"
    c.SandboxSpawner.user_prefix = local["user_prefix"]
    c.SandboxSpawner.cgroup_parent = local["cgroup_parent"]
    c.SandboxSpawner.process_limit = settings["limits"]["processes"]
    c.SandboxSpawner.create_system_users = True
    c.SandboxSpawner.datasets_dir = settings["paths"]["datasets_dir"]
    c.SandboxSpawner.fork_servers = settings["spawn"]["fork"]
    c.SandboxSpawner.fork_kernels = settings["kernels"]["fork"]
    # The server (and so its kernels) from the shared environment, whatever
    # PATH the learner's shell has.
    c.Spawner.cmd = [str(Path(settings["paths"]["venv"]) / "bin" / "jupyterhub-singleuser")]
