"""The backup archive: a ``.tar.zst`` whose first member is ``manifest.json``.

Writing streams every file once: the members go through a zstd stream
writer into a hidden body file beside the output while their sha256 is
taken; then the output is one zstd frame holding the manifest's tar member
followed by the body's frames, copied byte for byte. Concatenated zstd
frames are one stream to ``zstd -d`` and ``tar --zstd``, so the result is
an ordinary tarball with the manifest first. Nothing is held in memory but
one chunk and the manifest.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
from pathlib import Path

import zstandard

from .._errors import UserError

__all__ = [
    "MANIFEST_NAME",
    "ArchiveError",
    "ArchiveWriter",
    "iter_members",
    "read_manifest",
    "verify_archive",
]

#: Name of the first member.
MANIFEST_NAME = "manifest.json"

#: Version of the manifest's layout.
FORMAT_VERSION = 1

_CHUNK = 1 << 20


class ArchiveError(UserError):
    """The archive is unreadable, incomplete or does not match its manifest."""


class _HashingReader:
    """Read exactly ``size`` bytes of a file, hashing them.

    A file that shrank while being read is padded with zero bytes (and
    ``short`` is set), so the tar member keeps the size its header
    announced; the hash is of the bytes stored, so the manifest always
    matches the archive.
    """

    def __init__(self, f, size):
        self._f = f
        self._left = size
        self.digest = hashlib.sha256()
        self.short = False

    def read(self, n=-1):
        if self._left <= 0:
            return b""
        n = self._left if n is None or n < 0 else min(n, self._left)
        data = self._f.read(n)
        if len(data) < n:
            self.short = True
            data += b"\0" * (n - len(data))
        self._left -= len(data)
        self.digest.update(data)
        return data


class ArchiveWriter:
    """Write a backup archive member by member, the manifest first at the end.

    Parameters
    ----------
    path : str or Path
        The ``.tar.zst`` to create (replaced atomically when :meth:`close`
        succeeds; nothing is left behind on failure).
    level : int
        zstd compression level.

    Examples
    --------
    >>> with ArchiveWriter("out.tar.zst") as w:  # doctest: +SKIP
    ...     w.add_file("state/gradebook.sqlite", "/tmp/snap/gradebook.sqlite")
    ...     w.finish({"ai4scale_version": "0.1"})
    """

    def __init__(self, path, *, level=10):
        self.path = Path(path)
        self.members = []
        self.changed = []
        self._body_path = self.path.with_name(f".{self.path.name}.body")
        self._raw = open(self._body_path, "wb")
        os.chmod(self._body_path, 0o600)
        cctx = zstandard.ZstdCompressor(level=level, threads=-1, write_checksum=True)
        self._zw = cctx.stream_writer(self._raw, closefd=False)
        self._tar = tarfile.open(fileobj=self._zw, mode="w|", format=tarfile.PAX_FORMAT)
        self._done = False

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if not self._done:
            self.abort()

    @staticmethod
    def _info(name, st, *, owners):
        info = tarfile.TarInfo(name)
        info.mode = st.st_mode & 0o7777
        info.mtime = int(st.st_mtime)
        if owners:
            info.uid, info.gid = st.st_uid, st.st_gid
            info.uname = _user_name(st.st_uid)
            info.gname = _group_name(st.st_gid)
        else:
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
        return info

    def add_dir(self, name, path, *, owners=False):
        """Add a directory entry ``name`` with the mode (and owners) of ``path``."""
        info = self._info(name, os.lstat(path), owners=owners)
        info.type = tarfile.DIRTYPE
        self._tar.addfile(info)
        self.members.append(_entry(info))

    def add_symlink(self, name, path, *, owners=False):
        """Add the symbolic link ``path`` (its target is not followed)."""
        info = self._info(name, os.lstat(path), owners=owners)
        info.type = tarfile.SYMTYPE
        info.linkname = os.readlink(path)
        self._tar.addfile(info)
        self.members.append(_entry(info))

    def add_file(self, name, path, *, owners=False, origin=None):
        """Add the regular file ``path`` as ``name``; return its sha256.

        The size is taken when the file is opened; a file that grows
        meanwhile is stored up to that size, one that shrinks is padded
        and listed in :attr:`changed`. ``origin`` (a database copy's
        original) gives the mode and owners instead of ``path``.
        """
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            meta = st
            if origin is not None:
                try:
                    meta = os.stat(origin)
                except OSError:
                    pass
            info = self._info(name, meta, owners=owners)
            info.size = st.st_size
            reader = _HashingReader(f, st.st_size)
            self._tar.addfile(info, reader)
        if reader.short:
            self.changed.append(name)
        entry = _entry(info, reader.digest.hexdigest())
        self.members.append(entry)
        return entry["sha256"]

    def finish(self, manifest):
        """Write the manifest first, then the members; replace :attr:`path`.

        Parameters
        ----------
        manifest : dict
            Everything but ``members`` and ``format`` (added here).

        Returns
        -------
        dict
            The manifest as written.
        """
        self._tar.close()
        self._zw.flush(zstandard.FLUSH_FRAME)
        self._zw.close()
        self._raw.close()
        manifest = dict(manifest, format=FORMAT_VERSION, members=self.members)
        data = json.dumps(manifest, indent=1, sort_keys=True).encode()
        info = tarfile.TarInfo(MANIFEST_NAME)
        info.size = len(data)
        info.mode = 0o600
        info.mtime = int(manifest.get("created_epoch", 0))
        block = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape") + data
        block += b"\0" * (-len(block) % tarfile.BLOCKSIZE)
        tmp = self.path.with_name(f".{self.path.name}.part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out, open(self._body_path, "rb") as body:
            out.write(zstandard.ZstdCompressor(level=10, write_checksum=True).compress(block))
            shutil.copyfileobj(body, out, _CHUNK)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
        self._body_path.unlink()
        self._done = True
        return manifest

    def abort(self):
        """Close and remove the partial files."""
        for close in (self._tar.close, self._zw.close, self._raw.close):
            try:
                close()
            except Exception:  # already failing: keep the first error
                pass
        self._body_path.unlink(missing_ok=True)
        self.path.with_name(f".{self.path.name}.part").unlink(missing_ok=True)
        self._done = True


def _user_name(uid):
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return ""


def _group_name(gid):
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return ""


def _entry(info, sha256=None):
    kind = {tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink"}.get(info.type, "file")
    entry = {"name": info.name, "type": kind, "mode": info.mode}
    if kind == "file":
        entry.update(size=info.size, sha256=sha256)
    if kind == "symlink":
        entry["target"] = info.linkname
    if info.uname != "root" or info.uid:
        entry.update(uid=info.uid, gid=info.gid, owner=info.uname)
    return entry


def _open_tar(path):
    """Return (raw file, tarfile) reading ``path`` as one stream."""
    path = Path(path)
    if not path.is_file():
        raise ArchiveError(f"no such archive: {path}")
    raw = open(path, "rb")
    reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    try:
        tar = tarfile.open(fileobj=reader, mode="r|")
    except (tarfile.TarError, zstandard.ZstdError, OSError) as e:
        raw.close()
        raise ArchiveError(f"{path} is not a backup archive (.tar.zst): {e}") from None
    return raw, tar


def _read_manifest_member(tar, member, path):
    if member is None or member.name != MANIFEST_NAME:
        raise ArchiveError(f"{path}: the first member is not {MANIFEST_NAME}")
    try:
        manifest = json.loads(tar.extractfile(member).read())
    except ValueError as e:
        raise ArchiveError(f"{path}: unreadable {MANIFEST_NAME}: {e}") from None
    if manifest.get("format") != FORMAT_VERSION:
        raise ArchiveError(
            f"{path}: manifest format {manifest.get('format')!r}, expected {FORMAT_VERSION}"
        )
    return manifest


def read_manifest(path):
    """Return the manifest of the archive at ``path`` (its first member only).

    Raises
    ------
    ArchiveError
        Not a backup archive.
    """
    raw, tar = _open_tar(path)
    try:
        return _read_manifest_member(tar, _next(tar, path), path)
    finally:
        raw.close()


def _next(tar, path):
    try:
        return tar.next()
    except (tarfile.TarError, zstandard.ZstdError, OSError, EOFError) as e:
        raise ArchiveError(f"{path} is corrupt: {e}") from None


def iter_members(path, *, verify=True):
    """Yield ``(manifest, member, fileobj)`` for every member after the manifest.

    ``fileobj`` (regular files only, else None) must be read before the next
    item. With ``verify``, a member whose sha256 or size differs from the
    manifest, a member the manifest does not list, and a listed member that
    never comes raise :class:`ArchiveError` naming it.

    Parameters
    ----------
    path : str or Path
    verify : bool

    Yields
    ------
    tuple of (dict, tarfile.TarInfo, file or None)
    """
    raw, tar = _open_tar(path)
    try:
        manifest = _read_manifest_member(tar, _next(tar, path), path)
        expected = {m["name"]: m for m in manifest["members"]}
        seen = set()
        while (member := _next(tar, path)) is not None:
            listed = expected.get(member.name)
            if verify and listed is None:
                raise ArchiveError(f"{path}: {member.name} is not in the manifest")
            if member.name in seen:
                raise ArchiveError(f"{path}: {member.name} appears twice")
            seen.add(member.name)
            if not member.isfile():
                yield manifest, member, None
                continue
            f = _CheckedReader(tar.extractfile(member), member.name, path)
            yield manifest, member, f
            f.drain()
            if verify:
                if member.size != listed.get("size"):
                    raise ArchiveError(
                        f"{path}: {member.name} has {member.size} bytes, "
                        f"the manifest says {listed.get('size')}"
                    )
                if f.digest.hexdigest() != listed.get("sha256"):
                    raise ArchiveError(f"{path}: {member.name} does not match its sha256")
        missing = sorted(set(expected) - seen)
        if verify and missing:
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise ArchiveError(f"{path}: missing from the archive: {', '.join(missing[:5])}{more}")
    finally:
        raw.close()


class _CheckedReader(io.RawIOBase):
    """A member's data, hashed as it is read (errors become ArchiveError)."""

    def __init__(self, f, name, path):
        self._f = f
        self._name = name
        self._path = path
        self.digest = hashlib.sha256()

    def readable(self):
        return True

    def read(self, n=-1):
        try:
            data = self._f.read(n)
        except (tarfile.TarError, zstandard.ZstdError, OSError, EOFError) as e:
            raise ArchiveError(f"{self._path} is corrupt in {self._name}: {e}") from None
        self.digest.update(data)
        return data

    def readinto(self, b):
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def drain(self):
        while self.read(_CHUNK):
            pass


def verify_archive(path, *, progress=None):
    """Check every member of the archive at ``path`` against its manifest.

    Parameters
    ----------
    path : str or Path
    progress : callable, optional
        Called with the byte count of each file member read.

    Returns
    -------
    dict
        The manifest.

    Raises
    ------
    ArchiveError
        Corrupt archive, a sha256 or size that differs, a member missing or
        not listed; the message names the member.
    """
    for _manifest, member, f in iter_members(path):
        if f is not None:
            f.drain()
            if progress:
                progress(member.size)
    # iter_members has checked that nothing is missing, even with no members.
    return read_manifest(path)
