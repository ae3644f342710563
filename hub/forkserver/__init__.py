"""Fork servers: learners' servers and kernels forked warm from root zygotes.

A zygote imports once what every learner's server (jupyter_server,
JupyterLab, the extensions) or kernel (ipykernel, pandas, scikit-learn,
fairlearn, shap, matplotlib) needs, then forks one child per request; the
child becomes the learner's process (account, groups, cgroup, no
capabilities) before it runs anything of theirs. Pages of the imported
libraries are shared between all learners. See :mod:`._zygote` for the
safety properties, :mod:`._requests` for what a request may get,
:mod:`._confine` for how a child becomes the learner's process,
:mod:`._preload` for what is imported and corrected, :mod:`._client` for
the spawner's side and :mod:`.provisioner` for the kernels' side.
"""

from ._client import ForkError, ForkServers, fork_child, forkservers_for, zygote_pid

__all__ = ["ForkError", "ForkServers", "fork_child", "forkservers_for", "zygote_pid"]
