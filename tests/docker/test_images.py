"""``ai4scale image``: the base and single-user images, built here without a registry.

.ci/run builds the image first (``ai4scale image build``), so here a build
with unchanged inputs must be skipped, and the image must match the
installation. The full-disk cases run the real commands with their working
folder on a small tmpfs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker

AI4SCALE = [sys.executable, "-P", "-m", "ai4scale"]


def ai4scale(*args, env=None, timeout=900):
    return subprocess.run(
        [*AI4SCALE, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        cwd="/",
    )


def in_image(image, *command, user=None):
    argv = ["docker", "run", "--rm", "--network", "none"]
    if user:
        argv += ["--user", user]
    return subprocess.run([*argv, image, *command], capture_output=True, text=True, timeout=300)


def test_unchanged_inputs_are_not_rebuilt(docker_client, singleuser_image):
    from ai4scale.hub.images import require_image

    before = docker_client.images.get(singleuser_image).id
    proc = ai4scale("image", "build")
    assert proc.returncode == 0, proc.stderr
    assert "not rebuilt" in proc.stdout, proc.stdout
    tag = proc.stdout.split()[0]
    image = docker_client.images.get(tag)
    assert image.id == before == docker_client.images.get("ai4scale/singleuser:latest").id
    assert image.labels["org.ai4scale.inputs"].startswith(tag.rsplit(":", 1)[1])
    assert "matches this installation" in require_image(docker_client, singleuser_image)
    status = ai4scale("image", "status", singleuser_image)
    assert status.returncode == 0 and status.stdout.startswith("current:"), status.stdout


def test_an_image_of_other_requirements_is_refused(docker_client, singleuser_image):
    from ai4scale.hub.images import ImageProblem, require_image

    name = f"ai4scale-test/outdated:{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as ctx:
        Path(ctx, "Dockerfile").write_text(
            f"FROM {singleuser_image}\nLABEL org.ai4scale.requirements=0123456789abcdef\n"
        )
        docker_client.images.build(path=ctx, tag=name, network_mode="none", rm=True)
    try:
        with pytest.raises(ImageProblem, match="other package versions.*ai4scale image build"):
            require_image(docker_client, name)
        status = ai4scale("image", "status", name)
        assert status.returncode == 1 and status.stdout.startswith("outdated:"), status.stdout
        missing = ai4scale("image", "status", "ai4scale-test/never-built:1")
        assert missing.returncode == 1 and "run `ai4scale image build`" in missing.stdout
    finally:
        docker_client.images.remove(name, force=True)


def test_no_engine_says_how_to_start_one():
    proc = ai4scale("image", "build", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert proc.returncode != 0
    assert "no Docker engine answers at unix:///nonexistent/docker.sock" in proc.stderr
    assert "dockerd --bridge=none" in proc.stderr and "Traceback" not in proc.stderr


@pytest.fixture
def small_disk():
    folder = tempfile.mkdtemp(prefix="ai4scale-small-disk-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", folder], check=True)
    yield folder
    subprocess.run(["umount", folder], check=True)
    os.rmdir(folder)


def test_full_disk_while_building_changes_nothing(docker_client, singleuser_image, small_disk):
    before = docker_client.images.get("ai4scale/singleuser:latest").id
    # The context (about 450 MB of wheels) does not fit in 40 MB.
    proc = ai4scale("image", "build", "--rebuild", "--workdir", small_disk)
    assert proc.returncode != 0
    assert "the disk filled up while building" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert os.listdir(small_disk) == []  # the half-written context is removed
    assert docker_client.images.get("ai4scale/singleuser:latest").id == before

    # The base image's tree is checked before debootstrap starts.
    tag = f"ai4scale-test/base:{uuid.uuid4().hex[:8]}"
    proc = ai4scale("image", "base", "--tag", tag, "--workdir", small_disk)
    assert proc.returncode != 0 and "not enough disk space" in proc.stderr, proc.stderr
    assert not docker_client.images.list(name=tag)


def test_image_runs_as_the_learner_with_the_local_profile_configuration(singleuser_image, tmp_path):
    from ai4scale.hub.installer import ensure_learner_environment

    who = in_image(singleuser_image, "id")
    assert who.stdout.startswith("uid=1000(jovyan) gid=100(users)"), who.stdout

    # The lab stack imports for the learner; the grading engine stays unreadable.
    stack = in_image(
        singleuser_image,
        "python",
        "-c",
        "import pandas, sklearn, fairlearn, shap, matplotlib, ai4scale.datasets; print('ok')",
    )
    assert stack.stdout.strip() == "ok", stack.stderr
    hidden = in_image(singleuser_image, "python", "-c", "import ai4scale.grading")
    assert "PermissionError" in hidden.stderr

    # JupyterLab's learner settings are those the local profile's installer writes.
    ensure_learner_environment({"paths": {"venv": str(tmp_path)}})
    for rel in (
        "etc/jupyter/labconfig/page_config.json",
        "etc/jupyter/jupyter_server_config.d/zz-ai4scale.json",
        "share/jupyter/lab/settings/overrides.json",
    ):
        got = in_image(singleuser_image, "cat", f"/opt/ai4scale/venv/{rel}")
        assert json.loads(got.stdout) == json.loads((tmp_path / rel).read_text()), rel

    # No package index was reachable or needed: pip inside has only the wheels' packages.
    versions = in_image(
        singleuser_image, "python", "-c", "import jupyterhub; print(jupyterhub.__version__)"
    )
    import jupyterhub

    assert versions.stdout.strip() == jupyterhub.__version__


def test_apt_mirror_is_read_from_deb822_and_one_line_sources(tmp_path):
    from ai4scale.hub.images import apt_mirror

    deb822 = tmp_path / "debian.sources"
    deb822.write_text(
        "Types: deb\nURIs: http://mirror.example.eu/debian/\nSuites: bookworm\n\n"
        "Types: deb\nURIs: http://security.debian.org/debian-security\n"
    )
    one_line = tmp_path / "sources.list"
    one_line.write_text("deb [arch=amd64] http://ftp.de.debian.org/debian bookworm main\n")
    assert apt_mirror([str(deb822)]) == "http://mirror.example.eu/debian"
    assert apt_mirror([str(tmp_path / "none"), str(one_line)]) == "http://ftp.de.debian.org/debian"
    assert apt_mirror([str(tmp_path / "none")]) == "http://deb.debian.org/debian"
