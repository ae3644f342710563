"""The build context of the single-user image, assembled from the installed virtualenv.

The image must run what the hub machine runs: the same package versions and
the same installed copy of ``ai4scale``. So its inputs are read from the
virtualenv of the running ``ai4scale`` (never from a checkout, which also
holds the labs' solutions):

``requirements.txt``
    ``name==version`` of every distribution installed (``ai4scale-sandbox``
    excluded), as ``pip freeze --all`` gives.
``wheels/``
    exactly those wheels, from a wheelhouse filled by this machine's own pip
    (``pip wheel``: its index, certificate and proxy settings), so the build
    itself needs no package index -- the route of air-gapped administrations.
``site/``
    the installed ``ai4scale`` package and its ``.dist-info``, file modes
    included (learners read only what their kernels import).
``Dockerfile``
    ``hub/Dockerfile`` as installed.

:func:`input_digest` hashes all of it with the base image's id: the image's
tag, so a rebuild with unchanged inputs is skipped.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

from ._errors import ImageProblem, check_disk, raise_if_disk_full

__all__ = [
    "PROJECT_DIST",
    "WHEELHOUSE",
    "fill_wheelhouse",
    "input_digest",
    "installed_requirements",
    "requirements_digest",
    "site_digest",
    "write_context",
]

#: The sandbox's own distribution, copied as installed rather than from a wheel.
PROJECT_DIST = "ai4scale-sandbox"

#: Default wheelhouse: kept between builds, so only new versions are fetched.
WHEELHOUSE = "/var/cache/ai4scale/wheelhouse"


def _canonical(name):
    return name.lower().replace("_", "-").replace(".", "-")


def installed_requirements():
    """Return the ``name==version`` lines of the running virtualenv, sorted (``ai4scale`` excluded).

    Returns
    -------
    str
        One requirement per line, ending with a newline.
    """
    seen = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata.get("Name")
        if name and _canonical(name) != PROJECT_DIST:
            seen.setdefault(_canonical(name), f"{name}=={dist.version}")
    return "".join(f"{seen[key]}\n" for key in sorted(seen))


def requirements_digest(text=None):
    """Return the sha256 of :func:`installed_requirements` (or of ``text``)."""
    text = installed_requirements() if text is None else text
    return hashlib.sha256(text.encode()).hexdigest()


def _project_dirs():
    import ai4scale

    package = Path(ai4scale.__file__).parent
    dist = importlib.metadata.distribution(PROJECT_DIST)
    info = Path(dist._path)  # the .dist-info folder
    return package, info


def _site_files():
    for top in _project_dirs():
        for path in sorted(top.rglob("*")):
            rel = path.relative_to(top.parent)
            if "__pycache__" not in rel.parts and path.is_file():
                yield path, rel


def site_digest():
    """Return the sha256 of the installed ``ai4scale`` files: paths, modes and contents."""
    h = hashlib.sha256()
    for path, rel in _site_files():
        h.update(f"{rel}\0{path.stat().st_mode & 0o7777:o}\0".encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _dockerfile():
    return (resources.files("ai4scale.hub") / "Dockerfile").read_bytes()


def input_digest(*, base_id, requirements=None):
    """Return the hash of everything the image is built from.

    Parameters
    ----------
    base_id : str
        Id of the base image (``sha256:...``).
    requirements : str, optional
        Default: :func:`installed_requirements`.

    Returns
    -------
    str
        A sha256 hex digest; its first 12 characters tag the image.
    """
    h = hashlib.sha256()
    for part in (
        _dockerfile(),
        (installed_requirements() if requirements is None else requirements).encode(),
        site_digest().encode(),
        base_id.encode(),
    ):
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def _wheel_key(filename):
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        name, version, _, _ = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    return _canonical(str(name)), str(version)


def _wanted(requirements):
    out = {}
    for line in requirements.splitlines():
        name, _, version = line.partition("==")
        out[_canonical(name)] = version
    return out


def _pick_wheels(wheelhouse, wanted):
    from packaging.version import Version

    found = {}
    for path in sorted(Path(wheelhouse).glob("*.whl")):
        key = _wheel_key(path.name)
        if key and key[0] in wanted and Version(key[1]) == Version(wanted[key[0]]):
            found[key[0]] = path
    return found


def fill_wheelhouse(requirements, *, wheelhouse=WHEELHOUSE, say=print):
    """Make sure ``wheelhouse`` holds a wheel of every requirement; return {name: path}.

    Missing wheels are fetched (or built from source) by this machine's pip,
    with its own index and certificate settings.

    Raises
    ------
    ImageProblem
        pip failed (the message has its last lines), or the disk is full.
    """
    wheelhouse = Path(wheelhouse)
    wheelhouse.mkdir(parents=True, exist_ok=True)
    wanted = _wanted(requirements)
    found = _pick_wheels(wheelhouse, wanted)
    missing = sorted(set(wanted) - set(found))
    if missing:
        say(f"wheelhouse {wheelhouse}: fetching {len(missing)} of {len(wanted)} wheels with pip")
        check_disk(wheelhouse, 1 << 30, "the wheelhouse")
        reqs = wheelhouse / ".requirements.txt"
        reqs.write_text(requirements)
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "-q",
                "--no-deps",
                "-r",
                str(reqs),
                "-w",
                str(wheelhouse),
            ],
            capture_output=True,
            text=True,
        )
        if proc.returncode:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise_if_disk_full(tail, wheelhouse)
            raise ImageProblem(f"pip could not fetch the wheels into {wheelhouse}:\n{tail}")
        found = _pick_wheels(wheelhouse, wanted)
        still = sorted(set(wanted) - set(found))
        if still:
            raise ImageProblem(f"no wheel of {', '.join(still)} in {wheelhouse} after pip wheel")
    return found


def _link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def write_context(folder, *, requirements, wheels):
    """Write the build context into ``folder`` (empty or new).

    Parameters
    ----------
    folder : Path
    requirements : str
        From :func:`installed_requirements`.
    wheels : dict
        From :func:`fill_wheelhouse`.

    Raises
    ------
    ImageProblem
        The disk holding ``folder`` filled up; the folder is left for the caller to remove.
    """
    folder = Path(folder)
    try:
        (folder / "wheels").mkdir(parents=True)
        (folder / "Dockerfile").write_bytes(_dockerfile())
        (folder / "requirements.txt").write_text(requirements)
        for path in wheels.values():
            _link_or_copy(path, folder / "wheels" / path.name)
        for path, rel in _site_files():
            target = folder / "site" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        for d in sorted((folder / "site").rglob("*")):
            if d.is_dir():
                d.chmod(0o755)
    except OSError as e:
        raise_if_disk_full(str(e), folder)
        raise
