"""``ai4scale feedback LAB``: write one HTML feedback page per graded submission."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["register"]


def _default_output(args, lab):
    from ai4scale.hub._settings import load_settings
    from ai4scale.hub._state import state_dir

    return state_dir(load_settings(getattr(args, "config", None))) / "feedback" / lab


def _release(args, lab_dir, lab):
    """Release the feedback through the course service's library (same as its button)."""
    from ai4scale.hub._settings import load_settings
    from ai4scale.hub.course import Course, release_feedback

    overrides = {"labs_dir": str(lab_dir.resolve().parent)}
    if args.db:
        overrides["gradebook_url"] = args.db
    course = Course.from_settings(load_settings(getattr(args, "config", None)), **overrides)
    try:
        return release_feedback(course, lab)
    finally:
        course.close()


def cmd_feedback(args):
    """Write ``OUTPUT/<learner>/<lab>.html`` from the gradebook."""
    from ai4scale.hub._errors import UserError

    from .autograde import open_lab
    from .cli_gradebook import default_url
    from .feedback import write_feedback
    from .gradebook import Gradebook
    from .labformat import LabError

    lab_dir = Path(args.lab) if Path(args.lab).is_dir() else args.labs / args.lab
    if not (lab_dir / "lab.toml").is_file():
        raise UserError(f"no lab {args.lab!r} (no {lab_dir / 'lab.toml'})")
    if args.submissions is not None and not args.submissions.is_dir():
        raise UserError(f"no submissions folder {args.submissions}")
    try:
        glab = open_lab(lab_dir)
    except LabError as e:
        raise UserError(str(e)) from None
    output = args.output or _default_output(args, glab.id)
    gb = Gradebook(args.db or default_url(getattr(args, "config", None)))
    try:
        if gb.current_revision() is None:
            raise UserError("the gradebook is empty: run `ai4scale grade` first")
        try:
            written = write_feedback(gb, glab, output, submissions_dir=args.submissions)
        except LookupError as e:
            raise UserError(f"lab {glab.id!r} is not in the gradebook ({e})") from None
    finally:
        gb.close()
    for owner, path in sorted(written.items()):
        print(f"{owner}\t{path}")
    print(f"{len(written)} feedback page(s) written to {output}", file=sys.stderr)
    if args.release:
        result = _release(args, lab_dir, glab.id)
        print(
            f"feedback of {glab.id} released to {result['released']} learner(s) or team(s): "
            "they read it in the course page",
            file=sys.stderr,
        )
    return 0


def register(subparsers):
    """Add ``ai4scale feedback``."""
    p = subparsers.add_parser(
        "feedback",
        help="write an HTML feedback page per graded submission",
        description="Write OUTPUT/<learner>/<lab>.html for every graded submission of LAB: "
        "per-item scores, failure messages (never hidden tests), comments, the learner's "
        "answer cells (with --submissions), totals and flags.",
    )
    p.add_argument("lab", metavar="LAB", help="lab id (in --labs) or lab folder")
    p.add_argument("--db", metavar="URL", help="gradebook URL (default: the hub's state dir)")
    p.add_argument(
        "--output",
        type=Path,
        metavar="DIR",
        help="where pages go (default: <state_dir>/feedback/<lab>/)",
    )
    p.add_argument(
        "--submissions",
        type=Path,
        metavar="DIR",
        help="the graded SUBMISSIONS_DIR, to show learners their own cells",
    )
    p.add_argument("--labs", type=Path, default=Path("labs"), help="labs folder (default ./labs)")
    p.add_argument(
        "--release",
        action="store_true",
        help="also release the feedback to the learners through the course service "
        "(pages of the collected submissions; the release time is kept in the gradebook)",
    )
    p.set_defaults(func=cmd_feedback)
