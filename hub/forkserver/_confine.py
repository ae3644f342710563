"""What a forked child does before it becomes a learner's server or kernel.

A fork of a root zygote inherits everything of it: credentials,
capabilities, cgroups, environment, working directory, umask, resource
limits, signal dispositions, open files and random-generator state. Each
function here resets one of them; :func:`confine` runs them in the order that
keeps every step possible (cgroups and rlimits while still root, then the
credentials, then what the learner may change anyway).
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys

__all__ = [
    "ConfineError",
    "close_files",
    "confine",
    "drop_privileges",
    "join_cgroups",
    "set_name",
    "unsafe_to_fork",
]

PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NAME, PR_CAPBSET_DROP = 1, 4, 15, 24
PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 38, 47, 4
_CAP_VERSION_3 = 0x20080522

#: Resource limits a child takes from the request (never above the zygote's).
RLIMITS = {
    "RLIMIT_NOFILE": resource.RLIMIT_NOFILE,
    "RLIMIT_NPROC": resource.RLIMIT_NPROC,
    "RLIMIT_STACK": resource.RLIMIT_STACK,
    "RLIMIT_CORE": resource.RLIMIT_CORE,
    "RLIMIT_FSIZE": resource.RLIMIT_FSIZE,
    "RLIMIT_AS": resource.RLIMIT_AS,
    "RLIMIT_DATA": resource.RLIMIT_DATA,
    "RLIMIT_MEMLOCK": resource.RLIMIT_MEMLOCK,
}

PR_SET_MM, PR_SET_MM_MAP = 35, 14

_libc = ctypes.CDLL(None, use_errno=True)

# The buffers /proc/self/cmdline and /proc/self/environ point to after
# show_as(): they must live as long as the process.
_SHOWN = []


class ConfineError(RuntimeError):
    """A child could not be confined; it must not run."""


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _prctl(option, arg=0):
    _check(_libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), f"prctl({option})")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint32) for n in ("effective", "permitted", "inheritable")]


def set_name(name):
    """Set the process name shown by ``ps`` (15 bytes at most; cosmetic)."""
    buffer = ctypes.create_string_buffer(name.encode()[:15])
    try:
        _prctl(PR_SET_NAME, ctypes.addressof(buffer))
    except OSError:
        pass


def unsafe_to_fork():
    """Say what this process holds that a forked child cannot inherit safely, or "".

    Threads (only the forking one survives a fork, with the others' locks
    held), a zmq context (its I/O threads) and a running asyncio event loop
    (its selector and self-pipe) are refused.
    """
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:
        return f"{threads} threads"
    zmq = sys.modules.get("zmq")
    if zmq is not None and getattr(zmq.Context, "_instance", None) is not None:
        return "a zmq context"
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None:
        if asyncio.events._get_running_loop() is not None:
            return "a running asyncio event loop"
        local = getattr(asyncio.events.get_event_loop_policy(), "_local", None)
        if getattr(local, "_loop", None) is not None:
            return "an asyncio event loop"
    return ""


def close_files(keep=()):
    """Close every file descriptor above 2 except those in ``keep``."""
    keep = sorted(fd for fd in set(keep) if fd > 2)
    low = 3
    for fd in [*keep, os.sysconf("SC_OPEN_MAX")]:
        os.closerange(low, fd)
        low = fd + 1


class _MMMap(ctypes.Structure):
    _fields_ = [
        *(
            (n, ctypes.c_uint64)
            for n in (
                "start_code",
                "end_code",
                "start_data",
                "end_data",
                "start_brk",
                "brk",
                "start_stack",
                "arg_start",
                "arg_end",
                "env_start",
                "env_end",
                "auxv",
            )
        ),
        ("auxv_size", ctypes.c_uint32),
        ("exe_fd", ctypes.c_uint32),
    ]


def _set_mm_strings(args, envbuf):
    """Point the kernel's argv and environ areas at ``args`` and ``envbuf`` (PR_SET_MM_MAP).

    Unlike the single ``PR_SET_MM_*`` options it needs no ``CAP_SYS_RESOURCE``;
    every other field is passed unchanged (read from ``/proc/self/stat``).
    """
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # /proc/[pid]/stat field n is fields[n - 3] here (pid and comm are cut off).
    stat = {
        n: int(fields[i - 3])
        for n, i in (
            ("start_code", 26),
            ("end_code", 27),
            ("start_stack", 28),
            ("start_data", 45),
            ("end_data", 46),
            ("start_brk", 47),
        )
    }
    _libc.sbrk.restype = ctypes.c_void_p
    mm = _MMMap(
        **stat,
        brk=_libc.sbrk(0),
        arg_start=ctypes.addressof(args),
        arg_end=ctypes.addressof(args) + len(args.raw),
        env_start=ctypes.addressof(envbuf),
        env_end=ctypes.addressof(envbuf) + len(envbuf.raw),
        auxv=0,
        auxv_size=0,
        exe_fd=0xFFFFFFFF,
    )
    ret = _libc.prctl(
        PR_SET_MM,
        ctypes.c_ulong(PR_SET_MM_MAP),
        ctypes.byref(mm),
        ctypes.c_ulong(ctypes.sizeof(mm)),
        0,
    )
    _check(ret, "prctl(PR_SET_MM_MAP)")


def show_as(argv, env):
    """Make ``/proc/self/cmdline`` and ``/proc/self/environ`` show ``argv`` and ``env`` (as root).

    A fork keeps the zygote's; ``ps``, ``pgrep -f`` and monitoring tools
    should see the learner's server or kernel as if it had been executed.
    A failure is logged, not raised (cosmetic).
    """
    try:
        data = b"".join(os.fsencode(a) + b"\0" for a in argv)
        args = ctypes.create_string_buffer(data, len(data))
        data = b"".join(os.fsencode(f"{k}={v}") + b"\0" for k, v in env.items()) or b"\0"
        envbuf = ctypes.create_string_buffer(data, len(data))
        _SHOWN.extend([args, envbuf])
        _set_mm_strings(args, envbuf)
    except (OSError, ValueError) as e:
        print(f"forkserver: cannot show the command line: {e}", file=sys.stderr)


def join_cgroups(procs_files):
    """Move this process into the cgroups whose ``cgroup.procs`` files are given (as root)."""
    for procs in procs_files:
        with open(procs, "w") as f:
            f.write(str(os.getpid()))


def drop_privileges(uid, gid, groups):
    """Become ``uid``/``gid`` with supplementary ``groups``, no capabilities, no new privileges.

    Empties the capability bounding and ambient sets (as root), switches
    credentials, clears the remaining sets, sets ``PR_SET_NO_NEW_PRIVS`` and
    then checks it all in ``/proc/self/status``.

    Raises
    ------
    ConfineError
        For uid or gid 0, or when the kernel reports anything left.
    """
    groups = sorted(set(groups))
    if uid == 0 or gid == 0 or 0 in groups:
        raise ConfineError("refusing to run as root")
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last_cap = int(f.read())
    for cap in range(last_cap + 1):
        _prctl(PR_CAPBSET_DROP, cap)
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    os.setgroups(groups)
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    header = _CapHeader(_CAP_VERSION_3, 0)
    _check(_libc.capset(ctypes.byref(header), (_CapData * 2)()), "capset")
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    with open("/proc/self/status") as f:
        status = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
    expected = {
        "Uid": [uid] * 4,
        "Gid": [gid] * 4,
        "Groups": groups,
        "NoNewPrivs": [1],
        **{cap: [0] for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")},
    }
    for key, want in expected.items():
        base = 16 if key.startswith("Cap") else 10
        got = sorted(int(v, base) for v in status.get(key, "").split())
        if got != sorted(want):
            raise ConfineError(f"privileges not dropped: {key} is {got}, not {want}")
    # As after an exec by the user: it may read its own /proc entries and
    # signal or trace its own children (never another account's).
    _prctl(PR_SET_DUMPABLE, 1)


def _lower(a, b):
    inf = resource.RLIM_INFINITY
    if a == inf:
        return b
    if b == inf:
        return a
    return min(a, b)


def _limit(rlimits):
    lower = _lower
    for name, (soft, hard) in (rlimits or {}).items():
        which = RLIMITS.get(name)
        if which is None:
            continue
        _, cur_hard = resource.getrlimit(which)
        hard = lower(int(hard), cur_hard)
        soft = lower(int(soft), hard)
        resource.setrlimit(which, (soft, hard))


def _reset_signals():
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError, RuntimeError):
            pass
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as the interpreter sets it
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.set_wakeup_fd(-1)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _reseed():
    import random

    random.seed()  # CPython does it at fork too; say it here for every generator
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        numpy_random.seed()  # the zygote's state would be every child's


def confine(*, uid, gid, groups, cgroup_procs=(), env, cwd, umask=0o022, rlimits=None, argv=None):
    """Make this fresh fork a process of the learner's, as an exec by them would be.

    Parameters
    ----------
    uid, gid : int
        The learner's account and primary group (never 0).
    groups : list of int
        Supplementary groups.
    cgroup_procs : list of str
        ``cgroup.procs`` files of the learner's groups, joined while still root.
    env : dict
        The whole new environment (nothing of the zygote's is kept).
    cwd : str
        Working directory, entered as the learner (so their permissions apply).
    umask : int
        The file-creation mask.
    rlimits : dict, optional
        ``{"RLIMIT_NOFILE": (soft, hard), ...}``; lowered to, never raised
        above, the zygote's.
    argv : list of str, optional
        What ``/proc/self/cmdline`` shows (see :func:`show_as`).
    """
    join_cgroups(cgroup_procs)
    if argv:
        show_as(argv, env)
    os.setsid()
    drop_privileges(uid, gid, groups)
    _limit(rlimits)
    os.umask(umask)
    _reset_signals()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    _reseed()
