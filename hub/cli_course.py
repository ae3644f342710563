"""``ai4scale release LAB``, ``ai4scale collect LAB``: course service steps from a terminal.

They call the same library functions as the service's REST API
(:mod:`ai4scale.hub.course`), on the same gradebook and service directory,
so a scripted release shows at once in learners' browsers.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

__all__ = ["register"]


def _course(args):
    from ._settings import load_settings
    from .course import Course

    overrides = {}
    if getattr(args, "labs", None) is not None:
        overrides["labs_dir"] = str(Path(args.labs).resolve())
    return Course.from_settings(load_settings(getattr(args, "config", None)), **overrides)


def cmd_release(args):
    """Release a lab to a hub group."""
    from .course import release

    course = _course(args)
    try:
        info = release(
            course,
            args.lab,
            group=args.group,
            due=args.due,
            released_by=f"{getpass.getuser()} (command line)",
            track=args.track,
        )
    finally:
        course.close()
    due = info.due_at.isoformat() if info.due_at else "no due date"
    print(f"{info.lab}\treleased to {info.group}\t{due}\t{info.track} track")
    return 0


def cmd_collect(args):
    """Take the newest submission of each learner (or team) into grading."""
    from .course import Job, autograde, collect

    course = _course(args)
    try:
        result = collect(course, args.lab)
        print(f"{result['collected']} submission(s) of {args.lab} collected", file=sys.stderr)
        job = autograde(course, args.lab, job=Job(args.lab)) if args.grade else None
    finally:
        course.close()
    for owner in result["owners"]:
        print(owner)
    if job is not None:
        print(f"{job.done} submission(s) autograded", file=sys.stderr)
        for error in job.errors:
            print(f"error: {error}", file=sys.stderr)
        return 1 if job.errors else 0
    return 0


def register(subparsers):
    """Add ``ai4scale release`` and ``ai4scale collect``."""
    p = subparsers.add_parser(
        "release",
        help="release a lab to learners (or a hub group), with a due date",
        description="Build the learner version of LAB and release it to a hub group: its "
        "members see it in the course page and fetch it into their home. Releasing "
        "again rebuilds it and updates the due date.",
    )
    p.add_argument("lab", metavar="LAB", help="lab id (a folder of the labs directory)")
    p.add_argument("--group", default="learners", help="hub group (default: learners)")
    p.add_argument(
        "--due",
        metavar="ISO8601",
        help="due date with a time zone, e.g. 2025-03-01T17:00:00+01:00 "
        "(submissions after it are flagged late)",
    )
    p.add_argument(
        "--track",
        choices=("guided", "analyst"),
        default="guided",
        help="learner version: guided (the code given, blanks to complete; default) or "
        "analyst (written from scratch, for programmers)",
    )
    p.add_argument(
        "--labs",
        type=Path,
        metavar="DIR",
        help="labs directory (default: [course] labs_dir of the settings)",
    )
    p.set_defaults(func=cmd_release)

    p = subparsers.add_parser(
        "collect",
        help="take the newest submission of each learner into grading",
        description="Copy the newest submission of each learner (or team) of LAB into "
        "grading and mark it collected; with --grade, autograde them too (as the "
        "course page's Autograde button does).",
    )
    p.add_argument("lab", metavar="LAB", help="lab id")
    p.add_argument(
        "--grade",
        action="store_true",
        help="then autograde the collected submissions not graded yet (sandboxed)",
    )
    p.add_argument("--labs", type=Path, metavar="DIR", help="labs directory")
    p.set_defaults(func=cmd_collect)
