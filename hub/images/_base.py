"""``ai4scale image base``: a Debian base image made here, without an image registry.

``debootstrap --variant=minbase`` fetches a minimal Debian from the Debian
archive (the one apt uses on this machine), and ``docker import`` turns the
tree into an image. About 40 s and 200 MB for bookworm. Where a registry is
reachable, any Debian 12 image given by name (``ai4scale image build --base
NAME``) does as well.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from ._errors import ImageProblem, check_disk, raise_if_disk_full

__all__ = ["BASE_IMAGE", "DEFAULT_MIRROR", "apt_mirror", "build_base"]

#: The base image ``ai4scale image build`` uses unless given another.
BASE_IMAGE = "ai4scale/debian:bookworm"

DEFAULT_MIRROR = "http://deb.debian.org/debian"

#: Space a minbase tree and its tar need while importing (bytes).
_BASE_NEEDS = 600 << 20


def apt_mirror(sources=("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list")):
    """Return the Debian archive apt uses on this machine (``DEFAULT_MIRROR`` if none is found).

    Parameters
    ----------
    sources : sequence of str
        deb822 ``.sources`` or one-line ``sources.list`` files to read, in order.

    Returns
    -------
    str
    """
    for name in sources:
        try:
            text = Path(name).read_text()
        except OSError:
            continue
        for line in text.splitlines():
            m = re.match(r"\s*URIs:\s*(\S+)", line) or re.match(
                r"\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)", line
            )
            if m and "security" not in m.group(1):
                return m.group(1).rstrip("/")
    return DEFAULT_MIRROR


def build_base(
    client, *, tag=BASE_IMAGE, suite="bookworm", mirror=None, rebuild=False, workdir=None, say=print
):
    """Make the base image ``tag`` with debootstrap and ``docker import`` (skipped if present).

    Parameters
    ----------
    client : docker.DockerClient
    tag : str
        ``repository:tag`` of the image to make.
    suite : str
        Debian release (``bookworm`` is Debian 12, whose Python 3.11 the image uses).
    mirror : str, optional
        Debian archive URL; default: the one apt uses here (:func:`apt_mirror`).
    rebuild : bool
        Make it again even when ``tag`` exists.
    workdir : str, optional
        Where the tree is built (default: the system's temporary folder).
    say : callable
        Receives one line per step.

    Returns
    -------
    str
        ``"present"`` or ``"built"``.

    Raises
    ------
    ImageProblem
        debootstrap is missing or failed, or the disk is full.
    """
    import docker

    if not rebuild:
        try:
            client.images.get(tag)
            return "present"
        except docker.errors.ImageNotFound:
            pass
    if not shutil.which("debootstrap"):
        raise ImageProblem(
            "debootstrap is not installed: `apt-get install debootstrap`, or give a "
            "Debian 12 image by name (`ai4scale image build --base NAME`)"
        )
    mirror = mirror or apt_mirror()
    parent = Path(workdir or tempfile.gettempdir())
    check_disk(parent, _BASE_NEEDS, "the base image's Debian tree")
    tmp = Path(tempfile.mkdtemp(prefix="ai4scale-base-", dir=parent))
    try:
        root, archive = tmp / "rootfs", tmp / "rootfs.tar"
        say(f"debootstrap --variant=minbase {suite} from {mirror} (about 40 s)")
        proc = subprocess.run(
            ["debootstrap", "--variant=minbase", suite, str(root), mirror],
            capture_output=True,
            text=True,
        )
        if proc.returncode:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise_if_disk_full(tail, parent)
            raise ImageProblem(f"debootstrap {suite} from {mirror} failed:\n{tail}")
        say(f"docker import -> {tag}")
        try:
            with tarfile.open(archive, "w") as tar:
                tar.add(root, arcname=".")
        except OSError as e:
            raise_if_disk_full(str(e), parent)
            raise
        repository, _, version = tag.rpartition(":")
        client.api.import_image_from_file(
            str(archive), repository=repository, tag=version, changes=['CMD ["/bin/bash"]']
        )
        client.images.get(tag)  # raises if the import did not produce it
        return "built"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if os.path.exists(tmp):  # debootstrap's mounts (proc) left behind
            subprocess.run(["umount", "-R", str(tmp / "rootfs" / "proc")], capture_output=True)
            shutil.rmtree(tmp, ignore_errors=True)
