"""Failure messages fit for learners: nothing of hidden tests or check cells.

The pipeline stores ``"<ename>: <evalue>"`` (no traceback) as an item's
failure. ``evalue`` is whatever the exception said, and the exception may be
the learner's own: code called from a hidden test can read the test's source
(``In``, ``inspect``) and put it in a message to read it in the feedback.
So a message is shown only when it is short, one line, quotes no line of a
hidden test block, names no check cell and carries no long opaque token
(encoded text); otherwise only the exception type is shown.
"""

from __future__ import annotations

import re

from ai4scale.grading.labformat import is_grade

__all__ = ["CANARY_MARKERS", "MAX_MESSAGE_CHARS", "hidden_fragments", "safe_message"]

#: Strings of the grader's check cells (canaries) that must never reach a learner.
CANARY_MARKERS = ("ai4scale-canary", "check cell", "repr((abs(")

#: Longest failure message shown.
MAX_MESSAGE_CHARS = 300

_BEGIN, _END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
_OPAQUE = re.compile(r"[A-Za-z0-9+/=_\-]{40,}")
_ENAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,79}")
_MIN_FRAGMENT = 6


def _norm(text):
    return " ".join(text.split())


def hidden_fragments(notebooks):
    """Return the normalised lines of every hidden test block of ``notebooks``.

    Parameters
    ----------
    notebooks : Mapping[str, nbformat.NotebookNode]
        The lab's source notebooks.

    Returns
    -------
    set of str
        Each line whitespace-normalised; lines shorter than a few characters
        (``pass``, ``)``) are left out, they say nothing.
    """
    out = set()
    for nb in notebooks.values():
        for cell in nb.cells:
            if cell.cell_type != "code" or not is_grade(cell):
                continue
            inside = False
            for line in cell.source.splitlines():
                if line.strip().startswith(_BEGIN):
                    inside = True
                elif line.strip().startswith(_END):
                    inside = False
                elif inside and len(_norm(line)) >= _MIN_FRAGMENT:
                    out.add(_norm(line))
    return out


def _leaks(text, fragments):
    flat = _norm(text)
    lowered = flat.lower()
    if any(m in lowered for m in CANARY_MARKERS):
        return True
    if _OPAQUE.search(flat):
        return True
    return any(f in flat for f in fragments)


def safe_message(message, fragments):
    """Return the part of a stored failure message a learner may see.

    Parameters
    ----------
    message : str
        As stored (``"ename: evalue"``, ``"not run: ..."`` or a grader note).
    fragments : set of str
        From :func:`hidden_fragments`.

    Returns
    -------
    str
        The message; or only the exception type, with a note, when the rest
        could quote hidden tests; or a generic text when even the type could.
    """
    message = (message or "").strip().rstrip(":")  # "AssertionError: " has no message
    if not message:
        return ""
    ename, sep, _ = message.partition(": ")
    if sep and not _ENAME.fullmatch(ename):
        ename = ""
    one_line = "\n" not in message and len(message) <= MAX_MESSAGE_CHARS
    if one_line and not _leaks(message, fragments):
        return message
    if ename and not _leaks(ename, fragments):
        return f"{ename} (details withheld: the message was long or quoted test code)"
    return "the test failed (details withheld: the message quoted test code)"
