"""The ``docker`` executor: one grading container per worker, a forked kernel per notebook.

Each container runs the single-user image as its root with only what the
in-container zygote needs to drop each kernel to the grading account:

- ``--network none`` (loopback only: not even the host's 127.0.0.1),
  ``--read-only`` root, tmpfs on ``/tmp``, ``/var/tmp``, ``/dev/shm`` and the
  grading dirs (size-capped, counted in the memory cap);
- ``--memory`` (= ``--memory-swap``), ``--cpus``, ``--pids-limit`` from the
  sandbox's ``memory`` + ``zygote_memory``, ``cpu``, ``max_pids``;
- ``--cap-drop ALL`` and back only ``SETUID`` and ``SETGID`` (the switch to
  the grading account, and the sweeper started as it) and ``SETPCAP`` (to
  empty the kernel's capability bounding set before it, which the drop
  checks); no ``KILL``, ``CHOWN``, ``DAC_OVERRIDE``: the sweeper kills the
  account's processes as the account, the kernel makes its own working copy;
- ``--security-opt no-new-privileges``; no volume, and one bind mount: the
  prepared datasets (``paths.datasets_dir``) read-only at the same path,
  with ``$AI4SCALE_DATASETS`` set for every kernel, as in the learners'
  servers of the ``docker`` profile (a read-only bind is nothing a run can
  write for the next one to read).

Notebooks, the lab's files and results cross the container's stdin and
stdout (``docker run -i``) in the JSON lines of ``_protocol``. A container
that dies (a memory bomb beyond its cap, killed) costs the run it held, with
the outcome the local sandbox gives (``memory_limit`` or ``kernel_died``),
and a fresh container replaces it.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import secrets
import shutil
import subprocess
import tempfile
import threading

from ai4scale.grading.sandbox import RunResult, Sandbox, parse_size

from ._confine import RUNS, WORK
from ._protocol import open_request, result_from_dict, run_request

__all__ = ["DEFAULT_IMAGE", "DockerExecutor", "DockerUnavailable", "GradingContainer"]

log = logging.getLogger(__name__)

#: The single-user image (``ai4scale image build``); ``[docker] image`` in the settings.
DEFAULT_IMAGE = "ai4scale/singleuser:latest"
#: The prepared datasets (``paths.datasets_dir``'s default, ``ai4scale.datasets``'s too).
DEFAULT_DATASETS = "/srv/ai4scale/datasets"
#: Capabilities the in-container worker keeps (see the module docstring for why each).
CAPABILITIES = ("SETUID", "SETGID", "SETPCAP")
#: Label of every grading container.
LABEL = "ai4scale.grading"
#: Processes and threads of the worker and zygote, beyond the runs' ``max_pids``.
OVERHEAD_PIDS = 64


class DockerUnavailable(RuntimeError):
    """No engine, or no image: the message says what to do."""


def _docker_cli():
    path = shutil.which("docker") or "/usr/bin/docker"
    return path


def container_args(box, *, image, name, datasets_dir=""):
    """Return the ``docker run`` arguments of a grading container for sandbox ``box``.

    ``datasets_dir`` (a folder of the Docker host) is bind-mounted read-only at
    the same path and named in ``$AI4SCALE_DATASETS``; empty: no mount.
    """
    datasets = []
    if datasets_dir:
        datasets = [
            "--mount", f"type=bind,source={datasets_dir},target={datasets_dir},readonly",
            "--env", f"AI4SCALE_DATASETS={datasets_dir}",
        ]  # fmt: skip
    memory = parse_size(box.memory) + parse_size(box.zygote_memory)
    disk, tmp = parse_size(box.disk), parse_size(box.tmp_disk)
    args = [
        "run", "-i", "--pull", "never", "--name", name, "--label", f"{LABEL}=worker",
        "--user", "0:0", "--workdir", "/", "--network", "none", "--read-only",
        "--memory", str(memory), "--memory-swap", str(memory),
        "--cpus", str(box.cpu), "--pids-limit", str(box.max_pids + OVERHEAD_PIDS),
        "--cap-drop", "ALL",
        *(a for cap in CAPABILITIES for a in ("--cap-add", cap)),
        "--security-opt", "no-new-privileges",
        "--shm-size", str(tmp),
        "--tmpfs", f"/tmp:rw,nosuid,nodev,size={tmp},mode=1777",
        "--tmpfs", f"/var/tmp:rw,nosuid,nodev,size={tmp},mode=1777",
        "--tmpfs", f"{WORK}:rw,nosuid,nodev,size={disk},mode=1733",
        "--tmpfs", f"{RUNS}:rw,nosuid,nodev,noexec,size={disk},mode=0711",
        "--log-driver", "none",
        *datasets,
        image, "python", "-P", "-m", "ai4scale.grading.containers", "serve",
    ]  # fmt: skip
    return args


class GradingContainer:
    """One grading container: the worker in it, its zygote ready after :meth:`start`.

    Parameters
    ----------
    box : Sandbox
        Limits, timeouts and the grading account of every run.
    image : str
        The single-user image.
    preload : str
        The lab's import lines (trusted).
    files : dict or list, optional
        The lab's working-directory files, sent once.
    datasets_dir : str, optional
        The prepared datasets, mounted read-only (see :func:`container_args`).
    """

    def __init__(self, box, *, image, preload="", files=None, datasets_dir=""):
        self.box, self.image, self.preload, self.files = box, image, preload, files
        self.datasets_dir = datasets_dir
        self.name = f"ai4scale-grading-{secrets.token_hex(6)}"
        self.proc = self.ready = None
        self._events = queue.Queue()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - the worker's stderr
        self._ids = 0

    def start(self):
        """Start the container and wait for its zygote; return self (raises on failure)."""
        self.proc = subprocess.Popen(
            [_docker_cli(), *self.args()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            close_fds=True,
        )
        threading.Thread(target=self._read, name=f"{self.name}-reader", daemon=True).start()
        settings = {n: getattr(self.box, n) for n in sorted(_settings_names())}
        try:
            self._send(open_request(settings=settings, preload=self.preload, files=self.files))
            event = self._events.get(timeout=self.box.preload_timeout + 60)
        except (OSError, queue.Empty) as e:
            self.close()
            raise DockerUnavailable(f"the grading container did not start: {e}") from None
        if event.get("event") != "ready":
            why = event.get("message") or self.log_tail()
            self.close()
            raise DockerUnavailable(f"the grading container did not start: {why}")
        self.ready = event
        return self

    def args(self):
        """Return the ``docker run`` arguments of this container."""
        return container_args(
            self.box, image=self.image, name=self.name, datasets_dir=self.datasets_dir
        )

    def _read(self):
        for line in self.proc.stdout:
            try:
                self._events.put(json.loads(line))
            except ValueError:
                log.warning("grading container %s wrote a line that is not JSON", self.name)
        self._events.put({"event": "eof"})

    def _send(self, message):
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        self.proc.stdin.flush()

    def alive(self):
        """Whether the worker runs."""
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, size=2000):
        """Return the end of the worker's stderr."""
        self._log.seek(0)
        return self._log.read()[-size:].decode("utf-8", "replace")

    def run(self, nb, *, workdir_files=None, same_files=True):
        """Execute ``nb`` in the container; return its :class:`RunResult`.

        A container that dies meanwhile gives ``memory_limit`` (killed at its
        memory cap) or ``kernel_died``; one that does not answer in time is
        killed (``notebook_timeout``). Either way it is not alive afterwards.
        """
        self._ids += 1
        run_id = str(self._ids)
        box = self.box
        try:
            self._send(run_request(run_id, nb, files=workdir_files, same_files=same_files))
        except OSError:
            return self._lost("before the notebook was sent")
        wait = box.notebook_timeout + box.startup_timeout + 60
        try:
            while True:
                event = self._events.get(timeout=wait)
                if event.get("event") == "result" and event.get("id") == run_id:
                    return result_from_dict(event["result"])
                if event.get("event") == "error":
                    return RunResult("startup_failed", f"the grading container refused the run: "
                                     f"{event.get('message')}")  # fmt: skip
                if event.get("event") == "eof":
                    return self._lost("while running the notebook")
        except queue.Empty:
            self.close()
            return RunResult(
                "notebook_timeout",
                f"the notebook ran longer than {box.notebook_timeout} s "
                "(the grading container did not answer and was stopped)",
            )

    def _lost(self, doing):
        oom = self._state().get("OOMKilled")
        self.close()
        if oom:
            return RunResult(
                "memory_limit",
                f"the kernel was killed by the OOM killer at the memory limit ({self.box.memory}) "
                f"{doing}",
                oom_kills=1,
            )
        return RunResult("kernel_died", f"the grading container stopped {doing}")

    def _state(self):
        try:
            out = subprocess.run(
                [_docker_cli(), "inspect", "--format", "{{json .State}}", self.name],
                capture_output=True,
                text=True,
                timeout=30,
            )
            return json.loads(out.stdout or "{}")
        except (OSError, ValueError, subprocess.TimeoutExpired):
            return {}

    def close(self):
        """Stop and remove the container (idempotent)."""
        if self.proc is not None and self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()  # EOF: the worker ends its zygote and exits
            except OSError:
                pass
        if self.proc is not None:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        subprocess.run(
            [_docker_cli(), "rm", "--force", self.name],
            capture_output=True,
            timeout=60,
            check=False,
        )
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _settings_names():
    from ._protocol import SETTINGS

    return SETTINGS


class DockerExecutor:
    """Run notebooks in grading containers (``[course] sandbox = "docker"``).

    The same interface as :class:`~ai4scale.grading.autograde.SandboxExecutor`:
    :meth:`open_pool` starts ``size`` containers (one per grading worker), each
    with its zygote's imports done; :meth:`run` takes an idle one, and a run
    without a pool uses a container of its own. A container that dies is
    replaced; when none is left and none can be started, :meth:`run` raises
    :class:`DockerUnavailable` (the submission is an error, graded again
    later) instead of waiting.

    Parameters
    ----------
    image : str
        The single-user image (``[docker] image``).
    datasets_dir : str
        The prepared datasets on the Docker host (``paths.datasets_dir``),
        mounted read-only at the same path in every container, as in the
        learners' servers; ``""``: none. A folder that does not exist is not
        mounted (labs that load data then fail their self-check, saying so).
    **config
        :class:`~ai4scale.grading.sandbox.Sandbox` traits (``cell_timeout``,
        ``notebook_timeout``, ``memory``, ``cpu``, ``max_pids``...).

    Raises
    ------
    DockerUnavailable
        No Docker engine answers, or the image is not built.
    """

    name = "docker"

    def __init__(self, *, image=DEFAULT_IMAGE, datasets_dir=DEFAULT_DATASETS, fork=True, **config):
        self.sandbox = Sandbox(**config)
        self.image = image
        self.datasets_dir = _existing(datasets_dir)
        self._idle = None
        self._starting = 0
        self._containers = []
        self._preload, self._files = "", None
        self._lock = threading.Lock()
        check_docker(image)

    def settings(self):
        """Return the settings a run depends on (the image and the sandbox's traits)."""
        from ._protocol import SETTINGS

        return {
            "image": self.image,
            "datasets_dir": self.datasets_dir,
            **{n: getattr(self.sandbox, n) for n in SETTINGS},
        }

    def _new(self, *, pooled=True):
        return GradingContainer(
            self.sandbox,
            image=self.image,
            preload=self._preload if pooled else "",
            files=self._files if pooled else None,
            datasets_dir=self.datasets_dir,
        ).start()

    def open_pool(self, *, preload, size, limit=None, workdir_files=None):
        """Start ``size`` containers (at most ``limit``) with ``preload`` imported."""
        self.close_pool()
        self._preload, self._files = preload or "", workdir_files
        size = max(1, min(size, limit) if limit else size)
        self._idle = queue.Queue()
        threads, started, errors = [], [], []

        def one():
            try:
                started.append(self._new())
            except Exception as e:
                errors.append(e)

        for _ in range(size):
            threads.append(threading.Thread(target=one))
            threads[-1].start()
        for t in threads:
            t.join()
        self._containers = list(started)
        if errors:
            self.close_pool()
            raise errors[0]
        for c in started:
            self._idle.put(c)

    def close_pool(self):
        """Stop and remove every container of the pool (idempotent)."""
        containers, self._containers, self._idle = self._containers, [], None
        for c in containers:
            c.close()

    def run(self, nb, *, workdir_files=None):
        """Execute ``nb`` in a grading container; return its :class:`RunResult`."""
        import nbformat

        if isinstance(nb, str) or hasattr(nb, "read_text"):
            nb = nbformat.read(str(nb), as_version=4)
        idle = self._idle
        if idle is None:
            container = self._new(pooled=False)
            try:
                return container.run(nb, workdir_files=workdir_files, same_files=False)
            finally:
                container.close()
        container = self._take(idle)
        try:
            same = workdir_files == self._files
            result = container.run(nb, workdir_files=workdir_files, same_files=same)
            if result.outcome == "memory_limit":
                # Its OOM count would show the learners' memory notice in later kernels.
                container.close()
        finally:
            if not container.alive():
                container = self._replace(container)
            if container is not None:
                idle.put(container)
        return result

    def _take(self, idle):
        """Return an idle container of the pool; start one when none is left.

        Waits while another run holds a container or one is being started. A
        container that died while idle (killed) is replaced for this run; when
        the pool has none at all, one is started. Raises
        :class:`DockerUnavailable`, saying why, when it cannot start.
        """
        while True:
            try:
                container = idle.get(timeout=1)
            except queue.Empty:
                container = None
            if container is not None and container.alive():
                return container
            if container is not None:
                self._forget(container)  # not this run's fault: it gets a fresh one
            with self._lock:
                if container is None and (self._containers or self._starting):
                    continue  # a run or a start will give one back
                self._starting += 1
            try:
                fresh = self._new()
            except Exception as e:
                raise DockerUnavailable(f"no grading container could be started: {e}") from None
            finally:
                with self._lock:
                    self._starting -= 1
            with self._lock:
                self._containers.append(fresh)
            return fresh

    def _forget(self, dead):
        dead.close()
        with self._lock:
            if dead in self._containers:
                self._containers.remove(dead)

    def _replace(self, dead):
        self._forget(dead)
        with self._lock:
            self._starting += 1
        try:
            fresh = self._new()
        except Exception as e:  # the next run starts one, or says why it cannot
            log.error("cannot start a grading container to replace one that died: %s", e)
            return None
        finally:
            with self._lock:
                self._starting -= 1
        with self._lock:
            self._containers.append(fresh)
        return fresh


def _existing(folder):
    if folder and not os.path.isdir(folder):
        log.warning("the datasets folder %s does not exist: not mounted", folder)
        return ""
    return str(folder or "")


def check_docker(image):
    """Raise :class:`DockerUnavailable` unless an engine answers and has ``image``."""
    from ai4scale.hub.images import docker_client, engine_unavailable_reason

    why = engine_unavailable_reason()
    if why:
        raise DockerUnavailable(f"grading in containers needs a Docker engine: {why}")
    import docker

    client = docker_client(timeout=30)
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        raise DockerUnavailable(
            f"the grading image {image} is missing: build it with `ai4scale image build`"
        ) from None
    finally:
        client.close()
