"""Errors of image work, and the full-disk check that keeps a build from dying half-way."""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["ImageProblem", "check_disk", "raise_if_disk_full"]


class ImageProblem(RuntimeError):
    """An image is missing, outdated or cannot be built; the message says what to run."""


def _mb(n):
    return f"{n / (1 << 20):,.0f} MB"


def check_disk(path, needed, what):
    """Raise :class:`ImageProblem` unless ``path``'s file system has ``needed`` bytes free.

    Parameters
    ----------
    path : str or Path
        A folder on the file system to check (the nearest existing parent is used).
    needed : int
        Bytes the step will write.
    what : str
        What the space is for, for the message.
    """
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    free = shutil.disk_usage(path).free
    if free < needed:
        raise ImageProblem(
            f"not enough disk space for {what}: {_mb(free)} free on {path}, about "
            f"{_mb(needed)} needed. Free some space (for example `docker image prune`) and "
            "run the command again; nothing was changed."
        )


def raise_if_disk_full(text, where):
    """Raise :class:`ImageProblem` when ``text`` (an error or build log) says the disk is full."""
    if "no space left on device" in text.lower() or "errno 28" in text.lower():
        raise ImageProblem(
            f"the disk filled up while building ({where}): free some space (for example "
            "`docker image prune`, `docker builder prune`) and run the command again. The "
            "images built before are unchanged.\n" + text.strip()[-2000:]
        )
