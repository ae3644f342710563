"""Deployment profiles: one ``update_<profile>(c, settings)`` per spawner."""

from .docker import update_docker
from .kubernetes import update_kubernetes
from .local import update_local

__all__ = ["PROFILES", "update_docker", "update_kubernetes", "update_local"]

#: Profile name -> update step.
PROFILES = {
    "local": update_local,
    "docker": update_docker,
    "kubernetes": update_kubernetes,
}
