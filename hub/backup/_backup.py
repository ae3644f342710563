"""``create_backup``: one consistent ``.tar.zst`` of a (running) hub."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

from .._errors import UserError
from ._archive import ArchiveWriter
from ._snapshot import take_snapshot

__all__ = ["create_backup"]

#: Seconds to wait for a submission's folder the gradebook copy lists but the
#: walk did not find (the service stores the row, then renames the folder).
SUBMISSION_WAIT_SECONDS = 10


def _submission_files(snap):
    """``{member name: (sha256, size)}`` of every file the gradebook copy lists."""
    files = {}
    for (lab, sid), names in snap.submissions.items():
        for name, (sha, size) in names.items():
            files[f"state/course/submissions/{lab}/{sid}/{name}"] = (sha, size)
    return files


def _add_late_submissions(writer, snap, state, expected, progress):
    """Add the submission files the walk missed, waiting for folders being renamed in."""
    have = {m["name"] for m in writer.members}
    missing = [name for name in expected if name not in have]
    deadline = time.monotonic() + SUBMISSION_WAIT_SECONDS
    while missing and time.monotonic() < deadline:
        still = []
        for name in missing:
            path = Path(state, name.removeprefix("state/"))
            if not path.is_file():
                still.append(name)
                continue
            for parent in reversed(Path(name).parents[:-2]):  # below state/
                if str(parent) not in have:
                    writer.add_dir(str(parent), Path(state, *parent.parts[1:]), owners=True)
                    have.add(str(parent))
            writer.add_file(name, path, owners=True)
            have.add(name)
            if progress:
                progress(path.stat().st_size)
        missing = still
        if missing:
            time.sleep(0.2)
    return missing


def create_backup(settings, settings_file, out, *, homes=False, level=10, progress=None):
    """Write a backup of the hub of ``settings`` to ``out`` (``.tar.zst``).

    The gradebook and the hub database are copied first (SQLite's online
    backup API, or ``pg_dump`` in one snapshot); then the state directory
    (course directory with releases, submissions, collected versions,
    feedback and use cases; accounts; secrets), the settings file, a labs
    folder kept outside the state directory and, with ``homes``, the
    learners' home folders with their owners and modes. Submissions newer
    than the gradebook copy are left out, so every submission in the
    archive is in its gradebook and the other way round.

    Parameters
    ----------
    settings : dict
        Loaded settings of the hub.
    settings_file : str or Path
        The file they were loaded from.
    out : str or Path
        The archive to write (replaced only once complete).
    homes : bool
        Include the home folders of the accounts ``<local.user_prefix>*``.
    level : int
        zstd level (1 fast .. 19 small).
    progress : callable, optional
        ``progress(total=...)`` once, then ``progress(advance=n)`` per file.

    Returns
    -------
    dict
        The manifest (members, sources, what was included, checks).

    Raises
    ------
    UserError
        A database cannot be copied, the output folder does not exist, or a
        submission the gradebook lists is missing or differs from its sha256.
    """
    from ai4scale import __version__

    out = Path(out).absolute()
    if not out.parent.is_dir():
        raise UserError(f"no such folder: {out.parent}")
    state = Path(settings["paths"]["state_dir"])
    started = time.time()
    tmp = Path(tempfile.mkdtemp(prefix=".ai4scale-backup-", dir=out.parent))
    try:
        os.chmod(tmp, 0o700)
        snap = take_snapshot(settings, settings_file, tmp, homes=homes)
        if progress:
            progress(total=snap.total_bytes)
        expected = _submission_files(snap)
        with ArchiveWriter(out, level=level) as writer:
            for item in snap.items:
                if item.kind == "dir":
                    writer.add_dir(item.name, item.path, owners=True)
                elif item.kind == "symlink":
                    writer.add_symlink(item.name, item.path, owners=True)
                else:
                    writer.add_file(item.name, item.path, owners=True, origin=item.origin)
                    if progress:
                        progress(advance=item.size)
            missing = _add_late_submissions(writer, snap, state, expected, progress)
            hashes = {m["name"]: m for m in writer.members if m["type"] == "file"}
            differ = sorted(
                n for n in expected if n in hashes and hashes[n]["sha256"] != expected[n][0]
            )
            if missing or differ:
                raise UserError(
                    "the course directory does not match the gradebook: "
                    + "; ".join(
                        [f"missing {n}" for n in missing[:5]]
                        + [f"sha256 differs: {n}" for n in differ[:5]]
                    )
                )
            now = dt.datetime.now(dt.UTC)
            manifest = writer.finish(
                {
                    "ai4scale_version": __version__,
                    "created": now.isoformat(timespec="seconds"),
                    "created_epoch": int(now.timestamp()),
                    "seconds": round(time.time() - started, 2),
                    "host": socket.gethostname(),
                    "sources": snap.sources,
                    "included": {
                        "settings": any(i.name.startswith("settings/") for i in snap.items),
                        "state_dir": state.is_dir(),
                        "databases": snap.databases,
                        "labs_outside_state": "labs_dir" in snap.sources,
                        "homes": [h["account"] for h in snap.homes] if homes else None,
                    },
                    "homes": snap.homes,
                    "gradebook": {
                        "submissions": len(snap.submissions),
                        "submission_files": len(expected),
                        "results": snap.results,
                        "newer_submissions_left_out": sorted(snap.left_out),
                    },
                    "changed_while_read": writer.changed,
                }
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest
