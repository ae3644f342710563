"""``ai4scale grade LAB SUBMISSIONS_DIR``: autograde a folder of submissions.

Before anything is recorded, the lab's reference solution is graded with the
same executor and settings (:func:`~ai4scale.grading.autograde.selfcheck`);
short of full marks, the command refuses (exit status 3) and prints the
failing cell with its traceback. There is deliberately no switch to skip it:
grades from an environment that fails the reference cannot be trusted, and a
passing check is remembered, so it costs its seconds once per lab and settings.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

__all__ = ["register"]


def cmd_grade(args):
    """Grade every ``SUBMISSIONS_DIR/<learner>/<notebook>.ipynb`` of a lab."""
    from ai4scale.hub._errors import UserError

    from .autograde import (
        SandboxUnavailable,
        default_executor,
        grade_batch,
        open_lab,
        selfcheck,
        start_early,
    )
    from .labformat import LabError

    lab_dir = Path(args.lab) if Path(args.lab).is_dir() else args.labs / args.lab
    if not (lab_dir / "lab.toml").is_file():
        raise UserError(f"no lab {args.lab!r} (no {lab_dir / 'lab.toml'})")
    if not Path(args.submissions).is_dir():
        raise UserError(f"no submissions folder {args.submissions}")
    try:
        glab = open_lab(lab_dir)
    except LabError as e:
        raise UserError(str(e)) from None
    executor = _executor(args, default_executor, SandboxUnavailable, UserError)
    if args.no_sandbox or args.executor == "local":
        print(
            "warning: grading without the sandbox (--no-sandbox): learners' code runs "
            "as this account, unconfined. For development only.",
            file=sys.stderr,
        )
    # Zygotes import the lab's libraries while the self-check runs.
    start_early(glab, args.submissions, executor=executor, workers=args.workers)
    try:
        check = selfcheck(glab, executor=executor, cache_dir=_cache_dir(args))
        print(f"self-check: {check.message()}", file=sys.stderr)
        if not check.passed:
            return 3
        graded = _grade(args, glab, executor, grade_batch)
    finally:
        if hasattr(executor, "close_pool"):
            executor.close_pool()
    failed = 0
    for g in graded:
        total = "-" if g.total is None else f"{g.total:g}"
        note = g.message or g.flags.get("tampered", "")
        print(f"{g.learner}\t{g.status}\t{total}\t{note}".rstrip())
        failed += g.status == "error"
    if args.json:
        data = {
            "lab": glab.id,
            "executor": executor.name,
            "submissions": [g.to_dict() for g in graded],
        }
        Path(args.json).write_text(json.dumps(data, indent=1, default=str) + "\n")
    print(f"{len(graded)} submission(s) graded with the {executor.name} executor", file=sys.stderr)
    return 1 if failed else 0


def _datasets_dir(args):
    """Return ``--datasets-dir``, else the settings' ``paths.datasets_dir``."""
    from ai4scale.hub._errors import UserError
    from ai4scale.hub._settings import load_settings

    if args.datasets_dir:
        return str(args.datasets_dir)
    try:
        return load_settings(getattr(args, "config", None))["paths"]["datasets_dir"]
    except Exception as e:  # noqa: BLE001 - say which settings could not be read
        raise UserError(f"cannot read the settings for paths.datasets_dir: {e}") from None


def _cache_dir(args):
    """Where passing self-checks are remembered: ``<state dir>/selfcheck`` (None if unknown)."""
    from ai4scale.hub._settings import load_settings
    from ai4scale.hub._state import state_dir

    try:
        return state_dir(load_settings(getattr(args, "config", None))) / "selfcheck"
    except Exception:  # noqa: BLE001 - no readable settings: check every time
        return None


def _grade(args, glab, executor, grade_batch):
    from .cli_gradebook import default_url
    from .gradebook import Gradebook

    gb = Gradebook(args.db or default_url(getattr(args, "config", None)))
    try:
        gb.upgrade()
        return grade_batch(
            glab,
            args.submissions,
            gradebook=gb,
            executor=executor,
            workers=args.workers,
            resume=args.resume,
            progress=sys.stderr.isatty() or args.progress,
        )
    finally:
        gb.close()


def _executor(args, default_executor, unavailable, user_error):
    timeouts = {"cell_timeout": args.cell_timeout, "notebook_timeout": args.timeout}
    if args.executor == "docker":
        if args.no_sandbox:
            raise user_error("--no-sandbox and --executor docker do not go together")
        from .containers import DockerExecutor, DockerUnavailable

        try:
            return DockerExecutor(image=args.image, datasets_dir=_datasets_dir(args), **timeouts)
        except DockerUnavailable as e:
            raise user_error(str(e)) from None
    try:
        return default_executor(
            sandbox=not (args.no_sandbox or args.executor == "local"),
            fork=not args.no_fork,
            **timeouts,
        )
    except unavailable as e:
        raise user_error(str(e)) from None


def register(subparsers):
    """Add ``ai4scale grade``."""
    p = subparsers.add_parser(
        "grade",
        help="autograde a folder of submissions (sandboxed, in parallel)",
        description="Grade SUBMISSIONS_DIR/<learner>/<notebook>.ipynb against the lab's "
        "source notebooks; each result is recorded in the gradebook as it is ready.",
    )
    p.add_argument("lab", metavar="LAB", help="lab id (in --labs) or lab folder")
    p.add_argument("submissions", metavar="SUBMISSIONS_DIR", type=Path)
    p.add_argument("--workers", type=int, default=None, help="parallel workers (default: cores)")
    p.add_argument("--json", metavar="OUT", help="also write the results of this run as JSON")
    p.add_argument("--resume", action="store_true", help="grade only submissions not graded yet")
    p.add_argument("--db", metavar="URL", help="gradebook URL (default: the hub's state dir)")
    p.add_argument("--labs", type=Path, default=Path("labs"), help="labs folder (default ./labs)")
    p.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run kernels with nbclient as the current user (development only: no isolation); "
        "without it, grading refuses when the sandbox cannot run here and says why",
    )
    p.add_argument(
        "--executor",
        choices=("sandbox", "docker", "local"),
        default="sandbox",
        help="what runs the notebooks: the grading sandbox on this machine (default), "
        "grading containers of --image (docker: one per worker, no network), or nbclient "
        "as the current user (local, the same as --no-sandbox)",
    )
    p.add_argument(
        "--image",
        default="ai4scale/singleuser:latest",
        help="image of the grading containers with --executor docker "
        "(default ai4scale/singleuser:latest; built by `ai4scale image build`)",
    )
    p.add_argument(
        "--datasets-dir",
        type=Path,
        default=None,
        help="prepared datasets mounted read-only in the grading containers with --executor "
        "docker (default: the settings' paths.datasets_dir)",
    )
    p.add_argument(
        "--no-fork",
        action="store_true",
        help="start a new interpreter per notebook instead of forking kernels from a zygote "
        "that imported the lab's libraries once per worker",
    )
    p.add_argument("--cell-timeout", type=float, default=30.0, help="seconds per cell")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per notebook")
    p.add_argument(
        "--progress", action="store_true", help="show the progress bar even without a tty"
    )
    p.set_defaults(func=cmd_grade)
