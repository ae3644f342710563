"""``ai4scale gradebook``: migrate and export the gradebook database."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ai4scale.hub._errors import UserError

__all__ = ["default_url", "register", "run_export", "run_upgrade"]

#: Environment variable naming the gradebook database (a SQLAlchemy URL).
URL_ENV = "AI4SCALE_GRADEBOOK_URL"


def register(subparsers):
    """Add the ``gradebook`` subcommand group."""
    p = subparsers.add_parser(
        "gradebook",
        help="export grades, migrate the gradebook database",
        description="The gradebook: every submission and its scores.",
    )
    sub = p.add_subparsers(dest="gradebook_command", metavar="ACTION", required=True)
    db_help = (
        f"SQLAlchemy URL of the gradebook (default: ${URL_ENV}, else "
        "sqlite:///<state_dir>/gradebook.sqlite); postgresql:// URLs use psycopg 3"
    )

    export = sub.add_parser(
        "export",
        help="write the grades: one row per learner, one column per lab and item",
        description=(
            "Write one row per learner and, per lab, a '<lab>:total' column, a '<lab>:flags' "
            "column (tampered, values that lie, setup failed, to review; empty: none) and a "
            "'<lab>:<item>' column per item. Manual scores override automatic ones; "
            "a team's submission counts for each member; empty cell: no score."
        ),
    )
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--output", "-o", metavar="FILE", help="output file (default: stdout)")
    export.add_argument(
        "--lab", action="append", metavar="LAB", help="only this lab (repeatable; default: all)"
    )
    export.add_argument("--db", metavar="URL", help=db_help)
    export.set_defaults(func=run_export)

    up = sub.add_parser(
        "upgrade",
        help="create or migrate the gradebook schema (alembic upgrade head)",
        description="Create the gradebook database or migrate it to the newest schema.",
    )
    up.add_argument("--db", metavar="URL", help=db_help)
    up.set_defaults(func=run_upgrade)


def default_url(config=None):
    """Return the gradebook URL: ``$AI4SCALE_GRADEBOOK_URL`` or one in the state dir.

    Parameters
    ----------
    config : str, optional
        Settings file (the global ``--config``).

    Returns
    -------
    str
    """
    if os.environ.get(URL_ENV):
        return os.environ[URL_ENV]
    from ai4scale.hub._settings import load_settings
    from ai4scale.hub._state import state_dir

    return f"sqlite:///{state_dir(load_settings(config)) / 'gradebook.sqlite'}"


def _gradebook(args, *, must_exist):
    from sqlalchemy.exc import ArgumentError

    from .gradebook import Gradebook, normalize_url

    url = args.db or default_url(getattr(args, "config", None))
    try:
        parsed = normalize_url(url)
    except ArgumentError as e:
        raise UserError(f"not a database URL: {url!r}") from e
    if must_exist and parsed.get_backend_name() == "sqlite":
        if not parsed.database or not Path(parsed.database).exists():
            raise UserError(f"no gradebook at {parsed.database}: run `ai4scale gradebook upgrade`")
    return Gradebook(url)


def run_upgrade(args):
    """Create or migrate the gradebook schema."""
    with _gradebook(args, must_exist=False) as gb:
        gb.upgrade()
        print(f"gradebook schema up to date: {gb.engine.url.render_as_string()}", file=sys.stderr)
    return 0


def run_export(args):
    """Write the gradebook as CSV or JSON."""
    from .gradebook import export_csv, export_json

    write = export_csv if args.format == "csv" else export_json
    with _gradebook(args, must_exist=True) as gb:
        if not gb.current_revision():
            raise UserError("the gradebook has no schema: run `ai4scale gradebook upgrade`")
        try:
            if args.output:
                with open(args.output, "w", newline="", encoding="utf-8") as f:
                    write(gb, f, labs=args.lab)
            else:
                write(gb, sys.stdout, labs=args.lab)
        except KeyError as e:
            raise UserError(e.args[0]) from e
    return 0
