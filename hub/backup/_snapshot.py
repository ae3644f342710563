"""What a backup holds, gathered as one consistent snapshot of a running hub.

Order matters: the databases are copied first (the gradebook with the
backup API or ``pg_dump``), and the course directory is read after, keeping
only the submissions the copied gradebook knows. A submission is stored
in the gradebook before its folder is renamed into place, so a folder the
copy lists but the walk has not yet seen is waited for; one that arrives
after the copy is left out, as the gradebook copy does not know it.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .._state import state_dir as _state_dir
from ._databases import (
    SUBMISSIONS_SQL,
    is_sqlite_file,
    safe_url,
    snapshot_postgres,
    snapshot_sqlite,
    sqlite_path,
    sqlite_rows,
)

__all__ = ["Item", "Snapshot", "list_homes", "take_snapshot"]

#: Names never archived: live SQLite side files, process ids.
_SKIP_SUFFIXES = ("-wal", "-shm", "-journal", ".pid")

#: Work folders of the course service, relative to the course directory.
_SKIP_COURSE_DIRS = {("submissions", ".incoming"), ("usecases", ".uploads")}


@dataclass
class Item:
    """One archive member: where it comes from and what it is."""

    name: str
    path: Path
    kind: str  # "file", "dir" or "symlink"
    size: int = 0
    #: The file whose mode and owners the member keeps (a database copy's original).
    origin: Path | None = None


@dataclass
class Snapshot:
    """The members of a backup and what the manifest says about them."""

    items: list = field(default_factory=list)
    databases: list = field(default_factory=list)
    homes: list = field(default_factory=list)
    sources: dict = field(default_factory=dict)
    #: (lab, submission id) -> {file name: (sha256, size)} from the gradebook copy.
    submissions: dict = field(default_factory=dict)
    results: int | None = None
    left_out: list = field(default_factory=list)

    @property
    def total_bytes(self):
        """Bytes of the regular files to archive."""
        return sum(i.size for i in self.items)


def _skipped_name(name):
    return name.endswith(_SKIP_SUFFIXES)


def _walk(root, prefix, snap, *, tmp, keep=None, skip=()):
    """Add ``root`` and everything under it as members named ``prefix/...``.

    SQLite databases are added as backup-API copies made in ``tmp``;
    sockets, FIFOs, devices and :data:`_SKIP_SUFFIXES` are skipped. ``keep``
    (relative parts -> bool) may refuse a directory.
    """
    root = Path(root)
    snap.items.append(Item(prefix, root, "dir"))
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        dirnames.sort()
        for d in list(dirnames):
            parts = (*rel.parts, d)
            path = Path(dirpath, d)
            if path in skip or (keep is not None and not keep(parts)):
                dirnames.remove(d)
                continue
            if path.is_symlink():  # os.walk does not follow it: store the link
                dirnames.remove(d)
                snap.items.append(Item(f"{prefix}/{'/'.join(parts)}", path, "symlink"))
                continue
            snap.items.append(Item(f"{prefix}/{'/'.join(parts)}", path, "dir"))
        for f in sorted(filenames):
            path = Path(dirpath, f)
            name = f"{prefix}/{'/'.join((*rel.parts, f))}"
            if path in skip or _skipped_name(f):
                continue
            try:
                st = os.lstat(path)
            except FileNotFoundError:  # removed meanwhile
                continue
            if stat.S_ISLNK(st.st_mode):
                snap.items.append(Item(name, path, "symlink"))
            elif stat.S_ISREG(st.st_mode):
                origin = None
                if is_sqlite_file(path):
                    copy = Path(tmp, f"db-{len(snap.items)}.sqlite")
                    snapshot_sqlite(path, copy)
                    origin, path, st = path, copy, os.stat(copy)
                snap.items.append(Item(name, path, "file", st.st_size, origin))


def _gradebook(settings, snap, tmp):
    """Copy the gradebook first; return its source path if it is a SQLite file."""
    from ..course import CourseConfig

    url = CourseConfig.from_settings(settings).gradebook_url
    snap.sources["gradebook_url"] = safe_url(url)
    path = sqlite_path(url)
    if path is None:
        dump = Path(tmp, "gradebook.pgdump")
        rows, results = snapshot_postgres(
            url, dump, sql=[SUBMISSIONS_SQL, "SELECT count(*) FROM results"]
        )
        snap.results = results[0][0]
        snap.items.append(Item("databases/gradebook.pgdump", dump, "file", dump.stat().st_size))
        snap.databases.append(
            {"role": "gradebook", "kind": "postgresql", "member": "databases/gradebook.pgdump"}
        )
    elif path.is_file():
        copy = Path(tmp, "gradebook.sqlite")
        snapshot_sqlite(path, copy)
        rows = sqlite_rows(copy, SUBMISSIONS_SQL)
        snap.results = sqlite_rows(copy, "SELECT count(*) FROM results")[0][0]
        member = _db_member(settings, path, "gradebook.sqlite")
        snap.items.append(Item(member, copy, "file", copy.stat().st_size, path))
        snap.databases.append({"role": "gradebook", "kind": "sqlite", "member": member})
    else:
        rows = []
    for sid, lab, name, sha, size in rows:
        snap.submissions.setdefault((lab, str(sid)), {})[name] = (sha, size)
    return path


def _db_member(settings, path, default_name):
    """Archive name of a SQLite database: inside ``state/`` if it lives there."""
    state = _state_dir(settings).resolve()
    try:
        return f"state/{path.resolve().relative_to(state).as_posix()}"
    except ValueError:
        return f"databases/{default_name}"


def _hub_db(settings, snap, tmp):
    """Copy the hub database; return its source path if it is a SQLite file."""
    url = settings["hub"]["db_url"].replace("{state_dir}", str(_state_dir(settings)))
    snap.sources["hub_db_url"] = safe_url(url)
    path = sqlite_path(url)
    if path is None:
        dump = Path(tmp, "hub.pgdump")
        snapshot_postgres(url, dump)
        snap.items.append(Item("databases/hub.pgdump", dump, "file", dump.stat().st_size))
        snap.databases.append(
            {"role": "hub", "kind": "postgresql", "member": "databases/hub.pgdump"}
        )
        return None
    if not path.is_file():
        return None
    copy = Path(tmp, "hub.sqlite")
    snapshot_sqlite(path, copy)
    member = _db_member(settings, path, "hub.sqlite")
    snap.items.append(Item(member, copy, "file", copy.stat().st_size, path))
    snap.databases.append({"role": "hub", "kind": "sqlite", "member": member})
    return path


def list_homes(prefix):
    """Return the learner accounts ``<prefix>*`` created by the sandbox, with their homes.

    Parameters
    ----------
    prefix : str
        ``local.user_prefix`` of the settings.

    Returns
    -------
    list of dict
        ``account``, ``uid``, ``gid``, ``group``, ``home``, ``comment``.
    """
    from ..system_users import is_managed

    homes = []
    for pw in sorted(pwd.getpwall(), key=lambda p: p.pw_name):
        if not pw.pw_name.startswith(prefix) or not is_managed(pw.pw_name):
            continue
        try:
            group = grp.getgrgid(pw.pw_gid).gr_name
        except KeyError:
            group = ""
        homes.append(
            {
                "account": pw.pw_name,
                "uid": pw.pw_uid,
                "gid": pw.pw_gid,
                "group": group,
                "home": pw.pw_dir,
                "comment": pw.pw_gecos,
            }
        )
    return homes


def take_snapshot(settings, settings_file, tmp, *, homes=False):
    """Copy the databases into ``tmp`` and list every member of the backup.

    Parameters
    ----------
    settings : dict
        Loaded settings of the hub to back up.
    settings_file : Path
        The file they came from (archived as ``settings/ai4scale.toml``).
    tmp : Path
        A private folder for the database copies (removed by the caller).
    homes : bool
        Also list the learners' home folders.

    Returns
    -------
    Snapshot
    """
    snap = Snapshot()
    state = _state_dir(settings)
    snap.sources.update(state_dir=str(state), settings_file=str(settings_file))
    settings_file = Path(settings_file)
    if settings_file.is_file():
        snap.items.append(
            Item("settings/ai4scale.toml", settings_file, "file", settings_file.stat().st_size)
        )
    done = {p for p in (_gradebook(settings, snap, tmp), _hub_db(settings, snap, tmp)) if p}
    skip = {settings_file, *done, Path(tmp)}

    def keep(parts):
        if parts[:1] != ("course",):
            return True
        if tuple(parts[1:3]) in _SKIP_COURSE_DIRS:
            return False
        if len(parts) == 4 and parts[1] == "submissions":
            if (parts[2], parts[3]) not in snap.submissions:
                snap.left_out.append("/".join(parts[1:]))
                return False
        return True

    if state.is_dir():
        _walk(state, "state", snap, tmp=tmp, keep=keep, skip=skip)
    labs = Path(settings["course"]["labs_dir"] or state / "labs")
    try:
        labs.resolve().relative_to(state.resolve())
    except ValueError:
        if labs.is_dir():
            snap.sources["labs_dir"] = str(labs)
            _walk(labs, "labs", snap, tmp=tmp)
    if homes:
        for account in list_homes(settings["local"]["user_prefix"]):
            if Path(account["home"]).is_dir():
                snap.homes.append(account)
                _walk(account["home"], f"homes/{account['account']}", snap, tmp=tmp)
    return snap
