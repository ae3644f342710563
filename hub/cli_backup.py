"""``ai4scale backup`` and ``ai4scale restore``: a hub's records in one archive.

The logic lives in :mod:`ai4scale.hub.backup`; this layer parses the
arguments, shows progress and prints what was done.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from pathlib import Path

from ._errors import UserError

__all__ = ["register", "run_backup", "run_restore"]


def register(subparsers):
    """Add the ``backup`` and ``restore`` subcommands."""
    p = subparsers.add_parser(
        "backup",
        help="write a backup of the hub (gradebook, submissions, accounts, settings)",
        description=(
            "Write OUT.tar.zst: a consistent snapshot of the running hub -- the "
            "gradebook and hub database (SQLite backup API or pg_dump), the state "
            "directory (course directory with releases, every submission, collected "
            "versions, feedback and use cases; accounts; secrets), the settings file "
            "and, with --homes, learners' home folders -- with a manifest of sha256 "
            "sums. With --verify FILE, check an archive instead (exit 0 or 1)."
        ),
    )
    p.add_argument("out", nargs="?", metavar="OUT.tar.zst", help="archive to write")
    p.add_argument(
        "--homes",
        action="store_true",
        help="also the home folders of the learners' system accounts (owners and modes kept)",
    )
    p.add_argument(
        "--level", type=int, default=10, help="zstd level, 1 (fast) to 19 (small); default 10"
    )
    p.add_argument("--verify", metavar="FILE", help="check FILE against its manifest and exit")
    p.set_defaults(func=run_backup)

    r = subparsers.add_parser(
        "restore",
        help="restore a backup archive onto this machine",
        description=(
            "Verify FILE, then write its settings file (to --config or "
            "/etc/ai4scale/ai4scale.toml, mode 0600), state directory, databases, "
            "labs and learners' homes. Refuses a non-empty state directory or an "
            "existing settings file unless --force."
        ),
    )
    r.add_argument("file", metavar="FILE", help="archive written by `ai4scale backup`")
    r.add_argument(
        "--state-dir",
        metavar="DIR",
        help="state directory to restore into (default: the archived one); "
        "paths.state_dir of the restored settings is changed to it",
    )
    r.add_argument(
        "--force",
        action="store_true",
        help="write into a non-empty state directory and replace the settings file",
    )
    r.add_argument(
        "--no-homes",
        dest="homes",
        action="store_false",
        help="leave learners' home folders as they are, even if the archive holds them",
    )
    r.set_defaults(func=run_restore)


@contextmanager
def _progress(console, label):
    """Yield a ``progress(total=..., advance=...)`` callable backed by a rich bar."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(*, total=None, advance=None):
            if total is not None:
                bar.update(task, total=total, completed=0)
            if advance:
                bar.advance(task, advance)

        yield update


def _size(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return f"{n} B"


def run_verify(args, console):
    """Check an archive; exit status 0 when it matches its manifest, 1 otherwise."""
    from .backup import ArchiveError, verify_archive

    start = time.monotonic()
    try:
        with _progress(console, "Verifying") as progress:
            manifest = verify_archive(args.verify, progress=lambda n: progress(advance=n))
    except ArchiveError as e:
        print(f"ai4scale: backup check failed: {e}", file=sys.stderr)
        return 1
    files = [m for m in manifest["members"] if m["type"] == "file"]
    console.print(
        f"{args.verify}: OK -- {len(files)} files ({_size(sum(m['size'] for m in files))}) "
        f"match their sha256, nothing missing or extra; written {manifest['created']} by "
        f"ai4scale {manifest['ai4scale_version']} ({time.monotonic() - start:.1f} s)"
    )
    return 0


def run_backup(args):
    """Write a backup archive, or check one with ``--verify``."""
    from rich.console import Console

    from ._settings import load_settings, settings_path
    from .backup import create_backup

    console = Console(stderr=True)
    if args.verify:
        if args.out:
            raise UserError("give either OUT.tar.zst or --verify FILE, not both")
        return run_verify(args, console)
    if not args.out:
        raise UserError("name the archive to write: ai4scale backup OUT.tar.zst")
    if not 1 <= args.level <= 19:
        raise UserError(f"--level must be 1..19, not {args.level}")
    path = settings_path(args.config)
    settings = load_settings(path)
    start = time.monotonic()
    with _progress(console, "Backing up") as progress:
        manifest = create_backup(
            settings, path, args.out, homes=args.homes, level=args.level, progress=progress
        )
    out = Path(args.out)
    files = [m for m in manifest["members"] if m["type"] == "file"]
    gb = manifest["gradebook"]
    print(
        f"Wrote {out} ({_size(out.stat().st_size)}, {len(files)} files, "
        f"{_size(sum(m['size'] for m in files))} before compression) "
        f"in {time.monotonic() - start:.1f} s"
    )
    print(
        f"  gradebook: {gb['submissions']} submissions ({gb['submission_files']} files, "
        f"sha256 checked), {gb['results'] if gb['results'] is not None else '?'} results"
    )
    for db in manifest["included"]["databases"]:
        print(f"  {db['role']} database ({db['kind']}): {db['member']}")
    if manifest["included"]["homes"] is not None:
        print(f"  homes: {', '.join(manifest['included']['homes']) or 'none'}")
    if gb["newer_submissions_left_out"]:
        print(
            f"  {len(gb['newer_submissions_left_out'])} submissions arrived after the "
            "gradebook was copied and are in the next backup"
        )
    if manifest["changed_while_read"]:
        print(f"  changed while read: {', '.join(manifest['changed_while_read'])}")
    return 0


def run_restore(args):
    """Restore a backup archive."""
    from rich.console import Console

    from ._settings import settings_path
    from .backup import restore_backup

    console = Console(stderr=True)
    with _progress(console, "Restoring") as progress:
        actions = restore_backup(
            args.file,
            settings_file=settings_path(args.config),
            state_dir=args.state_dir,
            force=args.force,
            homes=args.homes,
            progress=progress,
        )
    for line in actions:
        print(line)
    return 0
