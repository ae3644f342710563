"""The spawner of the local profile: one system user and one cgroup per learner.

:class:`SandboxSpawner` is JupyterHub's LocalProcessSpawner with three
additions:

* the server runs as the learner's own system account ``<prefix><name>``,
  created on first spawn (:mod:`.system_users`), with a private home;
* the server and everything it starts (kernels, terminals) run in a cgroup
  (:mod:`.cgroups`) that enforces JupyterHub's ``mem_limit`` and
  ``cpu_limit`` and a process cap; the group, with anything left in it, is
  removed when the server stops;
* when the memory limit kills the server, the hub log says so (kernels
  killed by it are explained to the learner by :mod:`.memory_notice`).

Where cgroups are unavailable (no cgroup v1, not root), servers start without
limits and the hub logs a warning.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import shutil
from pathlib import Path

import psutil
from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid
from jupyterhub.utils import random_port
from traitlets import Bool, Integer, Unicode, default

from .cgroups import CONTROLLERS, CGroup, CGroupError
from .forkserver import ForkError, ForkServers, fork_child
from .forkserver._client import SOCKET_ENV, current_rlimits
from .memory_notice import format_bytes
from .system_users import ensure_system_user, system_username

__all__ = ["SandboxSpawner"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")

#: Starts of a server whose randomly chosen port another process took first.
PORT_ATTEMPTS = 3


async def _port_open(ip, port):
    """Return True when something accepts TCP connections at ``ip:port``."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(ip or "127.0.0.1", port), 5)
    except OSError:  # refused, or TimeoutError (an OSError)
        return False
    writer.close()
    return True


def _listens(pid, port):
    """Return True when process ``pid`` or one of its children listens on TCP ``port``."""
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return False
    for p in procs:
        try:
            conns = p.net_connections(kind="tcp")
        except psutil.Error:
            continue
        if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in conns):
            return True
    return False


def _gone(pid):
    """Return True when process ``pid`` no longer runs (absent, or a zombie nobody reaps)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


class SandboxSpawner(LocalProcessSpawner):
    """LocalProcessSpawner with per-learner system users and cgroup limits.

    Configure it with the standard ``Spawner.mem_limit`` and
    ``Spawner.cpu_limit`` (both enforced) and the traits below. The hub must
    run as root.
    """

    user_prefix = Unicode(
        help="""
        Prefix of learners' system account names.

        Hub user ``alice`` runs as system user ``<prefix>alice``
        (``jupyter-alice`` by default, as in The Littlest JupyterHub). Names
        that are too long or hold characters such as ``@`` are shortened or
        escaped and get a hash suffix.
        """,
    ).tag(config=True)

    cgroup_parent = Unicode(
        help="""
        Parent cgroup (v1) of all servers' groups.

        Each server's group is ``/sys/fs/cgroup/{memory,cpu,pids}/<parent>/<account>``.
        """,
    ).tag(config=True)

    cgroup_root = Unicode(
        "/sys/fs/cgroup",
        help="Where the cgroup v1 hierarchies (memory, cpu, pids) are mounted.",
    ).tag(config=True)

    process_limit = Integer(
        help="""
        Most processes and threads one server may run, kernels included
        (``pids.max``). Stops fork bombs; 0 means no cap.
        """,
    ).tag(config=True)

    create_system_users = Bool(
        help="""
        Create the learner's system account on first spawn.

        Only users the authenticator let in reach the spawner (roster
        members). When False, the account must already exist.
        """,
    ).tag(config=True)

    datasets_dir = Unicode(
        help="""
        Directory of prepared datasets (read-only for learners).

        When set and present, a ``datasets`` link to it is made in the
        learner's home (unless the learner has a file of that name), and
        ``AI4SCALE_DATASETS`` is set in the server's environment.
        """,
    ).tag(config=True)

    fork_servers = Bool(
        False,
        help="""
        Fork learners' servers from a warm fork server (``[spawn] fork``).

        A root process imports jupyter_server, JupyterLab and the enabled
        extensions once; each server is a fork of it that joins the learner's
        cgroup and becomes the learner's account (no capabilities,
        no-new-privileges) before it runs. About ten times less CPU per start
        than a new interpreter, and the libraries' memory is shared. When the
        fork server cannot serve, the server starts normally.

        .. versionadded:: 0.14
        """,
    ).tag(config=True)

    fork_kernels = Bool(
        False,
        help="""
        Fork learners' kernels from a warm fork server (``[kernels] fork``).

        A root process imports ipykernel and the lab libraries (pandas,
        scikit-learn, fairlearn, shap, matplotlib) once; the learner's server
        asks it for each kernel through the ``ai4scale-fork`` kernel
        provisioner, so a notebook's first cell runs at once. The kernel runs
        as the asking server's account, in its cgroup. Kernels it cannot fork
        start normally.

        .. versionadded:: 0.14
        """,
    ).tag(config=True)

    forkserver_dir = Unicode(
        help="""
        Folder of the fork servers' sockets and logs.

        Default ``/run/ai4scale/forkserver/<cgroup_parent>``: one pair of fork
        servers per hub.
        """,
    ).tag(config=True)

    @default("forkserver_dir")
    def _default_forkserver_dir(self):
        return f"/run/ai4scale/forkserver/{self.cgroup_parent}"

    @default("user_prefix")
    def _default_user_prefix(self):
        return "jupyter-"

    @default("cgroup_parent")
    def _default_cgroup_parent(self):
        return "ai4scale"

    @default("process_limit")
    def _default_process_limit(self):
        return 512

    @default("create_system_users")
    def _default_create_system_users(self):
        return True

    @default("datasets_dir")
    def _default_datasets_dir(self):
        return ""

    # The group of the running server (None: not started, or no cgroups).
    _cgroup = None

    # Whether the running server was forked by the fork server.
    _forked = False

    #: Why the last server stopped, for the learner (shown on the hub's
    #: "server not running" page); empty when it stopped normally. Kept in
    #: the spawner's saved state (clear_state leaves it) because the hub
    #: replaces the spawner object once a server has stopped.
    stop_message = ""

    @property
    def system_username(self):
        """The system account this user's servers run as."""
        return system_username(self.user_prefix, self.user.name)

    @property
    def cgroup(self):
        """The :class:`~.cgroups.CGroup` of the running server, or None."""
        return self._cgroup

    def _cgroup_name(self):
        name = self.system_username
        if self.name:  # a named server gets its own group
            name = f"{name}.{_UNSAFE.sub('-', self.name)}"
        return name

    # -- process and environment ------------------------------------------

    def make_preexec_fn(self, name):
        """Return the ``preexec_fn`` that confines and de-privileges the server.

        ``name`` (the hub username) is ignored: the server runs as
        :attr:`system_username`. The child first joins the server's cgroup,
        while still root, then drops to the system user.
        """
        set_user = set_user_setuid(self.system_username)
        cgroup = self._cgroup

        def preexec():
            if cgroup is not None:
                cgroup.add_pid(os.getpid())
            set_user()

        return preexec

    def user_env(self, env):
        """Set USER, HOME and SHELL from the learner's system account."""
        pw = pwd.getpwnam(self.system_username)
        env["USER"] = pw.pw_name
        if pw.pw_dir:
            env["HOME"] = pw.pw_dir
        if pw.pw_shell:
            env["SHELL"] = pw.pw_shell
        return env

    def get_env(self):
        """Add ``AI4SCALE_DATASETS`` and the kernel fork server to the server's environment."""
        env = super().get_env()
        if self.datasets_dir:
            env.setdefault("AI4SCALE_DATASETS", self.datasets_dir)
        if self.fork_kernels:
            env["JUPYTER_DEFAULT_PROVISIONER_NAME"] = "ai4scale-fork"
            env[SOCKET_ENV] = self._forkservers(env).socket("kernel")
        return env

    # -- fork servers ------------------------------------------------------

    def _forkservers(self, env=None):
        interpreter = {k: v for k, v in (env or {}).items() if k.startswith(("PYTHON", "LD_"))}
        return ForkServers.get(
            self.forkserver_dir,
            cgroup_parent=self.cgroup_parent,
            user_prefix=self.user_prefix,
            env=interpreter,
        )

    def _fork_roles(self):
        wanted = (("server", self.fork_servers), ("kernel", self.fork_kernels))
        return [role for role, on in wanted if on]

    async def _ensure_forkservers(self, env):
        """Start the fork servers this spawner uses; log (never raise) when one cannot."""
        servers = self._forkservers(env)
        roles = self._fork_roles()
        for role in roles:
            try:
                await servers.ensure(role)
            except ForkError as e:
                self.log.error("The %s fork server does not start: %s", role, e)
        servers.start_watching(roles)
        return servers

    async def _forked_start(self, servers):
        """Start the server as a fork of the server zygote; None when it cannot serve."""
        if self.port == 0:
            self.port = random_port()
        env = self.get_env()
        cmd = [*self.cmd, *self.get_args()]
        pw = pwd.getpwnam(self.system_username)
        request = {
            "argv": cmd,
            "env": env,
            "uid": pw.pw_uid,
            "cwd": pw.pw_dir,
            "umask": 0o022,
            "rlimits": current_rlimits(),
            "cgroup_procs": [str(self._cgroup.path(c) / "cgroup.procs") for c in CONTROLLERS]
            if self._cgroup is not None
            else [],
        }
        try:
            pid = await asyncio.to_thread(fork_child, servers.socket("server"), request)
        except ForkError as e:
            if not e.fallback:
                raise
            self.log.warning(
                "Starting the server of %s without the fork server: %s", self.user.name, e
            )
            return None
        self.log.info("Forked the server of %s: pid %s", self.user.name, pid)
        self.proc = None
        self.pid = pid
        self._forked = True
        return (self.ip or "127.0.0.1", self.port)

    async def move_certs(self, paths):
        """Stage internal-SSL certificates in the system account's home."""
        pw = pwd.getpwnam(self.system_username)
        out_dir = Path(pw.pw_dir) / ".jupyterhub" / "jupyterhub-certs"
        shutil.rmtree(out_dir, ignore_errors=True)
        out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        moved = {}
        for key in ("keyfile", "certfile", "cafile"):
            target = out_dir / Path(paths[key]).name
            (shutil.copy if key == "cafile" else shutil.move)(paths[key], target)
            moved[key] = str(target)
        for f in [out_dir.parent, out_dir, *moved.values()]:
            os.chown(f, pw.pw_uid, pw.pw_gid)
        return moved

    def _link_datasets(self, pw):
        if not self.datasets_dir or not os.path.isdir(self.datasets_dir):
            return
        link = Path(pw.pw_dir) / "datasets"
        if os.path.lexists(link):
            return
        try:
            link.symlink_to(self.datasets_dir)
            os.lchown(link, pw.pw_uid, pw.pw_gid)
        except OSError as e:
            self.log.warning("Could not link %s to %s: %s", link, self.datasets_dir, e)

    # -- cgroup ------------------------------------------------------------

    def _make_cgroup(self):
        """Create the server's group with its limits; None without cgroups."""
        reason = CGroup.unavailable_reason(self.cgroup_root)
        if reason:
            self.log.warning(
                "cgroups unavailable (%s): starting the server of %s WITHOUT memory, "
                "CPU or process limits",
                reason,
                self.user.name,
            )
            return None
        cgroup = CGroup(self._cgroup_name(), parent=self.cgroup_parent, root=self.cgroup_root)
        cgroup.remove()  # leftovers of a server the hub lost track of
        cgroup.create()
        try:
            cgroup.set_limits(
                memory_bytes=self.mem_limit or None,
                cpu_cores=self.cpu_limit or None,
                max_pids=self.process_limit or None,
            )
        except BaseException:
            cgroup.remove()
            raise
        self.log.info(
            "cgroup %s/%s for %s: memory %s, cpu %s, processes %s",
            self.cgroup_parent,
            cgroup.name,
            self.user.name,
            self.mem_limit or "unlimited",
            self.cpu_limit or "unlimited",
            self.process_limit or "unlimited",
        )
        return cgroup

    async def _remove_cgroup(self, status=None):
        """Kill what is left in the server's group and delete it; log OOM kills."""
        cgroup, self._cgroup = self._cgroup, None
        if cgroup is None:
            return
        try:
            kills = cgroup.oom_kills()
            if kills and status in (-9, 137):
                limit = cgroup.memory_limit()
                self.stop_message = (
                    "Your server was stopped because it used more memory than its limit"
                    + (f" ({format_bytes(limit)})" if limit else "")
                    + ". Your files are kept. Start it again, then load less data at once"
                    " or shut down kernels you no longer use."
                )
                self.log.warning(
                    "Server of %s was killed (status %s): it reached its memory limit (%s bytes)",
                    self.user.name,
                    status,
                    cgroup.memory_limit(),
                )
            elif kills:
                self.log.warning(
                    "Server of %s: the memory limit (%s bytes) killed %d process(es) while it ran",
                    self.user.name,
                    cgroup.memory_limit(),
                    kills,
                )
            await asyncio.to_thread(cgroup.remove)
        except CGroupError as e:
            self.log.error("Could not remove cgroup of %s: %s", self.user.name, e)

    # -- life cycle --------------------------------------------------------

    async def start(self):
        """Create the account and the cgroup, then start the server in them."""
        self.stop_message = ""
        sysname = self.system_username
        if self.create_system_users:
            pw = await asyncio.to_thread(
                ensure_system_user, sysname, comment=f"AI4Scale {self.user.name}"
            )
        else:
            try:
                pw = pwd.getpwnam(sysname)
            except KeyError:
                raise RuntimeError(
                    f"system user {sysname} does not exist and create_system_users is False"
                ) from None
        self._link_datasets(pw)
        self._cgroup = await asyncio.to_thread(self._make_cgroup)
        self._forked = False
        servers = None
        if self.fork_servers or self.fork_kernels:
            servers = await self._ensure_forkservers(super().get_env())
        random_port = not self.port
        try:
            for attempt in range(1, PORT_ATTEMPTS + 1):
                started = None
                if self.fork_servers and servers.pid("server"):
                    started = await self._forked_start(servers)
                ip, port = started or await super().start()
                state = await self._wait_for_server(ip, port)
                if not (state == "exited" and random_port and await _port_open(ip, port)):
                    return ip, port
                # Another process (often a kernel's ZMQ socket: both take ports
                # from the same ephemeral range) bound the port between its
                # choice and the server's start; the server exited. Try another.
                self.log.warning(
                    "port %s was taken before the server of %s bound it (attempt %d of %d)",
                    port,
                    self.user.name,
                    attempt,
                    PORT_ATTEMPTS,
                )
                self.port = 0  # LocalProcessSpawner picks a new random port
            return ip, port
        except BaseException:
            await self._remove_cgroup()
            raise

    async def _wait_for_server(self, ip, port, interval=0.1):
        """Wait until the server listens on its port; return why the wait ended.

        The hub checks a new server with an exponential backoff that reaches
        seconds between tries; a server that took 3 s to start was often seen
        only at 7 s. Returning when the port opens lets its first check succeed.
        The port must be opened by the server itself: another process that
        took it first would answer the hub's checks until they time out.

        Returns
        -------
        str
            ``"listening"``, ``"exited"`` (before it listened) or ``"timeout"``.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        while loop.time() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                return "exited"  # the hub's own checks report it
            if self.proc is None and _gone(self.pid):
                return "exited"
            if await _port_open(ip, port) and await asyncio.to_thread(_listens, self.pid, port):
                return "listening"
            await asyncio.sleep(interval)
        return "timeout"

    async def poll(self):
        """As LocalProcessSpawner; when the server has died, remove its cgroup.

        Polls also keep the fork servers watched after a hub restart, before
        anyone spawns (a dead one is started again within seconds).
        """
        if self.fork_servers or self.fork_kernels:
            self._forkservers().start_watching(self._fork_roles())
        if self._forked and self.proc is None and self.pid and _gone(self.pid):
            status = self._forked_exit_status()
            self.clear_state()
        else:
            status = await super().poll()
        if status is not None and self._cgroup is not None:
            await self._remove_cgroup(status)
        return status

    async def stop(self, now=False):
        """Stop the server, then kill what is left in its cgroup and remove it."""
        try:
            await super().stop(now=now)
        finally:
            await self._remove_cgroup()

    # -- state across hub restarts -------------------------------------------

    def _forked_exit_status(self):
        """Return the exit status the fork server recorded for our server (0 when unknown)."""
        path = Path(self.forkserver_dir) / "server" / "exits" / str(self.pid)
        try:
            status = int(path.read_text())
            path.unlink()
        except (OSError, ValueError):
            status = 0
        return status

    def clear_state(self):
        """Forget the forked server too."""
        super().clear_state()
        self._forked = False

    def get_state(self):
        """Add the cgroup, so that a restarted hub can clean it up."""
        state = super().get_state()
        if self._forked:
            state["forked"] = True
        if self.stop_message:
            state["stop_message"] = self.stop_message
        if self._cgroup is not None:
            state["cgroup"] = {"name": self._cgroup.name, "parent": self._cgroup.parent}
        return state

    def load_state(self, state):
        """Restore the cgroup of a server started before the hub restarted."""
        super().load_state(state)
        self.stop_message = state.get("stop_message", "")
        self._forked = bool(state.get("forked"))
        info = state.get("cgroup")
        if info:
            try:
                self._cgroup = CGroup(info["name"], parent=info["parent"], root=self.cgroup_root)
            except (CGroupError, KeyError, TypeError):
                self.log.warning("Ignoring invalid cgroup state %r", info)
