"""Errors shown to the person at the keyboard as one clear message."""

__all__ = ["UserError"]


class UserError(Exception):
    """An error caused by input (a file, an argument); printed without a traceback."""
