"""Container images and the Docker engine of the docker profile and grading executor.

``ai4scale image base`` makes a Debian base image with debootstrap (no image
registry needed); ``ai4scale image build`` builds the single-user image
(``hub/Dockerfile``) on it from a wheelhouse, tagged by the hash of its inputs.
"""

from ._engine import START_HINT, EngineUnavailable, docker_client, engine_unavailable_reason

__all__ = ["EngineUnavailable", "START_HINT", "docker_client", "engine_unavailable_reason"]
