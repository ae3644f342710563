"""A kernel provisioner that forks kernels from the kernel zygote, warm.

Selected in a learner's server by ``JUPYTER_DEFAULT_PROVISIONER_NAME=ai4scale-fork``
(set by the spawner when ``[kernels] fork`` is on), with the zygote's socket
in ``AI4SCALE_KERNEL_FORKSERVER``. Everything but the launch is jupyter_client's
:class:`~jupyter_client.provisioning.LocalProvisioner`: the connection file,
ports, interrupt (a signal to the kernel's process group), restart and
shutdown, so JupyterLab works unchanged. A kernel the zygote cannot fork (no
zygote, another Python, a ``PYTHON*`` variable of its own) starts normally.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

from jupyter_client.provisioning import LocalProvisioner

from ._client import SOCKET_ENV, ForkError, current_rlimits, fork_child

__all__ = ["ForkedKernel", "ForkingProvisioner"]


def _state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "X"


class ForkedKernel:
    """A forked kernel as jupyter_client sees a ``Popen``: its pid, poll, wait, signals.

    The kernel is the zygote's child, not ours, so its exit status is not
    ours to read: :meth:`poll` returns 0 once it is gone (-9 after
    :meth:`kill`).
    """

    stdin = stdout = stderr = None

    def __init__(self, pid):
        self.pid = pid
        self.returncode = None
        self._killed = False

    def poll(self):
        """Return None while the kernel runs, then its (assumed) status."""
        if self.returncode is None and _state(self.pid) in ("Z", "X"):
            self.returncode = -signal.SIGKILL if self._killed else 0
        return self.returncode

    def wait(self, timeout=None):
        """Wait until the kernel is gone; return :meth:`poll`'s status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                import subprocess

                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, signum):
        """Send ``signum`` to the kernel (nothing when it is gone)."""
        if self.poll() is None:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def terminate(self):
        """SIGTERM."""
        self.send_signal(signal.SIGTERM)

    def kill(self):
        """SIGKILL."""
        self._killed = True
        self.send_signal(signal.SIGKILL)


class ForkingProvisioner(LocalProvisioner):
    """LocalProvisioner whose ``launch_kernel`` asks the kernel zygote first."""

    async def launch_kernel(self, cmd, **kwargs):
        """Fork the kernel from the zygote; fall back to a normal start."""
        socket_path = os.environ.get(SOCKET_ENV)
        if socket_path and os.path.exists(socket_path):
            cwd = str(kwargs.get("cwd") or os.getcwd())
            request = {
                "argv": list(cmd),
                "env": dict(kwargs.get("env") or os.environ),
                "cwd": cwd,
                "umask": _umask(),
                "rlimits": current_rlimits(),
            }
            try:
                pid = await asyncio.to_thread(fork_child, socket_path, request)
            except ForkError as e:
                if not e.fallback:
                    raise RuntimeError(f"Cannot start the kernel: {e}") from None
                self.log.warning("Starting the kernel without the fork server: %s", e)
            else:
                self.process = ForkedKernel(pid)
                self.pid = self.pgid = pid  # the kernel leads its own session
                self.cwd = cwd
                self.log.info("Kernel forked from the fork server: pid %s", pid)
                return self.connection_info
        return await super().launch_kernel(cmd, **kwargs)


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
