"""``ai4scale usecase list`` and ``ai4scale usecase export ID``: use cases from a terminal.

They read the same gradebook and service directory as the course service
(:mod:`ai4scale.hub.usecase._store`); the export is the dossier the use
case's page downloads (part "dossier": :func:`~ai4scale.hub.usecase._dossier.export_dossier`).
Run as root on the hub's machine: the service's files are root-only.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["register"]


class _Operator:
    """Whoever runs the command on the hub's machine: sees every use case."""

    name = "(command line)"
    groups = frozenset()
    instructor = True


def _store(args):
    from ._settings import load_settings
    from .course import Course
    from .usecase._store import UseCaseStore

    return UseCaseStore(Course.from_settings(load_settings(getattr(args, "config", None))))


def cmd_list(args):
    """Print the use cases: id, team, version, title."""
    store = _store(args)
    try:
        rows = store.list(_Operator())
    finally:
        store.course.close()
    for uc in rows:
        print(f"{uc['id']}\t{uc['team']}\tv{uc['version']}\t{uc['title']}")
    return 0


def cmd_export(args):
    """Write the dossier (HTML report and zip) of a use case."""
    store = _store(args)
    try:
        html, zipped = store.export(args.id, Path(args.out))
    finally:
        store.course.close()
    print(html)
    print(zipped)
    return 0


def register(subparsers):
    """Add ``ai4scale usecase list|export``."""
    p = subparsers.add_parser(
        "usecase",
        help="list teams' use cases, export a use case's dossier",
        description="Teams' own AI use cases, as kept by the course service.",
    )
    sub = p.add_subparsers(dest="usecase_command", metavar="COMMAND")
    q = sub.add_parser("list", help="list every use case (id, team, version, title)")
    q.set_defaults(func=cmd_list)
    q = sub.add_parser(
        "export",
        help="write a use case's dossier (HTML report and zip)",
        description="Write ID's dossier: a self-contained HTML report and a zip with the "
        "datasheets, model cards, results, figures, answers and provenance. No row-level "
        "data and no identifier is in it.",
    )
    q.add_argument("id", metavar="ID", help="use case id (see `ai4scale usecase list`)")
    q.add_argument("--out", default=".", metavar="DIR", help="folder to write into (default: here)")
    q.set_defaults(func=cmd_export)
