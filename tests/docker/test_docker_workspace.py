"""Team workspace servers in the single-user image: collaboration on, learners' off.

The image's build writes the workspace configuration into its own
environment; on the docker profile the workspace override points
``JUPYTER_CONFIG_PATH`` there (the host's ``paths.venv`` means nothing in a
container). The end-to-end sharing through a real hub is in
``test_docker_course.py``.
"""

from __future__ import annotations

import time
import uuid

import pytest
import requests
from ai4scale.hub import default_settings
from ai4scale.hub.teams import workspace_environment
from hubtest import free_port

PREFIX = "ai4t15d-ws-"


def _serve(client, image, environment):
    port = free_port()
    container = client.containers.run(
        image,
        ["jupyter-server", "--ip=127.0.0.1", f"--port={port}", "--IdentityProvider.token=t0k"],
        name=PREFIX + uuid.uuid4().hex[:8],
        network_mode="host",
        user="1000:100",
        environment=environment,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        detach=True,
        remove=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/api/status", params={"token": "t0k"}, timeout=2).ok:
                return container, url
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    logs = container.logs().decode()[-2000:]
    container.stop(timeout=2)
    pytest.fail(f"server did not answer:\n{logs}")


def _room(url):
    """Ask the server for a collaboration session of a notebook (201 with collaboration)."""
    return requests.put(
        f"{url}/api/collaboration/session/shared.ipynb",
        json={"format": "json", "type": "notebook"},
        headers={"Authorization": "token t0k"},
        timeout=10,
    )


@pytest.mark.parametrize("profile", ["docker", "kubernetes"])
def test_workspace_environment_points_into_the_image(profile):
    settings = default_settings()
    settings["profile"] = profile
    settings["paths"]["venv"] = "/srv/elsewhere/venv"
    env = workspace_environment(settings)
    assert env == {"JUPYTER_CONFIG_PATH": "/opt/ai4scale/venv/etc/jupyter-workspace"}
    settings["profile"] = "local"
    assert workspace_environment(settings)["JUPYTER_CONFIG_PATH"].startswith("/srv/elsewhere/")


def test_collaboration_only_in_workspace_containers(docker_client, singleuser_image):
    settings = default_settings()
    settings["profile"] = "docker"
    workspace, url = _serve(docker_client, singleuser_image, workspace_environment(settings))
    learner, learner_url = _serve(docker_client, singleuser_image, {})
    try:
        answer = _room(url)
        assert answer.status_code == 201, answer.text
        assert answer.json()["fileId"]
        assert _room(learner_url).status_code == 404
    finally:
        for container in (workspace, learner):
            container.stop(timeout=3)
