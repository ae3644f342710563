"""``ai4scale users``: accounts of the built-in login (codes, passwords, locks)."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

from ._errors import UserError
from ._settings import load_settings

__all__ = ["register", "run_code", "run_list", "run_set_password", "run_unlock"]


def register(subparsers):
    """Add the ``users`` subcommand group."""
    p = subparsers.add_parser(
        "users",
        help="list accounts, issue one-time codes, set passwords, unlock",
        description="Accounts of the built-in login (auth.type = roster).",
    )
    sub = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)

    sub.add_parser("list", help="list accounts and their state").set_defaults(func=run_list)

    code = sub.add_parser(
        "code",
        help="issue one-time codes with which members set their password",
        description=(
            "Print a new one-time code for each USERNAME (replacing any earlier one). "
            "Give it to the member, who sets a password at /hub/set-password."
        ),
    )
    code.add_argument("usernames", nargs="+", metavar="USERNAME")
    code.add_argument(
        "--ttl-hours",
        type=float,
        help="validity of the codes (default: auth.code_ttl_hours of the settings)",
    )
    code.set_defaults(func=run_code)

    setpw = sub.add_parser(
        "set-password",
        help="set a member's password (read from stdin or a file)",
        description=(
            "Set the password of USERNAME. The password is the first line of "
            "--password-file, or of standard input (asked for twice on a terminal)."
        ),
    )
    setpw.add_argument("username", metavar="USERNAME")
    setpw.add_argument(
        "--password-file", metavar="FILE", help="file whose first line is the password"
    )
    setpw.set_defaults(func=run_set_password)

    unlock = sub.add_parser("unlock", help="lift the lock after too many failed logins")
    unlock.add_argument("usernames", nargs="+", metavar="USERNAME")
    unlock.set_defaults(func=run_unlock)


def _open_store(settings):
    from .accounts import AccountStore  # SQLAlchemy: only for the commands that open the db

    store = AccountStore.from_settings(settings, create=False)
    if store is None:
        raise UserError("no roster imported yet: run `ai4scale roster import FILE` first")
    return store


def _when(moment):
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def run_list(args):
    """Print the accounts as a table."""
    from rich.console import Console
    from rich.table import Table

    settings = load_settings(args.config)
    store = _open_store(settings)
    try:
        accounts = store.list_accounts()
    finally:
        store.close()
    table = Table(title=f"{len(accounts)} account(s)")
    for column in ("username", "name", "role", "team", "password set", "locked", "code valid"):
        table.add_column(column)
    for a in accounts:
        table.add_row(
            a.username,
            a.full_name,
            a.role,
            a.team or "",
            "yes" if a.password_set else "no",
            f"until {_when(a.locked_until)}" if a.locked else "no",
            f"until {_when(a.code_expires)}" if a.code_valid else "no",
        )
    Console().print(table)
    return 0


def run_code(args):
    """Issue and print one-time codes (one line per user: name, code, expiry)."""
    from .accounts import UnknownAccountError

    settings = load_settings(args.config)
    ttl = args.ttl_hours if args.ttl_hours is not None else settings["auth"]["code_ttl_hours"]
    if ttl <= 0:
        raise UserError("--ttl-hours must be positive")
    store = _open_store(settings)
    try:
        unknown = [name for name in args.usernames if store.get(name) is None]
        if unknown:
            raise UnknownAccountError(f"not in the roster: {', '.join(unknown)} (no code issued)")
        width = max(len(name) for name in args.usernames)
        for name in dict.fromkeys(args.usernames):
            code = store.issue_code(name, ttl_hours=ttl)
            expires = store.get(name).code_expires
            print(f"{name:<{width}}  {code}  (valid until {_when(expires)})")
    finally:
        store.close()
    return 0


def _read_password(args):
    if args.password_file:
        try:
            text = Path(args.password_file).read_text(encoding="utf-8")
        except OSError as e:
            raise UserError(f"cannot read {args.password_file}: {e.strerror}") from None
        return text.splitlines()[0] if text else ""
    if sys.stdin.isatty():
        first = getpass.getpass(f"New password for {args.username}: ")
        if getpass.getpass("Again: ") != first:
            raise UserError("the two passwords differ")
        return first
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def run_set_password(args):
    """Set a password read from a file or standard input."""
    from .accounts import UnknownAccountError

    settings = load_settings(args.config)
    store = _open_store(settings)
    try:
        if store.get(args.username) is None:
            raise UnknownAccountError(f"no account {args.username!r} in the roster")
        store.set_password(args.username, _read_password(args))
    finally:
        store.close()
    print(f"password set for {args.username}")
    return 0


def run_unlock(args):
    """Clear failed logins and locks."""
    settings = load_settings(args.config)
    store = _open_store(settings)
    try:
        for name in args.usernames:
            store.unlock(name)
            print(f"unlocked {name}")
    finally:
        store.close()
    return 0
