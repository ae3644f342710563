"""Grading in containers (the ``docker`` executor) and its Kubernetes Job counterpart.

:class:`DockerExecutor` runs each grading worker's kernels in a container of
the single-user image (no network, read-only root, capped, a zygote inside);
notebooks and results cross the container's stdin and stdout in the protocol
of :mod:`ai4scale.grading.containers._protocol`, which a Kubernetes Job
speaks too (``python -m ai4scale.grading.containers run --request FILE``).
"""

from ._docker import DEFAULT_IMAGE, DockerExecutor, DockerUnavailable, check_docker
from ._protocol import PROTOCOL, ProtocolError, read_document, result_from_dict

__all__ = [
    "DEFAULT_IMAGE",
    "PROTOCOL",
    "DockerExecutor",
    "DockerUnavailable",
    "ProtocolError",
    "check_docker",
    "read_document",
    "result_from_dict",
]
