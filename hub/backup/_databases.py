"""Consistent copies of live databases: SQLite's online backup API and ``pg_dump``.

A SQLite file in use is never copied as a file (its ``-wal`` may hold the
newest transactions): :func:`snapshot_sqlite` asks SQLite for a copy taken
in one read transaction. A PostgreSQL database is dumped by ``pg_dump`` in
custom format inside an exported snapshot, so that the rows read here
(which submissions exist) are exactly those in the dump.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from .._errors import UserError

__all__ = [
    "SQLITE_MAGIC",
    "is_sqlite_file",
    "pg_env",
    "restore_postgres",
    "safe_url",
    "snapshot_postgres",
    "snapshot_sqlite",
    "sqlite_path",
]

#: The first 16 bytes of every SQLite 3 database file.
SQLITE_MAGIC = b"SQLite format 3\0"

#: The submissions of a gradebook and their files, as the gradebook records them.
SUBMISSIONS_SQL = (
    "SELECT s.id, l.slug, f.path, f.sha256, f.size FROM submissions s "
    "JOIN labs l ON l.id = s.lab_id JOIN submission_files f ON f.submission_id = s.id"
)


def is_sqlite_file(path):
    """Return whether ``path`` is a SQLite 3 database (by its header)."""
    try:
        with open(path, "rb") as f:
            return f.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def sqlite_path(url):
    """Return the file of a ``sqlite:///`` URL, or None for another database."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return None
    if not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def safe_url(url):
    """Return ``url`` with its password hidden, for the manifest and messages."""
    return make_url(url).render_as_string(hide_password=True)


def snapshot_sqlite(source, dest):
    """Copy the live SQLite database ``source`` to ``dest`` with the backup API.

    The copy is made in one step (one read transaction), so it is the
    database as of one instant even while writers commit; with WAL they are
    not blocked meanwhile. The copy is checked with ``PRAGMA quick_check``.

    Parameters
    ----------
    source, dest : str or Path

    Raises
    ------
    UserError
        The source is not a readable database or the copy is damaged.
    """
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=60)
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
            # A snapshot is a plain file: no -wal beside it when it is archived.
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
            src.close()
    except sqlite3.Error as e:
        raise UserError(f"cannot copy the database {source}: {e}") from None
    if check != "ok":
        raise UserError(f"the copy of {source} fails SQLite's check: {check}")
    os.chmod(dest, 0o600)


def sqlite_rows(path, sql):
    """Return the rows of ``sql`` on the SQLite file ``path`` (read-only)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def pg_env(url):
    """Return the libpq environment for ``url`` (the password never on a command line).

    Parameters
    ----------
    url : str
        ``postgresql://`` (or ``postgresql+psycopg://``) URL.

    Returns
    -------
    dict
        ``PGHOST``, ``PGPORT``, ``PGUSER``, ``PGPASSWORD``, ``PGDATABASE`` as set.
    """
    u = make_url(url)
    env = {
        "PGHOST": u.host,
        "PGPORT": str(u.port) if u.port else None,
        "PGUSER": u.username,
        "PGPASSWORD": u.password,
        "PGDATABASE": u.database,
    }
    sslmode = u.query.get("sslmode")
    if sslmode:
        env["PGSSLMODE"] = sslmode
    return {k: v for k, v in env.items() if v}


def _tool(name):
    path = shutil.which(name)
    if path is None:
        raise UserError(
            f"{name} is not installed: a PostgreSQL database needs PostgreSQL's "
            "client tools (apt-get install postgresql-client)"
        )
    return path


def snapshot_postgres(url, dest, *, sql=None):
    """Dump the PostgreSQL database at ``url`` into ``dest`` (custom format).

    The dump and the optional query ``sql`` see the same snapshot: a
    repeatable-read transaction exports it and ``pg_dump --snapshot`` uses it.

    Parameters
    ----------
    url : str
    dest : str or Path
    sql : list of str, optional
        Queries answered from the dumped state (e.g. the submissions).

    Returns
    -------
    list
        The rows of each query of ``sql``.
    """
    import psycopg

    pg_dump = _tool("pg_dump")
    env = pg_env(url)
    u = make_url(url)
    params = {
        "host": u.host,
        "port": u.port,
        "user": u.username,
        "password": u.password,
        "dbname": u.database,
    }
    try:
        conn = psycopg.connect(**{k: v for k, v in params.items() if v is not None})
    except psycopg.Error as e:
        raise UserError(f"cannot connect to {safe_url(url)}: {e}") from None
    try:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        rows = []
        for query in sql or ():
            try:
                rows.append(conn.execute(query).fetchall())
            except psycopg.errors.UndefinedTable:
                conn.rollback()
                raise UserError(f"{safe_url(url)} holds no gradebook") from None
        proc = subprocess.run(
            [
                pg_dump,
                "--format=custom",
                f"--snapshot={snapshot}",
                f"--file={dest}",
                f"--dbname={u.database}",
            ],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise UserError(f"pg_dump of {safe_url(url)} failed: {proc.stderr.strip()}")
        conn.rollback()
    finally:
        conn.close()
    os.chmod(dest, 0o600)
    return rows


def restore_postgres(url, dump):
    """Load a custom-format dump into the database at ``url`` (replacing its objects).

    Parameters
    ----------
    url : str
        The database, which must exist (``createdb`` it first on a new server).
    dump : str or Path
        A file written by :func:`snapshot_postgres`.
    """
    pg_restore = _tool("pg_restore")
    proc = subprocess.run(
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--exit-on-error",
            f"--dbname={make_url(url).database}",
            str(dump),
        ],
        env={**os.environ, **pg_env(url), "PGOPTIONS": "--client-min-messages=warning"},
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise UserError(f"pg_restore into {safe_url(url)} failed: {proc.stderr.strip()}")
