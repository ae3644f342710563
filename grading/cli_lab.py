"""``ai4scale lab build|validate|import-nbgrader``: author labs, make learner versions."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["register"]


def _user_error(e):
    from ai4scale.hub._errors import UserError

    return UserError(str(e))


def cmd_build(args):
    """Write (or, with --check, compare) the learner notebooks of the labs."""
    from .labformat import LabError, build_lab, find_labs, stale_orphans

    try:
        stale, count = [], 0
        for lab_dir in find_labs(args.labs, args.lab):
            report = build_lab(lab_dir, args.notebooks, check=args.check)
            stale += report.stale
            count += 1
        if args.check and not args.lab:
            stale += stale_orphans(args.labs, args.notebooks)
    except LabError as e:
        raise _user_error(e) from None
    if args.check:
        if stale:
            print(f"{len(stale)} stale file(s) in {args.notebooks}; run `ai4scale lab build`:")
            for path in stale:
                print(f"  {path}")
            return 1
        print(f"{count} lab(s): {args.notebooks} is up to date")
        return 0
    for path in stale:
        print(f"wrote {path}" if path.exists() else f"removed {path}")
    print(f"{count} lab(s) built, {len(stale)} file(s) changed")
    return 0


def cmd_validate(args):
    """Grade each lab's reference solution (full marks) and blank version (zero)."""
    from .labformat import LabError, find_labs, validate_lab

    failed = 0
    try:
        labs = find_labs(args.labs, args.lab)
        for lab_dir in labs:
            problems = validate_lab(lab_dir, timeout=args.timeout)
            if problems:
                failed += 1
                print(f"{lab_dir.name}: INVALID")
                for line in problems:
                    print(f"  {line}")
            else:
                print(f"{lab_dir.name}: ok (reference full marks, blank version zero)")
    except LabError as e:
        raise _user_error(e) from None
    return 1 if failed else 0


def cmd_import(args):
    """Create a lab from nbgrader source notebooks."""
    from .labformat import LabError, import_nbgrader

    try:
        lab_dir = import_nbgrader(
            args.sources,
            lab_id=args.lab_id,
            labs_root=args.labs,
            title=args.title,
            resources=not args.no_resources,
        )
    except LabError as e:
        raise _user_error(e) from None
    print(f"created {lab_dir}; edit its lab.toml, then run `ai4scale lab build {args.lab_id}`")
    return 0


def _add_roots(parser, *, notebooks=True):
    parser.add_argument(
        "--labs", type=Path, default=Path("labs"), help="labs folder (default: ./labs)"
    )
    if notebooks:
        parser.add_argument(
            "--notebooks",
            type=Path,
            default=Path("notebooks"),
            help="learner notebooks folder (default: ./notebooks)",
        )


def register(subparsers):
    """Add the ``lab`` command group."""
    lab = subparsers.add_parser("lab", help="build, validate and import labs")
    sub = lab.add_subparsers(dest="lab_command", metavar="SUBCOMMAND")
    lab.set_defaults(func=lambda args: lab.print_help(sys.stderr) or 2)

    p = sub.add_parser("build", help="write the learner notebooks of labs to notebooks/")
    p.add_argument("lab", nargs="*", metavar="LAB", help="lab ids (default: every lab)")
    _add_roots(p)
    p.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 listing stale files (for CI)"
    )
    p.set_defaults(func=cmd_build)

    p = sub.add_parser(
        "validate", help="check: reference solution gets full marks, blank version gets zero"
    )
    p.add_argument("lab", nargs="*", metavar="LAB", help="lab ids (default: every lab)")
    _add_roots(p, notebooks=False)
    p.add_argument("--timeout", type=int, default=60, help="per-cell timeout in seconds")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("import-nbgrader", help="create a lab from nbgrader source notebooks")
    p.add_argument("sources", nargs="+", metavar="SOURCE.ipynb", type=Path)
    p.add_argument("--lab", dest="lab_id", required=True, metavar="ID", help="the new lab's id")
    p.add_argument("--title", help="the lab's title (default: the first heading)")
    p.add_argument(
        "--no-resources",
        action="store_true",
        help="do not copy the other files next to the source notebooks",
    )
    _add_roots(p, notebooks=False)
    p.set_defaults(func=cmd_import)
