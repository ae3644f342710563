"""Start one kernel confined: grading account, cgroup, network/mount/pid/IPC namespaces.

The command is, from the outside in::

    unshare --net --mount --pid --ipc --fork --mount-proc   # as root, in the run's cgroup
      sh -c SETUP                                     # private tmpfs mounts (see below)
        setpriv --reuid U --regid G --init-groups --no-new-privs   # drop to the grader
          python -m ipykernel_launcher -f CONNECTION_FILE

SETUP mounts, inside the new mount namespace only, a size-capped tmpfs on
the run's working directory (owned by the grader, mode 0700; the lab files
are copied in from a root-only staging directory) and fresh size-capped
tmpfs on ``/tmp``, ``/var/tmp``, ``/dev/shm`` and ``/run`` (hiding the host's
Unix sockets there, e.g. PostgreSQL's). tmpfs pages are charged to the run's
memory cgroup, and the mounts disappear with the namespace: a disk filler
gets ENOSPC and costs the host nothing. ``RLIMIT_FSIZE`` also caps any one
file the kernel writes elsewhere (the grader owns no other writable place).

The new network namespace has no interface but a down loopback: no route
to the host's ``127.0.0.1`` services nor outside. The client reaches the
kernel through Unix sockets (``transport="ipc"``) in a grader-owned
directory, which do cross network namespaces. The new IPC namespace keeps
System V shared memory, semaphores and message queues of one run from the next.

:func:`zygote_command` starts a grading zygote (see ``_zygote``) the same way
but without the working directory and without dropping root: the zygote
drops privileges in each kernel it forks.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess

__all__ = ["kernel_command", "popen_kernel", "zygote_command"]

_SETUP = r"""
set -eu
work=$1 stage=$2 uid=$3 gid=$4 work_size=$5 tmp_size=$6
shift 6
opts=nosuid,nodev
mount -t tmpfs -o "size=$work_size,mode=0700,uid=$uid,gid=$gid,$opts" ai4scale-grading "$work"
cp -R "$stage"/. "$work"/
chown -R "$uid:$gid" "$work"
for dir in /tmp /var/tmp /dev/shm; do
    [ -d "$dir" ] && mount -t tmpfs -o "size=$tmp_size,mode=1777,$opts" ai4scale-grading "$dir"
done
mount -t tmpfs -o "size=1m,mode=0755,nosuid,nodev,noexec" ai4scale-grading /run
cd "$work"
exec "$@"
"""


def kernel_command(argv, *, pw, workdir, stagedir, disk_bytes, tmp_bytes):
    """Return the full command that starts kernel ``argv`` confined.

    Parameters
    ----------
    argv : list of str
        The kernel's own command (connection file already substituted).
    pw : pwd.struct_passwd
        The grading account.
    workdir, stagedir : Path
        Mount point of the working directory; root-only copy of its files.
    disk_bytes, tmp_bytes : int
        Sizes of the working directory's and of ``/tmp``'s tmpfs.

    Returns
    -------
    list of str
    """
    unshare = shutil.which("unshare") or "/usr/bin/unshare"
    setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
    return [
        unshare,
        "--net",
        "--mount",
        "--pid",
        "--ipc",
        "--fork",
        "--mount-proc",
        "--propagation",
        "private",
        "/bin/sh",
        "-c",
        _SETUP,
        "ai4scale-grading-setup",
        str(workdir),
        str(stagedir),
        str(pw.pw_uid),
        str(pw.pw_gid),
        str(disk_bytes),
        str(tmp_bytes),
        setpriv,
        f"--reuid={pw.pw_uid}",
        f"--regid={pw.pw_gid}",
        "--init-groups",
        "--no-new-privs",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--",
        *argv,
    ]


_ZYGOTE_SETUP = r"""
set -eu
home=$1 tmp_size=$2
shift 2
opts=nosuid,nodev
for dir in /tmp /var/tmp /dev/shm; do
    [ -d "$dir" ] && mount -t tmpfs -o "size=$tmp_size,mode=1777,$opts" ai4scale-grading "$dir"
done
mount -t tmpfs -o "size=1m,mode=0755,nosuid,nodev,noexec" ai4scale-grading /run
cd "$home"
exec "$@"
"""


def zygote_command(argv, *, home, tmp_bytes):
    """Return the command that starts zygote ``argv`` as root in its own namespaces.

    Parameters
    ----------
    argv : list of str
        The zygote's own command.
    home : Path
        Its working directory (root-only, empty).
    tmp_bytes : int
        Size of its private ``/tmp``, ``/var/tmp`` and ``/dev/shm``.

    Returns
    -------
    list of str
    """
    unshare = shutil.which("unshare") or "/usr/bin/unshare"
    return [
        unshare,
        "--net",
        "--mount",
        "--pid",
        "--ipc",
        "--fork",
        "--mount-proc",
        "--propagation",
        "private",
        "/bin/sh",
        "-c",
        _ZYGOTE_SETUP,
        "ai4scale-zygote-setup",
        str(home),
        str(tmp_bytes),
        *argv,
    ]


def popen_kernel(
    cmd,
    *,
    cgroup,
    env,
    log_file,
    fsize_bytes,
    max_files=1024,
    stdin=subprocess.DEVNULL,
    stdout=None,
):
    """Start ``cmd`` in ``cgroup`` (joined before exec) with resource limits.

    Parameters
    ----------
    cmd : list of str
        From :func:`kernel_command`.
    cgroup : ai4scale.hub.cgroups.CGroup
        The run's group (created and limited).
    env : dict
        The kernel's whole environment.
    log_file : file
        Receives the kernel's stdout and stderr.
    fsize_bytes : int
        ``RLIMIT_FSIZE``: the largest file any process of the run may write.
    max_files : int
        ``RLIMIT_NOFILE``.
    stdin, stdout : optional
        As for ``subprocess.Popen``; stdout defaults to ``log_file``.

    Returns
    -------
    subprocess.Popen
    """

    def confine():
        cgroup.add_pid(os.getpid())
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize_bytes, fsize_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NOFILE, (max_files, max_files))

    return subprocess.Popen(
        cmd,
        stdin=stdin,
        stdout=log_file if stdout is None else stdout,
        stderr=log_file,
        env=env,
        preexec_fn=confine,
        start_new_session=True,
        close_fds=True,
    )
