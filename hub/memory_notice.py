"""Tell the learner, in the notebook, that the memory limit stopped their kernel.

When a kernel outgrows the server's memory cgroup, the kernel's OOM killer
stops it and JupyterLab only says "the kernel appears to have died". This
IPython extension, loaded in every kernel of the sandbox's environment (see
:func:`install_kernel_config`), compares the ``oom_kill`` count of the
server's memory cgroup with the count the previous kernel saw; if it grew, the
first cell the learner runs prints a clear explanation (to stderr, so it shows
in red) with advice.

It also makes kernels the OOM killer's first choice over the single-user
server (``oom_score_adj``), so a full group loses a kernel, not the whole
server. Whatever happens, it never breaks the kernel: without a cgroup it does
nothing.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

__all__ = [
    "EXTENSION",
    "check_oom",
    "install_kernel_config",
    "kernel_config_text",
    "load_ipython_extension",
    "memory_cgroup",
    "notice_text",
]

#: Name under which IPython loads this extension.
EXTENSION = "ai4scale.hub.memory_notice"

#: The extensions every kernel of the learner environment loads.
KERNEL_EXTENSIONS = (EXTENSION, "ai4scale.hub.plain_errors")

#: File in the Jupyter runtime directory remembering the last count seen.
STATE_FILE = "ai4scale-memory-notice.json"

#: Kernels get this ``oom_score_adj`` so that they, not the server, are killed first.
KERNEL_OOM_SCORE_ADJ = 300

# Limits at or above this mean "no limit" (cgroup v1 reports ~2**63).
_NO_LIMIT = 1 << 60

_CONFIG_MARKER = "# AI4Scale: memory-limit notice in every kernel"


def _mounted_group(mountinfo, point):
    """Return the hierarchy path that the cgroup mount at ``point`` shows as its root, or None.

    In a container (Docker with cgroup v1 and the host's cgroup namespace)
    the memory hierarchy is mounted from the container's own group:
    ``/proc/self/cgroup`` still names ``/docker/<id>``, and the mount shows
    that group as its root.
    """
    try:
        lines = Path(mountinfo).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields, _, tail = line.partition(" - ")
        fields, tail = fields.split(), tail.split()
        if len(fields) >= 5 and tail[:1] == ["cgroup"] and Path(fields[4]) == point:
            return fields[3]
    return None


def memory_cgroup(
    *, proc_cgroup="/proc/self/cgroup", root="/sys/fs/cgroup", mountinfo="/proc/self/mountinfo"
):
    """Return the directory of this process's cgroup v1 memory group.

    The group is ``<root>/memory/<path>``, with ``<path>`` taken relative to
    the group that the mount at ``<root>/memory`` shows (``mountinfo``): the
    hierarchy's root on the host, the container's own group in a Docker
    container, so the answer there is the container's group, with its limit.

    Parameters
    ----------
    proc_cgroup : str or Path
        The ``/proc/<pid>/cgroup`` file to read.
    root : str or Path
        Where the v1 hierarchies are mounted.
    mountinfo : str or Path
        The ``/proc/<pid>/mountinfo`` file to read.

    Returns
    -------
    Path or None
        None when there is no v1 memory controller or the group is missing
        (or lies outside what is mounted).
    """
    for line in Path(proc_cgroup).read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" not in controllers.split(","):
            continue
        point = Path(root) / "memory"
        shown = Path(_mounted_group(mountinfo, point) or "/")
        if not Path(path).is_relative_to(shown):
            return None
        group = point / Path(path).relative_to(shown)
        return group if (group / "memory.oom_control").exists() else None
    return None


def _oom_kills(group):
    for line in (group / "memory.oom_control").read_text().splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill":
            return int(value)
    return 0


def format_bytes(n):
    if n >= 1 << 30:
        return f"{n / (1 << 30):.1f} GiB"
    return f"{n / (1 << 20):.0f} MiB"


def notice_text(limit_bytes=None):
    """Return the message shown after a kernel was stopped by the memory limit.

    Parameters
    ----------
    limit_bytes : int, optional
        The server's memory limit, shown when known.

    Returns
    -------
    str
    """
    limit = f" ({format_bytes(limit_bytes)})" if limit_bytes else ""
    return (
        "⚠ Your previous Python kernel was stopped because your server reached its "
        f"memory limit{limit}.\n"
        "All variables were lost: re-run your notebook from the top "
        "(Run › Run All Cells).\n"
        "Tip: load fewer rows or columns (pd.read_csv(..., nrows=10_000, "
        "usecols=[...])), delete large objects you no longer need (del df), and shut "
        "down the kernels of notebooks you are not using (Kernel › Shut Down Kernel).\n"
    )


def check_oom(
    *,
    proc_cgroup="/proc/self/cgroup",
    root="/sys/fs/cgroup",
    mountinfo="/proc/self/mountinfo",
    runtime_dir=None,
):
    """Record the group's OOM-kill count; say whether it grew since last time.

    The count is remembered per group in :data:`STATE_FILE`. A server's
    group is made afresh at each start, so the group is identified by its
    path and inode (cgroupfs does not reuse inode numbers).

    Parameters
    ----------
    proc_cgroup, root, mountinfo : str or Path
        As in :func:`memory_cgroup`.
    runtime_dir : str or Path, optional
        Where to remember the count; default: Jupyter's runtime directory.

    Returns
    -------
    str or None
        The notice to show (see :func:`notice_text`), or None.
    """
    group = memory_cgroup(proc_cgroup=proc_cgroup, root=root, mountinfo=mountinfo)
    if group is None:
        return None
    kills = _oom_kills(group)
    limit = int((group / "memory.limit_in_bytes").read_text())
    identity = {"cgroup": str(group), "inode": group.stat().st_ino}
    if runtime_dir is None:
        from jupyter_core.paths import jupyter_runtime_dir

        runtime_dir = jupyter_runtime_dir()
    state_file = Path(runtime_dir) / STATE_FILE
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        state = {}
    seen = state.get("oom_kills", 0) if state.get("identity") == identity else 0
    state_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = state_file.with_name(f".{STATE_FILE}.{os.getpid()}")
    tmp.write_text(json.dumps({"identity": identity, "oom_kills": kills}))
    tmp.replace(state_file)
    if kills > seen:
        return notice_text(limit if limit < _NO_LIMIT else None)
    return None


def _prefer_kernel_for_oom():
    """Raise this kernel's OOM score (allowed without privileges)."""
    adj = Path("/proc/self/oom_score_adj")
    if int(adj.read_text()) < KERNEL_OOM_SCORE_ADJ:
        adj.write_text(str(KERNEL_OOM_SCORE_ADJ))


def load_ipython_extension(ip):
    """IPython entry point: arm a one-shot notice if the limit stopped a kernel.

    Parameters
    ----------
    ip : IPython.core.interactiveshell.InteractiveShell
        The kernel's shell.
    """
    try:
        if memory_cgroup() is None:
            return
        _prefer_kernel_for_oom()
        message = check_oom()
    except Exception:  # never break a learner's kernel over a notice
        return
    if not message:
        return

    def show_notice(info=None):
        try:
            ip.events.unregister("pre_run_cell", show_notice)
            print(message, file=sys.stderr, end="", flush=True)
        except Exception:
            pass

    try:
        ip.events.register("pre_run_cell", show_notice)
    except Exception:
        pass


def kernel_config_text(extensions=None):
    """Return the ``ipython_kernel_config.py`` lines that load our kernel extensions.

    Parameters
    ----------
    extensions : sequence of str, optional
        Default :data:`KERNEL_EXTENSIONS`.

    Returns
    -------
    str
        Python configuration text; it appends to the extensions list so that
        other configuration can add its own.
    """
    lines = [
        f"{_CONFIG_MARKER}\n",
        "# (written by ai4scale.hub.memory_notice.install_kernel_config).\n",
    ]
    for name in extensions or KERNEL_EXTENSIONS:
        lines.append(f'c.InteractiveShellApp.extensions.append("{name}")\n')
    return "".join(lines)


def install_kernel_config(venv_path):
    """Make every kernel of the environment ``venv_path`` load our kernel extensions.

    Writes ``<venv>/etc/ipython/ipython_kernel_config.py`` (read by IPython
    kernels started from that environment): this memory-limit notice and the
    plain-language errors (:mod:`.plain_errors`). Idempotent: a file that
    already loads them is left alone; another existing file keeps its content
    and gets the missing lines appended.

    Parameters
    ----------
    venv_path : str or Path
        The Python environment that runs learners' kernels.

    Returns
    -------
    Path
        The configuration file.
    """
    file = Path(venv_path) / "etc" / "ipython" / "ipython_kernel_config.py"
    text = kernel_config_text()
    if file.exists():
        current = file.read_text()
        missing = [name for name in KERNEL_EXTENSIONS if f'"{name}"' not in current]
        if not missing:
            return file
        text = current + ("" if current.endswith("\n") or not current else "\n") + "\n"
        text += kernel_config_text(missing)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text)
    file.chmod(0o644)
    return file
