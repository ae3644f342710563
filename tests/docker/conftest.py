"""Fixtures of the docker-profile suite: a running Docker engine and the single-user image.

``.ci/run`` starts the engine (``dockerd --bridge=none --iptables=false``) and
builds the image with ``ai4scale image build``; elsewhere these tests skip
when either is missing (in CI a skip is a failure, see ``tests/conftest.py``).
Containers of these tests use host networking (or none): never a bridge.
"""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.docker

#: The image under test: what ``ai4scale image build`` tagged last.
IMAGE = os.environ.get("AI4SCALE_TEST_IMAGE", "ai4scale/singleuser:latest")


def pytest_collection_modifyitems(items):
    for item in items:
        if "/tests/docker/" in str(item.fspath):
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def docker_client():
    """A Docker SDK client of the running engine (skips when none answers)."""
    from ai4scale.hub.images import EngineUnavailable
    from ai4scale.hub.images import docker_client as connect

    try:
        client = connect()
    except EngineUnavailable as e:
        pytest.skip(str(e))
    yield client
    client.close()


@pytest.fixture(scope="session")
def singleuser_image(docker_client):
    """Name of the single-user image under test (skips when it is not built)."""
    import docker

    try:
        docker_client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        pytest.skip(f"the image {IMAGE} is not built: run `ai4scale image build`")
    return IMAGE
