"""``ai4scale image build``: the single-user image, tagged by the hash of its inputs.

The image ``<name>:<first 12 hex of the input hash>`` is built from
``hub/Dockerfile`` on the base image, with the context of :mod:`._context`,
and tagged ``<name>:latest`` too. When that tag already exists, nothing is
built: the inputs (Dockerfile, package versions, the installed ``ai4scale``,
the base image) are unchanged. Its labels say what it was built from, so the
docker profile can refuse an image older than the installation
(:func:`require_image`).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ._base import BASE_IMAGE, build_base
from ._context import (
    WHEELHOUSE,
    fill_wheelhouse,
    input_digest,
    installed_requirements,
    requirements_digest,
    site_digest,
    write_context,
)
from ._errors import ImageProblem, check_disk, raise_if_disk_full

__all__ = [
    "IMAGE",
    "LABEL_INPUTS",
    "LABEL_REQUIREMENTS",
    "LABEL_SITE",
    "BuildResult",
    "build_image",
    "image_status",
    "require_image",
]

#: Repository of the single-user image (the settings' ``docker.image`` is ``IMAGE:latest``).
IMAGE = "ai4scale/singleuser"

LABEL_INPUTS = "org.ai4scale.inputs"
LABEL_REQUIREMENTS = "org.ai4scale.requirements"
LABEL_SITE = "org.ai4scale.site"

#: Free space the build needs where Docker keeps images (bytes): about 2 GB of
#: image plus the intermediate stage.
_BUILD_NEEDS = 5 << 30


@dataclass
class BuildResult:
    """What :func:`build_image` did: ``"built"`` or ``"current"``, and the image's tags."""

    action: str
    tag: str
    latest: str
    seconds: float = 0.0


def _docker_root(client):
    try:
        return client.info().get("DockerRootDir") or "/var/lib/docker"
    except Exception:  # noqa: BLE001 - only for the space check
        return "/var/lib/docker"


def _tag_latest(client, tag, name):
    client.images.get(tag).tag(name, "latest")


def build_image(
    client,
    *,
    name=IMAGE,
    base=None,
    wheelhouse=WHEELHOUSE,
    workdir=None,
    rebuild=False,
    say=print,
):
    """Build the single-user image unless an image of the same inputs exists.

    Parameters
    ----------
    client : docker.DockerClient
    name : str
        Repository to tag (``name:<hash12>`` and ``name:latest``).
    base : str, optional
        Base image (any Debian 12). Default :data:`~._base.BASE_IMAGE`, made
        with debootstrap first when missing.
    wheelhouse : str
        Folder of wheels, kept between builds.
    workdir : str, optional
        Where the build context is assembled (default: the temporary folder).
    rebuild : bool
        Build even when the inputs are unchanged.
    say : callable
        Receives one line per step and per Dockerfile step.

    Returns
    -------
    BuildResult

    Raises
    ------
    ImageProblem
        A step failed (base, wheels, build, full disk); the message says which and why.
    """
    import time

    import docker

    t0 = time.monotonic()
    if base is None:
        base = BASE_IMAGE
        build_base(client, tag=base, workdir=workdir, say=say)
    try:
        base_id = client.images.get(base).id
    except docker.errors.ImageNotFound:
        raise ImageProblem(
            f"the base image {base} is not here and no registry is reachable: "
            "run `ai4scale image base`, or `docker pull` it where a registry is reachable"
        ) from None

    requirements = installed_requirements()
    digest = input_digest(base_id=base_id, requirements=requirements)
    tag = f"{name}:{digest[:12]}"
    if not rebuild:
        try:
            client.images.get(tag)
            _tag_latest(client, tag, name)
            return BuildResult("current", tag, f"{name}:latest", time.monotonic() - t0)
        except docker.errors.ImageNotFound:
            pass

    check_disk(_docker_root(client), _BUILD_NEEDS, "the image")
    wheels = fill_wheelhouse(requirements, wheelhouse=wheelhouse, say=say)
    parent = Path(workdir or tempfile.gettempdir())
    ctx = Path(tempfile.mkdtemp(prefix="ai4scale-image-", dir=parent))
    try:
        say(f"build context in {ctx} ({len(wheels)} wheels, the installed ai4scale)")
        write_context(ctx, requirements=requirements, wheels=wheels)
        labels = {
            LABEL_INPUTS: digest,
            LABEL_REQUIREMENTS: requirements_digest(requirements),
            LABEL_SITE: site_digest(),
            "org.opencontainers.image.title": "AI4Scale Sandbox single-user image",
            "org.opencontainers.image.base.name": base,
        }
        say(f"docker build {tag} on {base} (a minute or two; reuses unchanged layers)")
        _run_build(client, ctx, tag=tag, base=base, labels=labels, say=say)
    finally:
        shutil.rmtree(ctx, ignore_errors=True)
    _tag_latest(client, tag, name)
    return BuildResult("built", tag, f"{name}:latest", time.monotonic() - t0)


def _run_build(client, ctx, *, tag, base, labels, say):
    log = []
    stream = client.api.build(
        path=str(ctx),
        tag=tag,
        buildargs={"BASE": base},
        labels=labels,
        network_mode="host",  # apt inside the build; never a bridge
        rm=True,
        forcerm=True,
        pull=False,
        decode=True,
    )
    for chunk in stream:
        if "error" in chunk:
            text = chunk.get("error", "") + "\n" + "".join(log[-30:])
            raise_if_disk_full(text, "Docker's image store")
            raise ImageProblem(
                f"docker build {tag} failed: {chunk['error'].strip()}\n" + "".join(log[-15:])
            )
        line = chunk.get("stream", "")
        if line:
            log.append(line)
            if re.match(r"Step \d+/\d+ :", line):
                say(line.strip()[:160])


def image_status(client, name=f"{IMAGE}:latest"):
    """Return ``(state, message)`` of image ``name`` against this installation.

    ``state`` is ``"missing"``, ``"outdated"`` (other package versions),
    ``"stale"`` (another ``ai4scale``) or ``"current"``.
    """
    import docker

    try:
        image = client.images.get(name)
    except docker.errors.ImageNotFound:
        return "missing", f"the image {name} is not built: run `ai4scale image build`"
    labels = image.labels or {}
    if labels.get(LABEL_REQUIREMENTS) != requirements_digest():
        return "outdated", (
            f"the image {name} was built from other package versions than this "
            "installation's: run `ai4scale image build`"
        )
    if labels.get(LABEL_SITE) != site_digest():
        return "stale", (
            f"the image {name} holds another version of ai4scale than this installation: "
            "run `ai4scale image build`"
        )
    return "current", f"the image {name} ({image.short_id}) matches this installation"


def require_image(client, name=f"{IMAGE}:latest"):
    """Raise :class:`ImageProblem` unless image ``name`` exists and matches this installation.

    Parameters
    ----------
    client : docker.DockerClient
    name : str
        The image the settings name (``[docker] image``).

    Returns
    -------
    str
        The message of a current image.
    """
    state, message = image_status(client, name)
    if state != "current":
        raise ImageProblem(message)
    return message
