"""A request to a zygote, in the child: who asks, what it may get, and becoming it.

The zygote forks first and the child reads the request (see
:mod:`._zygote`). For a **server** the hub (root) names the learner's
account and cgroups; for a **kernel** the caller's identity comes from the
socket (``SO_PEERCRED``) and its cgroups from ``/proc``, never from the
request. Either way the argument list must start the program the zygote
preloaded, and variables only a fresh interpreter reads (``PYTHON*``,
``LD_*``) must equal the zygote's, or the caller starts it the plain way.
"""

from __future__ import annotations

import json
import os
import pwd
import socket
import struct
import sys
import threading
import time
import traceback

from ._confine import ConfineError

__all__ = [
    "become",
    "cgroups_of",
    "check_env",
    "kernel_app",
    "kernel_spec",
    "peer",
    "read_request",
    "reply",
    "server_spec",
    "watch_server",
]

#: Largest request, in bytes.
MAX_REQUEST = 1 << 20


def peer(conn):
    """Return (pid, uid, gid) of the process at the other end of ``conn``."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)


def read_request(conn, timeout=10.0):
    """Return the request on ``conn`` and the file descriptors sent with it."""
    conn.settimeout(timeout)
    data, fds = b"", []
    while b"\n" not in data:
        chunk, new_fds, _, _ = socket.recv_fds(conn, 1 << 16, 4)
        fds.extend(new_fds)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            raise ValueError("request too large")
    return json.loads(data.split(b"\n", 1)[0] or b"{}"), fds


def reply(conn, **message):
    """Send one JSON line on ``conn`` (ignoring a caller that went away)."""
    try:
        conn.sendall((json.dumps(message) + "\n").encode())
    except OSError:
        pass


def cgroups_of(pid, parent, root="/sys/fs/cgroup"):
    """Return the ``cgroup.procs`` files of process ``pid``'s memory, cpu and pids groups.

    Each must lie under ``parent`` (the hub's cgroup parent), so a caller
    cannot place a kernel outside the learners' limits.
    """
    found = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for ctrl in controllers.split(","):
                if ctrl in ("memory", "cpu", "pids"):
                    found[ctrl] = path
    procs = []
    for ctrl in ("memory", "cpu", "pids"):
        path = found.get(ctrl, "")
        if not path.startswith(f"/{parent}/") or ".." in path.split("/"):
            raise ConfineError(f"the caller is not in a learner's {ctrl} group ({path or 'none'})")
        procs.append(os.path.join(root, ctrl, path.lstrip("/"), "cgroup.procs"))
    pids_dir = os.path.dirname(procs[2])
    with open(os.path.join(pids_dir, "pids.max")) as f:
        limit = f.read().strip()
    with open(os.path.join(pids_dir, "pids.current")) as f:
        current = int(f.read())
    if limit != "max" and current >= int(limit) - 4:
        raise ConfineError("the learner's process limit is reached")
    return procs


def watch_server(pid):
    """Exit when the server ``pid`` that asked for this kernel is gone (as ipykernel's poller)."""

    def watch():
        while True:
            time.sleep(1.0)
            try:
                with open(f"/proc/{pid}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                state = "X"
            if state in ("Z", "X"):
                os._exit(1)

    threading.Thread(target=watch, name="ai4scale-server-watch", daemon=True).start()


def kernel_app(argv, server_pid):
    """Initialize the ipykernel application of ``argv``: its sockets listen when this returns.

    The child says it started only then, so the server's first connection
    finds the kernel listening (no reconnect wait, no lost first message).
    ipykernel's parent poller is left out: it watches the parent process,
    which is the zygote here; :func:`watch_server` watches the server.
    """
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.init_poller = lambda: None
    app.initialize([*argv[3:], f"--IPKernelApp.parent_handle={server_pid}"])
    return app


def _spec(req, pw, argv, *, env, cgroup_procs):
    """Return ``{"argv": ..., "confine": {...}}``: :func:`~._confine.confine`'s arguments."""
    return {
        "argv": argv,
        "confine": {
            "argv": argv,
            "uid": pw.pw_uid,
            "gid": pw.pw_gid,
            "groups": os.getgrouplist(pw.pw_name, pw.pw_gid),
            "cgroup_procs": cgroup_procs,
            "env": env,
            "cwd": str(req.get("cwd") or pw.pw_dir),
            "umask": int(req.get("umask", 0o022)) & 0o777,
            "rlimits": req.get("rlimits"),
        },
    }


def server_spec(req, *, start_env):
    """Return the confinement of a server request (from the hub, root): account, env, cgroups."""
    argv = [str(a) for a in req["argv"]]
    if os.path.basename(argv[0]) != "jupyterhub-singleuser":
        raise ValueError(f"not a single-user server: {argv[0]}")
    check_env(req["env"], start_env)
    env = {str(k): str(v) for k, v in req["env"].items()}
    procs = [str(p) for p in req.get("cgroup_procs", [])]
    return _spec(req, pwd.getpwuid(int(req["uid"])), argv, env=env, cgroup_procs=procs)


def kernel_spec(req, *, peer_pid, peer_uid, user_prefix, cgroup_parent, start_env):
    """Return the confinement of a kernel request: the caller's account and cgroups."""
    argv = [str(a) for a in req["argv"]]
    if argv[:3] != [sys.executable, "-m", "ipykernel_launcher"]:
        raise ValueError(f"not this environment's ipykernel: {argv[:3]}")
    check_env(req["env"], start_env)
    pw = pwd.getpwuid(peer_uid)
    if not pw.pw_name.startswith(user_prefix):
        raise ConfineError(f"{pw.pw_name} is not a learner's account")
    env = {str(k): str(v) for k, v in req["env"].items()}
    env.pop("JPY_PARENT_PID", None)  # the zygote is the parent; see watch_server
    procs = cgroups_of(peer_pid, cgroup_parent)
    return _spec(req, pw, argv, env=env, cgroup_procs=procs)


def check_env(env, start_env):
    """Refuse what only a fresh interpreter reads (``PYTHON*``, ``LD_*``) when it differs."""
    keys = {k for k in [*env, *start_env] if k.startswith(("PYTHON", "LD_"))}
    for key in keys:
        if env.get(key) != start_env.get(key):
            raise ValueError(f"{key} differs from the fork server's; needs a fresh start")


def become(kernel_app=None):
    """Run the server (or the initialized kernel) until it ends; return its exit code."""
    code = 0
    try:
        if kernel_app is not None:
            kernel_app.start()
        else:
            from jupyterhub.singleuser import main as server_main

            server_main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    try:
        import atexit

        atexit._run_exitfuncs()
    except BaseException:
        pass
    return code
