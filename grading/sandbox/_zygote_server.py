"""The in-sandbox half of the grading zygote: import once, fork a fresh kernel per run.

Started as a script (``python _zygote_server.py``, never imported by the
grader) by :class:`ai4scale.grading.sandbox.Zygote`, as root inside the
zygote's own network, mount, pid and IPC namespaces (it is pid 1 there),
with private tmpfs on ``/tmp``, ``/var/tmp``, ``/dev/shm`` and ``/run``. It
imports the standard library, ipykernel's modules and the lab's import lines,
then forks one kernel per request. It never runs learner code, and it holds
no thread, zmq context or event loop when it forks (it checks it has one
thread before it says it is ready).

Each request forks a *reaper* (still root) that:

1. sends its output to the run's ``kernel.log``, joins the run's cgroup
   (memory, cpu, pids) and starts its own session;
2. unshares new mount, network, pid and IPC namespaces and forks the
   *kernel*, pid 1 of the new pid namespace;
3. waits for the kernel and exits as it did (same status or signal).

The kernel, before anything else runs in it: makes every mount private,
mounts a fresh ``/proc``, a size-capped tmpfs on the run's working directory
(the lab's files copied in from the root-only staging directory, owned by
the grader) and fresh tmpfs on ``/tmp``, ``/var/tmp``, ``/dev/shm``, ``/run``;
sets ``RLIMIT_FSIZE``, ``RLIMIT_CORE`` and ``RLIMIT_NOFILE``; drops every
capability from the bounding set, clears the ambient set, switches to the
grading account (``setgroups``/``setresgid``/``setresuid``, never uid or gid
0), clears the remaining capability sets, sets ``PR_SET_NO_NEW_PRIVS`` and
checks all of that in ``/proc/self/status``; replaces the environment,
forgets the lab-preloaded modules a file of the working directory shadows (as
sys.path would in a fresh kernel), re-seeds numpy's global generator and
becomes an ipykernel kernel
(``IPKernelApp`` with the run's connection file). Any failure before the
kernel starts ends the process with the reason in ``kernel.log``.

In a grading container (``"confine": "container"`` in the request, see
:mod:`ai4scale.grading.containers`), the container is the namespace and the
cgroup: the reaper neither joins a cgroup nor unshares, and the kernel only
sets its rlimits, drops to the grading account and then makes the working
directory and copies the lab's files into it itself (no mount, no chown).

Protocol: JSON lines. On stdin, requests of the privileged side: first
``{"op": "preload", "code": ...}``, then ``{"op": "spawn", "id": ..., ...}``
(one at a time: a spawn while a run is alive is refused, so the zygote never
holds two runs' paths). On the duplicate of stdout made at start, replies:
``ready`` (or ``error``), then ``spawned`` (the reaper's pid in the zygote's
namespace) and ``exit`` (its return code, as ``Popen.returncode``) per run.
The zygote's own stdout and stderr go to its log. EOF on stdin ends it, and
with it (pid 1) every process of its namespaces.
"""

import sys

# Never import from this file's directory or the working directory
# (sys.path[0] of a script, or "" with ``python -c``, as the zygote runs).
if sys.path and __name__ == "__main__":
    del sys.path[0]

import ctypes  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import selectors  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

from ai4scale.hub.forkserver import _preload  # noqa: E402
from ai4scale.hub.forkserver._confine import (  # noqa: E402
    ConfineError,
    drop_privileges,
    set_name,
    unsafe_to_fork,
)

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 0x4000, 0x40000
PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4

#: What ipykernel imports when a kernel starts; imported here once (the same
#: list the learners' kernel fork server preloads).
KERNEL_MODULES = _preload.KERNEL_MODULES

#: The colour theme of the grading kernels' tracebacks (see ``Sandbox._kernel_argv``).
TRACEBACK_THEME = "nocolor"

#: Exit status of a reaper or kernel that failed before the kernel started.
SETUP_FAILED = 70

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _prctl(option, arg=0):
    _check(_libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), f"prctl({option})")


def _mount(source, target, fstype, flags, data=None):
    def enc(s):
        return None if s is None else os.fsencode(s)

    _check(
        _libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
        f"mount {target}",
    )


# -- the kernel (pid 1 of its own namespaces) ------------------------------


def _private_mounts(req):
    uid, gid = req["uid"], req["gid"]
    work, stage = req["workdir"], req["stagedir"]
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    opts = f"size={req['disk_bytes']},mode=0700,uid={uid},gid={gid}"
    _mount("ai4scale-grading", work, "tmpfs", MS_NOSUID | MS_NODEV, opts)
    shutil.copytree(stage, work, symlinks=True, dirs_exist_ok=True)
    for root, dirs, files in os.walk(work):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)
    for path in ("/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(path):
            opts = f"size={req['tmp_bytes']},mode=1777"
            _mount("ai4scale-grading", path, "tmpfs", MS_NOSUID | MS_NODEV, opts)
    run_flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    _mount("ai4scale-grading", "/run", "tmpfs", run_flags, "size=1m,mode=0755")


def _limit_resources(req):
    import resource

    fsize = req["fsize_bytes"]
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (req["max_files"], req["max_files"]))


def _drop_privileges(req):
    """Become the grading account with no capabilities (checked), never root."""
    try:
        drop_privileges(req["uid"], req["gid"], req["groups"])
    except ConfineError as e:
        raise PermissionError(f"refusing to run a kernel: {e}") from None
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


#: Modules loaded before the lab's imports (ipykernel's): a fresh kernel has them before
#: its working directory is on sys.path too.
_KERNEL_LOADED = set()


def _forget_shadowed(workdir):
    """Forget the lab-preloaded modules a file of ``workdir`` shadows.

    In a fresh kernel the working directory comes before site-packages on
    sys.path, so a lab's own ``utils.py`` wins over an installed ``utils``;
    the zygote imported without it, so drop such modules (and submodules)
    for the kernel to import the lab's file.
    """
    import importlib.machinery

    # IPython puts the working directory before the first site-packages entry.
    ahead = []
    for path in sys.path:
        if os.path.basename(path) in ("site-packages", "dist-packages"):
            break
        ahead.append(os.path.join(path, ""))
    ahead = tuple(ahead)
    suffixes = tuple(importlib.machinery.all_suffixes())
    for entry in os.listdir(workdir):
        path = os.path.join(workdir, entry)
        if os.path.isdir(path):
            if not os.path.isfile(os.path.join(path, "__init__.py")):
                continue
            name = entry
        elif entry.endswith(suffixes):
            name = entry.split(".", 1)[0]
        else:
            continue
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None) or ""
        if module is None or name in _KERNEL_LOADED or not origin or origin.startswith(ahead):
            continue  # not preloaded, the kernel's own, built in, or ahead on sys.path anyway
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]


def _reseed():
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        numpy_random.seed()  # the zygote's state would be every run's


def _kernel(req):
    """Become the run's kernel; never returns."""
    code = SETUP_FAILED
    dropped = False
    try:
        set_name("ai4scale-kernel")
        if req.get("confine") == "container":
            # The container gives the mounts, network and cgroup caps: only the
            # account changes, and the working copy is made as the grader.
            _limit_resources(req)
            _drop_privileges(req)
            dropped = True
            os.umask(0o077)
            os.mkdir(req["workdir"], 0o700)
            shutil.copytree(req["stagedir"], req["workdir"], symlinks=False, dirs_exist_ok=True)
            os.chdir(req["workdir"])
            _forget_shadowed(req["workdir"])
        else:
            _private_mounts(req)
            os.chdir(req["workdir"])
            _forget_shadowed(req["workdir"])
            _limit_resources(req)
            _drop_privileges(req)
            dropped = True
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        os.environ.clear()
        os.environ.update(req["env"])
        sys.argv = [req["launcher"], *req["argv"]]
        _reseed()
        from ipykernel import kernelapp

        code = 1
        kernelapp.launch_new_instance(argv=req["argv"])
        code = 0
    except SystemExit as e:
        if isinstance(e.code, int) or e.code is None:
            code = e.code or 0
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
    finally:
        if dropped:  # as the interpreter would at exit; never as root
            try:
                import atexit

                atexit._run_exitfuncs()
            except BaseException:
                pass
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        os._exit(code)


# -- the reaper ------------------------------------------------------------


def _mirror(status):
    """Exit as the kernel did: same code, or killed by the same signal."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        _prctl(PR_SET_DUMPABLE, 0)  # no core file of ours
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass  # SIGKILL, SIGSTOP
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.waitstatus_to_exitcode(status))


def _reaper(req):
    """In the first child: confine, fork the kernel, wait for it; never returns."""
    try:
        set_name("ai4scale-reaper")
        log = os.open(req["log"], os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        null = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        os.dup2(null, 0)
        os.close(null)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        for procs in req["cgroup_procs"]:
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
        os.setsid()
        if req.get("confine") == "container":
            # One container per worker: its OOM killer should take the kernel.
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write("1000")
        else:
            flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC
            _check(_libc.unshare(flags), "unshare")
        pid = os.fork()
        if pid == 0:
            _kernel(req)
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(SETUP_FAILED)
    _mirror(status)


# -- the server ------------------------------------------------------------


def _warm_tracebacks():
    """Format one traceback as a kernel does, so that forks find it done.

    IPython's first traceback of a process imports stack_data, pygments and
    their helpers, builds their tables and has ``inspect`` map the file of
    every loaded module (some 100 ms with the lab's libraries); every run
    fails on purpose in its canary cells, so every forked kernel would pay
    it again.
    """
    try:
        from IPython.core import ultratb

        code = compile("def _f():\n    raise ValueError('x')\n_f()\n", "<ai4scale-warm>", "exec")
        try:
            exec(code, {})  # noqa: S102 - our own constant
        except ValueError:
            etype, value, tb = sys.exc_info()
            formatter = ultratb.AutoFormattedTB(mode="Context", theme_name=TRACEBACK_THEME)
            formatter.structured_traceback(etype, value, tb)
            del etype, value, tb
    except Exception as e:  # a cost, not a fault: kernels format their own
        print(f"zygote: cannot format a traceback ahead: {e}", file=sys.stderr)


def _open_files():
    """Return {fd: what it is} of this process (the reaper closes all but 0-2)."""
    found = {}
    for fd in sorted(os.listdir("/proc/self/fd"), key=int):
        try:
            found[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            pass
    return found


class _Server:
    def __init__(self):
        # Replies on a private copy of stdout; what libraries print goes to the log.
        self.replies = os.dup(1)
        os.dup2(2, 1)
        self.buffer = b""
        self.children = {}  # reaper pid -> run id
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def send(self, **message):
        data = (json.dumps(message) + "\n").encode()
        while data:
            data = data[os.write(self.replies, data) :]

    def read_request(self):
        """Return the next request, None at EOF (blocking)."""
        while b"\n" not in self.buffer:
            chunk = os.read(0, 1 << 16)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def preload(self, code):
        started = time.monotonic()
        for name in KERNEL_MODULES:
            try:
                __import__(name)
            except Exception as e:  # the kernel will say it when it starts
                print(f"zygote: cannot import {name}: {e}", file=sys.stderr)
        _KERNEL_LOADED.update(sys.modules)
        # Trusted: the import lines of the lab's own (non-solution) cells.
        namespace = {"__name__": "__ai4scale_preload__"}
        exec(compile(code, "<lab imports>", "exec"), namespace)  # noqa: S102
        del namespace
        # After the lab's imports: a traceback maps every loaded module's file.
        _warm_tracebacks()
        sys.stdout.flush()
        sys.stderr.flush()
        # Objects alive now are never collected again: children do not touch their pages.
        gc.collect()
        gc.freeze()
        unsafe = unsafe_to_fork()
        if unsafe:
            self.send(event="error", message=f"unsafe to fork after the imports: {unsafe}")
            return False
        self.send(
            event="ready",
            seconds=round(time.monotonic() - started, 3),
            modules=len(sys.modules),
            fds=_open_files(),
        )
        return True

    def spawn(self, req):
        if self.children:
            self.send(event="refused", id=req["id"], message="a run is still alive")
            return
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            _reaper(req)
        self.children[pid] = req["id"]
        self.send(event="spawned", id=req["id"], pid=pid)

    def reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            run = self.children.pop(pid, None)
            if run is not None:
                self.send(event="exit", id=run, returncode=os.waitstatus_to_exitcode(status))

    def serve(self):
        first = self.read_request()
        if not first or first.get("op") != "preload" or not self.preload(first.get("code", "")):
            return
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self.wake_w)
        selector = selectors.DefaultSelector()
        selector.register(0, selectors.EVENT_READ)
        selector.register(self.wake_r, selectors.EVENT_READ)
        while True:
            events = selector.select(timeout=1.0)
            try:
                while os.read(self.wake_r, 512):
                    pass
            except BlockingIOError:
                pass
            self.reap()
            if any(key.fd == 0 for key, _ in events):
                chunk = os.read(0, 1 << 16)
                if not chunk:
                    return
                self.buffer += chunk
                while b"\n" in self.buffer:
                    line, self.buffer = self.buffer.split(b"\n", 1)
                    req = json.loads(line)
                    if req.get("op") == "spawn":
                        self.spawn(req)


def main():
    """Serve requests until EOF on stdin."""
    set_name("ai4scale-zygote")
    try:
        _Server().serve()
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    os._exit(0)


if __name__ == "__main__":
    main()
