"""What the docker profile needs before a hub starts: an engine, the image, the network.

``ai4scale up`` (and every start of the hub, :func:`ai4scale.hub.daemons.start_hub`)
calls :func:`check_docker_profile` first, so that a missing engine or image
is refused with what to run, before anything is started, rather than at a
learner's first sign-in.
"""

from __future__ import annotations

from .._errors import UserError

__all__ = ["DockerProfileUnavailable", "check_docker_profile", "docker_profile_problem"]


class DockerProfileUnavailable(UserError):
    """The docker profile cannot run here; the message says what to do."""


def _image_problem(client, image):
    """Return why ``image`` cannot run learners' servers, or ``""``."""
    from .. import images

    require = getattr(images, "require_image", None)
    if require is not None:
        try:
            require(client, image)
        except images.ImageProblem as e:
            return str(e)
        return ""
    import docker

    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return f"the single-user image {image} is not built: run `ai4scale image build`"
    return ""


def _network_problem(client, network):
    """Return why learners' containers cannot join ``network``, or ``""``."""
    if network == "host":
        return ""
    import docker

    try:
        client.networks.get(network)
    except docker.errors.NotFound:
        return (
            f"the Docker network {network!r} ([docker] network) does not exist: create it "
            f"(`docker network create {network}`) and run the hub's container on it as "
            '"ai4scale-hub", or set network = "host" to run everything on this machine\'s network'
        )
    return ""


def docker_profile_problem(settings):
    """Return why the docker profile of ``settings`` cannot start learners' servers, or ``""``.

    Checks, in order: a Docker engine answers (``$DOCKER_HOST`` or the
    default socket), the single-user image ``docker.image`` is there and
    current, and the network ``docker.network`` exists.

    Parameters
    ----------
    settings : dict
        Loaded settings.

    Returns
    -------
    str
        ``""`` when all is ready (or the profile is not ``docker``).
    """
    if settings["profile"] != "docker":
        return ""
    from ..images import EngineUnavailable, docker_client

    try:
        client = docker_client(timeout=30)
    except EngineUnavailable as e:
        return f"the docker profile needs a Docker engine: {e}"
    try:
        return _image_problem(client, settings["docker"]["image"]) or _network_problem(
            client, settings["docker"]["network"]
        )
    finally:
        client.close()


def check_docker_profile(settings):
    """Raise :class:`DockerProfileUnavailable` when :func:`docker_profile_problem` finds one.

    Parameters
    ----------
    settings : dict
        Loaded settings.
    """
    problem = docker_profile_problem(settings)
    if problem:
        raise DockerProfileUnavailable(problem)
