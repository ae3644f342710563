"""A learner's kernel whose port another process took restarts on new ports.

Kernels and servers pick free TCP ports and bind them seconds later; with 30
learners starting together one kernel found its port taken and died
(benchmarks/load.py). jupyter_client restarts such a kernel "with new random
ports", but with its port cache on it reused the same ports five times and
gave up. The learners' servers' configuration (``LEARNER_SERVER_CONFIG``)
turns the cache off; here a real kernel is started under it, its control
port is taken before it binds it, and it must come up on another port.
"""

from __future__ import annotations

import socket
import time

import pytest
from ai4scale.hub.installer import LEARNER_SERVER_CONFIG
from jupyter_client.ioloop import AsyncIOLoopKernelManager
from traitlets.config import Config


async def test_a_kernel_whose_port_was_taken_comes_up_on_another(tmp_path):
    import asyncio

    km = AsyncIOLoopKernelManager(
        config=Config(LEARNER_SERVER_CONFIG),
        kernel_name="python3",
        connection_file=str(tmp_path / "kernel.json"),
    )
    taken = socket.socket()
    try:
        await km.start_kernel()
        port = km.control_port
        try:
            # The kernel is still importing ipykernel (about a second): take its port first.
            taken.bind((km.ip, port))
            taken.listen()
        except OSError:
            pytest.fail(f"the kernel bound port {port} before the test could take it")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and km.control_port == port:
            await asyncio.sleep(0.5)
        assert km.control_port != port, "the kernel was restarted on the same, taken port"
        client = km.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=60)
            reply = await client.execute_interactive("print(6 * 7)", timeout=30)
            assert reply["content"]["status"] == "ok"
        finally:
            client.stop_channels()
        assert await km.is_alive()
    finally:
        taken.close()
        await km.shutdown_kernel(now=True)
