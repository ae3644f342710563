"""Paths and secrets under the hub's state directory (root only)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["admin_token_file", "read_or_create_secret", "state_dir"]


def state_dir(settings):
    """Return the state directory of ``settings`` as a Path."""
    return Path(settings["paths"]["state_dir"])


def admin_token_file(settings):
    """Return the file holding the ``ai4scale-admin`` service token."""
    return state_dir(settings) / "admin-service-token"


def read_or_create_secret(path, *, nbytes=32):
    """Return the secret stored in ``path``, creating it (mode 0600) if missing.

    Parameters
    ----------
    path : str or Path
        File holding one hex secret.
    nbytes : int
        Entropy of a new secret.

    Returns
    -------
    str
    """
    path = Path(path)
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_hex(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value
