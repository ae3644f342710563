"""``restore_backup``: put a backup archive onto a (fresh) machine."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import tempfile
from pathlib import Path

from .._errors import UserError
from ._archive import iter_members, verify_archive
from ._databases import restore_postgres, safe_url

__all__ = ["restore_backup"]

_CHUNK = 1 << 20


def _non_empty(path):
    path = Path(path)
    return path.exists() and (not path.is_dir() or any(path.iterdir()))


def _rewrite_state_dir(text, old, new):
    """Replace the state directory ``old`` by ``new`` in the settings file's text."""
    if old == new:
        return text
    return re.sub(re.escape(old) + r'(?=["/])', new.replace("\\", "\\\\"), text)


def _owner(member, uid_map):
    """Return (uid, gid) for a member: by user name where it exists here, else mapped."""
    uid, gid = uid_map.get(member.uid, member.uid), None
    if member.uname:
        try:
            pw = pwd.getpwnam(member.uname)
            uid = pw.pw_uid
        except KeyError:
            pass
    if member.gname:
        import grp

        try:
            gid = grp.getgrnam(member.gname).gr_gid
        except KeyError:
            gid = None
    if gid is None:
        gid = uid_map.get(("gid", member.gid), member.gid)
    return uid, gid


def _inside(base, rel):
    """Return ``base/rel`` after checking it cannot leave ``base`` (no ``..``, no links)."""
    rel = Path(rel)
    if rel.is_absolute() or ".." in rel.parts:
        raise UserError(f"refusing an archive member outside its folder: {rel}")
    target = base / rel
    parent = target.parent
    if os.path.realpath(parent) != os.path.normpath(parent):
        raise UserError(f"refusing to write through a symbolic link: {target}")
    return target


def _write_member(member, f, target, uid_map):
    """Create ``target`` as ``member`` says (type, content, mode, owners)."""
    if member.isdir():
        target.mkdir(parents=True, exist_ok=True)
    elif member.issym():
        if target.is_symlink() or target.exists():
            target.unlink()
        os.symlink(member.linkname, target)
    elif member.isfile():
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(f, out, _CHUNK)
    else:
        return
    uid, gid = _owner(member, uid_map)
    os.chown(target, uid, gid, follow_symlinks=False)
    if not member.issym():
        os.chmod(target, member.mode)
        os.utime(target, (member.mtime, member.mtime))


def _ensure_accounts(manifest, actions):
    """Create the learners' system accounts that do not exist; return the uid/gid map."""
    from ..system_users import ensure_system_user

    uid_map = {}
    for account in manifest.get("homes") or []:
        name = account["account"]
        try:
            pw = pwd.getpwnam(name)
            actions.append(f"account {name} exists (uid {pw.pw_uid})")
        except KeyError:
            pw = ensure_system_user(name, comment=account.get("comment", ""))
            actions.append(f"created account {name} (uid {pw.pw_uid}, was {account['uid']})")
        uid_map[account["uid"]] = pw.pw_uid
        uid_map[("gid", account["gid"])] = pw.pw_gid
    return uid_map


def _targets(manifest, settings_file, state):
    """Where each top folder of the archive goes: {prefix: folder}."""
    from .._settings import load_settings

    settings = load_settings(settings_file) if Path(settings_file).is_file() else None
    targets = {"state": state}
    if "labs_dir" in manifest["sources"] and settings is not None:
        targets["labs"] = Path(settings["course"]["labs_dir"])
    for account in manifest.get("homes") or []:
        targets[f"homes/{account['account']}"] = Path(
            pwd.getpwnam(account["account"]).pw_dir
            if _account_exists(account["account"])
            else account["home"]
        )
    return settings, targets


def _account_exists(name):
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _database_url(role, settings, state):
    """Return the URL the restored settings give the gradebook or the hub database."""
    if role == "gradebook":
        from ..course import CourseConfig

        return CourseConfig.from_settings(settings).gradebook_url
    return settings["hub"]["db_url"].replace("{state_dir}", str(state))


def restore_backup(
    archive, *, settings_file, state_dir=None, force=False, homes=True, progress=None
):
    """Restore the archive ``archive`` (written by :func:`create_backup`).

    The archive is verified first (every sha256). Then the settings file is
    written (mode 0600, root's) with ``paths.state_dir`` -- and every path
    under the old state directory -- moved to ``state_dir`` if given; the
    state directory, databases (SQLite files as copied; PostgreSQL dumps
    loaded with ``pg_restore`` into the database the settings name), a labs
    folder outside the state directory and learners' homes (accounts created
    if missing, owners mapped by name) are written.

    Parameters
    ----------
    archive : str or Path
    settings_file : str or Path
        Where to write the settings (normally ``/etc/ai4scale/ai4scale.toml``).
    state_dir : str or Path, optional
        New state directory; default: the archived one.
    force : bool
        Write into a non-empty state directory and over an existing settings file.
    homes : bool
        Restore the learners' homes the archive holds (False: leave them as they are).
    progress : callable, optional
        ``progress(total=...)`` then ``progress(advance=n)`` (called twice over:
        verification, then writing).

    Returns
    -------
    list of str
        What was done, one line each.

    Raises
    ------
    UserError
        A corrupt archive, a sha256 that differs, a missing member, or a
        non-empty target without ``force``.
    """
    manifest = verify_archive(archive, progress=progress and (lambda n: progress(advance=n)))
    old_state = manifest["sources"]["state_dir"]
    state = Path(state_dir or old_state).absolute()
    settings_file = Path(settings_file).absolute()
    if not force:
        if _non_empty(state):
            raise UserError(f"{state} is not empty: restore into an empty folder, or add --force")
        if settings_file.exists():
            raise UserError(f"{settings_file} exists: add --force to replace it")
    actions = [f"verified {len(manifest['members'])} members of {archive}"]
    if not homes and manifest.get("homes"):
        manifest = dict(manifest, homes=[])
        actions.append("learners' homes left as they are (--no-homes)")
    tmp = Path(tempfile.mkdtemp(prefix=".ai4scale-restore-"))
    try:
        os.chmod(tmp, 0o700)
        _restore_settings(archive, settings_file, old_state, state, actions)
        uid_map = _ensure_accounts(manifest, actions)
        settings, targets = _targets(manifest, settings_file, state)
        dumps = {d["member"]: d for d in manifest["included"]["databases"]}
        state.mkdir(parents=True, exist_ok=True)
        os.chmod(state, 0o700)
        if progress:
            progress(total=sum(m.get("size", 0) for m in manifest["members"]))
        counts = {}
        for _, member, f in iter_members(archive):
            top = _top(member.name, targets)
            if member.name in dumps or member.name.startswith("databases/"):
                _restore_database(member, f, dumps.get(member.name), settings, state, tmp, actions)
            elif top is not None:
                rel = member.name[len(top) :].lstrip("/")
                target = _inside(targets[top], rel) if rel else targets[top]
                _write_member(member, f, target, uid_map)
                counts[top] = counts.get(top, 0) + 1
            if progress and f is not None:
                progress(advance=member.size)
        os.chmod(state, 0o700)  # root only, whatever the source's mode was
        for top, n in sorted(counts.items()):
            actions.append(f"wrote {n} files and folders of {top}/ into {targets[top]}")
        if settings is None:
            actions.append("the archive holds no settings file: none written")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return actions


def _top(name, targets):
    """Return the longest target prefix of a member name, or None."""
    best = None
    for prefix in targets:
        if name == prefix or name.startswith(prefix + "/"):
            if best is None or len(prefix) > len(best):
                best = prefix
    return best


def _restore_settings(archive, settings_file, old_state, state, actions):
    for _, member, f in iter_members(archive, verify=False):
        if member.name != "settings/ai4scale.toml":
            if f is not None:
                f.drain()
            continue
        text = _rewrite_state_dir(f.read().decode(), old_state, str(state))
        settings_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(settings_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.chown(settings_file, 0, 0)
        os.chmod(settings_file, 0o600)
        moved = f" (state_dir {old_state} -> {state})" if old_state != str(state) else ""
        actions.append(f"wrote settings {settings_file} (mode 0600, root){moved}")
        return
    return


def _restore_database(member, f, info, settings, state, tmp, actions):
    if member.isdir() or f is None:
        return
    if settings is None:
        raise UserError("the archive holds a database but no settings to say where it goes")
    role = info["role"] if info else Path(member.name).stem
    url = _database_url(role, settings, state)
    if member.name.endswith(".pgdump"):
        dump = Path(tmp, Path(member.name).name)
        with open(dump, "wb") as out:
            shutil.copyfileobj(f, out, _CHUNK)
        if url.startswith("sqlite"):
            raise UserError(
                f"the {role} database was PostgreSQL, but the settings here name "
                f"{safe_url(url)}: set the PostgreSQL URL, create the database, and restore again"
            )
        restore_postgres(url, dump)
        actions.append(f"loaded the {role} database into {safe_url(url)} (pg_restore)")
        return
    from ._databases import sqlite_path

    path = sqlite_path(url)
    if path is None:
        raise UserError(
            f"the {role} database was SQLite, but the settings here name {safe_url(url)}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_member(member, f, path, {})
    actions.append(f"wrote the {role} database {path}")
