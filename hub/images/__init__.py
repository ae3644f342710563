"""Container images and the Docker engine of the docker profile and grading executor.

``ai4scale image base`` makes a Debian base image with debootstrap (no image
registry needed); ``ai4scale image build`` builds the single-user image
(``hub/Dockerfile``) on it from a wheelhouse, tagged by the hash of its inputs;
:func:`require_image` refuses an image older than the installation.
"""

from ._base import BASE_IMAGE, apt_mirror, build_base
from ._build import IMAGE, BuildResult, build_image, image_status, require_image
from ._context import WHEELHOUSE, installed_requirements, requirements_digest
from ._engine import START_HINT, EngineUnavailable, docker_client, engine_unavailable_reason
from ._errors import ImageProblem

__all__ = [
    "BASE_IMAGE",
    "IMAGE",
    "START_HINT",
    "WHEELHOUSE",
    "BuildResult",
    "EngineUnavailable",
    "ImageProblem",
    "apt_mirror",
    "build_base",
    "build_image",
    "docker_client",
    "engine_unavailable_reason",
    "image_status",
    "installed_requirements",
    "require_image",
    "requirements_digest",
]
