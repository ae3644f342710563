"""Backup and restore of a hub: one ``.tar.zst`` with a manifest of sha256 sums.

:func:`create_backup` takes a consistent snapshot of a running hub (the
gradebook and hub database through SQLite's online backup API or
``pg_dump``, then the state directory, settings and optionally learners'
homes); :func:`verify_archive` checks an archive against its manifest;
:func:`restore_backup` puts it onto a fresh machine.
"""

from ._archive import MANIFEST_NAME, ArchiveError, read_manifest, verify_archive
from ._backup import create_backup
from ._restore import restore_backup
from ._snapshot import list_homes

__all__ = [
    "MANIFEST_NAME",
    "ArchiveError",
    "create_backup",
    "list_homes",
    "read_manifest",
    "restore_backup",
    "verify_archive",
]
