"""``ai4scale roster``: import the course roster, show it."""

from __future__ import annotations

from ._settings import load_settings

__all__ = ["register", "run_import", "run_show"]


def register(subparsers):
    """Add the ``roster`` subcommand group."""
    p = subparsers.add_parser(
        "roster",
        help="import or show the course roster",
        description="The roster (CSV: username,full_name,role,team) says who may log in.",
    )
    sub = p.add_subparsers(dest="roster_command", metavar="ACTION", required=True)

    imp = sub.add_parser(
        "import",
        help="make the accounts match a roster CSV file",
        description=(
            "The file is the whole roster: new members are added, changed ones "
            "updated, members missing from the file removed. A file with any bad "
            "line is refused whole. A running hub is updated at once."
        ),
    )
    imp.add_argument(
        "file", metavar="FILE", help="roster CSV with header username,full_name,role,team"
    )
    imp.add_argument(
        "--dry-run", action="store_true", help="show what would change; change nothing"
    )
    imp.set_defaults(func=run_import)

    show = sub.add_parser("show", help="list the roster")
    show.set_defaults(func=run_show)


def _names(names, limit=12):
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def run_import(args):
    """Import the roster file; update a running hub."""
    from rich.console import Console

    from .accounts import AccountStore
    from .hubapi import HubSyncError, sync_hub
    from .roster import read_roster

    console = Console()
    settings = load_settings(args.config)
    entries = read_roster(args.file)
    store = AccountStore.from_settings(settings, create=not args.dry_run)
    if store is None:  # a dry run before the first import: compare with an empty roster
        store = AccountStore("sqlite://")
    try:
        report = store.import_roster(entries, dry_run=args.dry_run)
        prefix = "dry run, nothing changed: would be " if args.dry_run else "roster imported: "
        console.print(prefix + report.summary(), highlight=False)
        for label, names in (
            ("added", report.added),
            ("updated", report.updated),
            ("removed", report.removed),
        ):
            if names:
                console.print(f"  {label}: {_names(names)}", highlight=False)
        if args.dry_run:
            return 0
        try:
            summary = sync_hub(settings, store)
        except HubSyncError as e:
            console.print(f"[yellow]warning:[/] the running hub was not fully updated: {e}")
            return 1
        if summary is None:
            console.print("no hub running: it loads the roster when it starts", highlight=False)
        else:
            console.print(summary, highlight=False)
        return 0
    finally:
        store.close()


def run_show(args):
    """Print the roster as a table."""
    from rich.console import Console
    from rich.table import Table

    from .accounts import AccountStore

    console = Console()
    settings = load_settings(args.config)
    store = AccountStore.from_settings(settings, create=False)
    if store is None:
        console.print("no roster imported yet (ai4scale roster import FILE)")
        return 0
    try:
        accounts = store.list_accounts()
    finally:
        store.close()
    table = Table(title=f"Roster: {len(accounts)} member(s)")
    for column in ("username", "full name", "role", "team"):
        table.add_column(column)
    for a in accounts:
        table.add_row(a.username, a.full_name, a.role, a.team or "")
    console.print(table)
    return 0
