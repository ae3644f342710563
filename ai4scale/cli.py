"""The ``ai4scale`` command: one entry point, one module per subcommand group.

Each group module exposes ``register(subparsers)``, adding its subcommands
with a ``func(args) -> int`` default. The logic lives in library functions;
this layer only parses arguments and prints.
"""

from __future__ import annotations

import argparse
import sys

from ai4scale import __version__

#: Modules that contribute subcommands, in help order.
GROUPS = [
    "ai4scale.hub.cli_up",
    "ai4scale.hub.cli_service",
    "ai4scale.hub.cli_roster",
    "ai4scale.hub.cli_users",
    "ai4scale.hub.cli_course",
    "ai4scale.hub.cli_usecase",
    "ai4scale.hub.cli_backup",
    "ai4scale.hub.cli_image",
    "ai4scale.datasets.cli",
    "ai4scale.grading.cli_lab",
    "ai4scale.grading.cli_grade",
    "ai4scale.grading.cli_feedback",
    "ai4scale.grading.cli_gradebook",
]


def build_parser():
    """Return the argument parser with every group's subcommands."""
    import importlib

    parser = argparse.ArgumentParser(
        prog="ai4scale",
        description="AI4Scale Sandbox: the hub, roster, users, datasets, labs and gradebook.",
    )
    parser.add_argument("--version", action="version", version=f"ai4scale {__version__}")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="settings file (default: $AI4SCALE_CONFIG or /etc/ai4scale/ai4scale.toml)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in GROUPS:
        importlib.import_module(name).register(subparsers)
    return parser


def _without_iri_format_checks():
    """Start jsonschema, where a command uses it, without its IRI format checkers.

    ``import jsonschema`` imports ``rfc3987_syntax`` when it is installed (a
    dependency of jupyter-events), which builds a grammar at import time: 0.6
    to 1.1 s, more than the rest of most commands. jsonschema treats it as
    optional (its ``format-nongpl`` extra) and without it only stops checking
    the ``iri`` and ``iri-reference`` formats, which no schema used by these
    commands checks. Only this process is affected; hubs and servers it
    starts import as usual.
    """
    sys.modules.setdefault("rfc3987_syntax", None)


def main(argv=None):
    """Run the command line; return the exit status."""
    _without_iri_format_checks()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a clear message, not a traceback, for expected errors
        from ai4scale.hub._errors import UserError

        if isinstance(e, UserError):
            print(f"ai4scale: error: {e}", file=sys.stderr)
            return 2
        raise
