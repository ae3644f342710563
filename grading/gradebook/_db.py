"""Engines and migrations of the gradebook database.

SQLite (the default) runs in WAL mode with foreign keys on, a busy timeout,
and ``BEGIN IMMEDIATE`` transactions, so that several grading workers may
write at once: a writer waits for the lock instead of failing with "database
is locked". PostgreSQL is used through psycopg 3 (``postgresql://`` URLs).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import make_url

__all__ = [
    "MIGRATIONS_DIR",
    "VERSION_TABLE",
    "alembic_config",
    "make_engine",
    "normalize_url",
    "upgrade",
]

#: The Alembic scripts, shipped inside the package.
MIGRATIONS_DIR = Path(__file__).parent / "migrations"

#: Alembic's bookkeeping table, named apart from the hub's ``alembic_version``
#: so that the gradebook may live in the hub's PostgreSQL database.
VERSION_TABLE = "gradebook_alembic_version"

#: Milliseconds a SQLite writer waits for the lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 60_000


def normalize_url(url):
    """Return ``url`` with the driver the gradebook uses.

    Parameters
    ----------
    url : str or sqlalchemy.engine.URL
        A SQLAlchemy URL; ``postgresql://`` gets the psycopg 3 driver.

    Returns
    -------
    sqlalchemy.engine.URL
    """
    url = make_url(url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def _sqlite_on_connect(dbapi_connection, _record):
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own
    # deferred BEGIN would upgrade read locks and fail without waiting).
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.close()


def _sqlite_on_begin(conn):
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url, *, echo=False):
    """Create an engine for the gradebook at ``url``.

    Parameters
    ----------
    url : str or sqlalchemy.engine.URL
        ``sqlite:///path/to/gradebook.sqlite`` or ``postgresql://user:pw@host/db``.
    echo : bool
        Log every SQL statement.

    Returns
    -------
    sqlalchemy.engine.Engine
    """
    url = normalize_url(url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


def alembic_config(engine=None):
    """Return an Alembic Config for the packaged migrations (no alembic.ini).

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine, optional
        Engine the migrations run on (``env.py`` reads it from
        ``config.attributes["engine"]``).

    Returns
    -------
    alembic.config.Config
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("version_table", VERSION_TABLE)
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade(engine, revision="head"):
    """Migrate the database of ``engine`` to ``revision`` (default: the newest).

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
    revision : str
    """
    from alembic import command

    command.upgrade(alembic_config(engine), revision)
