"""The zygote process: import once as root, fork a learner's server or kernel per request.

Started detached by the hub's spawner (``python -m ai4scale.hub.forkserver
ROLE --socket PATH ...``), one per role and hub:

``server``
    imports jupyterhub's single-user app, jupyter_server, JupyterLab and the
    enabled server extensions; answers only root (the hub's spawner) on a
    socket in a root-only folder. Each child becomes ``jupyterhub-singleuser``.
``kernel``
    imports ipykernel and the lab libraries (pandas, scikit-learn, fairlearn,
    shap, matplotlib); answers learners' servers on a socket anyone may reach,
    and takes the caller's identity from the socket itself (``SO_PEERCRED``):
    the kernel runs as the calling account, in the calling process's cgroups,
    which must be under the hub's cgroup parent. Each child becomes an
    ipykernel kernel.

Why each safety property holds:

- *The zygote never runs learner code and never reads a request.* It accepts
  a connection and forks at once; only the child reads the request, so no
  learner's environment or token ever lands in the zygote's memory, which
  every later child inherits.
- *Forking is safe.* Before every fork it checks it has one thread, no zmq
  context and no asyncio loop (:func:`~._confine.unsafe_to_fork`), and
  refuses otherwise.
- *The child is the learner's process, as an exec by them would be:*
  :func:`~._confine.confine` joins the cgroups, starts a session, drops
  capabilities and switches credentials (checked in ``/proc/self/status``),
  sets no-new-privileges, lowers rlimits, resets signals, environment,
  working directory and umask, and reseeds random generators; every file
  descriptor but the request's is closed first.
- *Learners do not depend on the zygote.* Children are reaped by the zygote,
  but they do not watch it: killing it leaves servers and kernels running,
  and the spawner starts a new one.

Protocol: the client sends one JSON line (newline-terminated), with its
stdout and stderr as ``SCM_RIGHTS`` file descriptors; the child answers one
JSON line, ``{"pid": N}`` once confined, or ``{"error": "...", "fallback":
bool}``, then closes the connection.
"""

from __future__ import annotations

import gc
import os
import selectors
import signal
import socket
import sys
import time
import traceback

from . import _preload
from ._confine import close_files, confine, set_name, unsafe_to_fork
from ._requests import (
    become,
    kernel_app,
    kernel_spec,
    peer,
    read_request,
    reply,
    server_spec,
    watch_server,
)

__all__ = ["Zygote", "main"]

#: Exit status of a child that failed before it became a server or kernel.
SETUP_FAILED = 70


class Zygote:
    """One fork server; see the module docstring.

    Parameters
    ----------
    role : {"server", "kernel"}
    socket_path : str
        Where to listen.
    preload : list of str
        Modules imported once, before the first fork.
    cgroup_parent : str
        Learners' groups lie under it (``kernel`` role).
    user_prefix : str
        Only accounts named so get a kernel (``kernel`` role).
    max_children : int
        Most live children per account.
    """

    def __init__(
        self, role, socket_path, *, preload=(), cgroup_parent="", user_prefix="", max_children=32
    ):
        self.role = role
        self.socket_path = socket_path
        self.preload = list(preload)
        self.cgroup_parent = cgroup_parent
        self.user_prefix = user_prefix
        self.max_children = max_children
        self.children = {}  # pid -> uid
        self.exits_dir = os.path.join(os.path.dirname(socket_path), "exits")
        self.start_env = dict(os.environ)
        self.home = os.environ.get("HOME", "")
        self.home_refs = []
        self.kernel_modules = set()

    # -- the parent --------------------------------------------------------

    def load(self):
        """Import the preload modules; return how many failed (they are logged).

        Raises
        ------
        RuntimeError
            When the imports loaded a module other accounts may not read.
        """
        if self.role == "kernel":
            _preload.load(_preload.KERNEL_MODULES)
            self.kernel_modules = set(sys.modules)
        failed = len(_preload.load(self.preload))
        restricted = _preload.restricted_modules()
        if restricted:
            raise RuntimeError(
                "the imports loaded modules learners may not read: " + ", ".join(restricted[:10])
            )
        if self.home:
            self.home_refs = _preload.home_references(self.home)
        sys.stdout.flush()
        sys.stderr.flush()
        gc.collect()
        gc.freeze()  # children never write these objects' pages (copy-on-write kept)
        return failed

    def serve(self):
        """Listen and fork until SIGTERM."""
        unsafe = unsafe_to_fork()
        if unsafe:
            raise RuntimeError(f"unsafe to fork after the imports: {unsafe}")
        os.makedirs(self.exits_dir, mode=0o700, exist_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        tmp = f"{self.socket_path}.{os.getpid()}"
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        listener.bind(tmp)
        os.chmod(tmp, 0o666 if self.role == "kernel" else 0o600)
        listener.listen(64)
        os.replace(tmp, self.socket_path)  # a new zygote takes over the path atomically
        with open(f"{tmp}.pid", "w") as f:
            f.write(str(os.getpid()))
        os.replace(f"{tmp}.pid", self.socket_path + ".pid")
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        signal.set_wakeup_fd(wake_w)
        selector = selectors.DefaultSelector()
        selector.register(listener, selectors.EVENT_READ)
        selector.register(wake_r, selectors.EVENT_READ)
        print(f"forkserver {self.role}: ready on {self.socket_path}", file=sys.stderr, flush=True)
        while not stop:
            events = selector.select(timeout=5.0)
            try:
                while os.read(wake_r, 512):
                    pass
            except BlockingIOError:
                pass
            self._reap()
            if any(key.fileobj is listener for key, _ in events):
                try:
                    conn, _ = listener.accept()
                except OSError:
                    continue
                with conn:
                    self._fork(conn, listener, selector, (wake_r, wake_w))
        try:  # unless a newer zygote took the path over
            with open(self.socket_path + ".pid") as f:
                if int(f.read()) == os.getpid():
                    os.unlink(self.socket_path)
                    os.unlink(self.socket_path + ".pid")
        except (OSError, ValueError):
            pass

    def _reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.children.pop(pid, None)
            if self.role == "server":
                path = os.path.join(self.exits_dir, str(pid))
                try:
                    with open(path, "w") as f:
                        f.write(str(os.waitstatus_to_exitcode(status)))
                except OSError:
                    pass

    def _fork(self, conn, listener, selector, pipe):
        pid_, uid, _ = peer(conn)
        if self.role == "server" and uid != 0:
            reply(conn, error="only the hub may start servers")
            return
        if self.role == "kernel":
            if uid == 0:
                reply(conn, error="no kernels for root", fallback=True)
                return
            if sum(1 for u in self.children.values() if u == uid) >= self.max_children:
                reply(conn, error="too many kernels for this account", fallback=True)
                return
        unsafe = unsafe_to_fork()
        if unsafe:
            reply(conn, error=f"the fork server holds {unsafe}", fallback=True)
            return
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = SETUP_FAILED
            try:
                selector.close()
                listener.close()
                for fd in pipe:
                    os.close(fd)
                code = self._child(conn, peer_pid=pid_, peer_uid=uid)
            except BaseException:
                traceback.print_exc()
            finally:
                for stream in (sys.stdout, sys.stderr):
                    try:
                        stream.flush()
                    except BaseException:
                        pass
                os._exit(code)
        self.children[pid] = uid

    # -- the child ---------------------------------------------------------

    def _child(self, conn, *, peer_pid, peer_uid):
        """Read the request, confine, answer, then become the server or kernel."""
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        set_name(f"ai4scale-{self.role}")
        fds = []
        try:
            req, fds = read_request(conn)
            if self.role == "server":
                spec = server_spec(req, start_env=self.start_env)
            else:
                spec = kernel_spec(
                    req,
                    peer_pid=peer_pid,
                    peer_uid=peer_uid,
                    user_prefix=self.user_prefix,
                    cgroup_parent=self.cgroup_parent,
                    start_env=self.start_env,
                )
            null = os.open("/dev/null", os.O_RDWR)
            os.dup2(null, 0)
            out = fds[:2] if len(fds) >= 2 else [null, null]
            os.dup2(out[0], 1)
            os.dup2(out[1], 2)
            close_files(keep=[conn.fileno()])
            confine(**spec["confine"])
        except Exception as e:
            # A plain start is what the caller may do anyway (as itself, in its group).
            reply(conn, error=str(e) or type(e).__name__, fallback=True)
            return SETUP_FAILED
        if self.home_refs:
            _preload.rebase_home(self.home_refs, self.home, os.environ.get("HOME", "/nonexistent"))
        _preload.add_user_site()
        argv = spec["argv"]
        sys.argv = list(argv if self.role == "server" else [argv[2], *argv[3:]])
        app = None
        if self.role == "kernel":
            _preload.forget_shadowed(os.getcwd(), keep=self.kernel_modules)
            watch_server(peer_pid)
            try:
                app = kernel_app(argv, peer_pid)
            except BaseException as e:
                traceback.print_exc()
                reply(conn, error=f"the kernel did not initialize: {e}", fallback=True)
                return 1
        reply(conn, pid=os.getpid())
        conn.close()
        return become(app)


def main(argv=None):
    """Run a zygote: ``python -m ai4scale.hub.forkserver ROLE --socket PATH [...]``."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m ai4scale.hub.forkserver")
    ap.add_argument("role", choices=["server", "kernel"])
    ap.add_argument("--socket", required=True)
    ap.add_argument("--preload", action="append", default=None)
    ap.add_argument("--cgroup-parent", default="")
    ap.add_argument("--user-prefix", default="")
    args = ap.parse_args(argv)
    set_name(f"ai4scale-z{args.role}")
    if args.preload is None:
        args.preload = list(
            _preload.SERVER_MODULES if args.role == "server" else _preload.KERNEL_PRELOAD
        )
        if args.role == "server":
            args.preload += _preload.enabled_extensions()
    zygote = Zygote(
        args.role,
        args.socket,
        preload=args.preload,
        cgroup_parent=args.cgroup_parent,
        user_prefix=args.user_prefix,
    )
    started = time.monotonic()
    failed = zygote.load()
    print(
        f"forkserver {args.role}: {len(sys.modules)} modules loaded in "
        f"{time.monotonic() - started:.1f} s ({failed} failed)",
        file=sys.stderr,
        flush=True,
    )
    zygote.serve()
    return 0
