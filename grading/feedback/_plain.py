"""Plain words for learners: item titles instead of ids, messages without Python's jargon.

The grader stores what happened in a programmer's terms (``"AssertionError:
the rate must be a share"``, ``"NotImplementedError"``, ``"answer left as the
placeholder"``). Learners are civil servants, most of whom never programmed:
:func:`plain_message` says the same in plain words, and :func:`item_titles`
names each item by the lab's own heading instead of its ``grade_id``.
"""

from __future__ import annotations

import re

from ai4scale.grading.labformat import exercise_titles

__all__ = ["item_titles", "plain_message"]

_NAME = re.compile(r"name '([^']+)' is not defined")


def item_titles(notebooks):
    """Return ``{(notebook, grade_id): title}`` for every item of a lab's source notebooks.

    Parameters
    ----------
    notebooks : Mapping[str, nbformat.NotebookNode]

    Returns
    -------
    dict
    """
    out = {}
    for name, nb in notebooks.items():
        for gid, title in exercise_titles(nb).items():
            out[(name, gid)] = title
    return out


def _withheld(text):
    return "(details withheld" in text or text.startswith("the test failed (details")


def plain_message(message):
    """Return a learner's wording of a stored (already safe) failure message.

    Parameters
    ----------
    message : str
        From :func:`~ai4scale.grading.feedback.safe_message` (never a hidden test's text).

    Returns
    -------
    str
        Empty when there is nothing to say.
    """
    text = (message or "").strip()
    if not text:
        return ""
    if _withheld(text):
        return (
            "The check did not pass. Its details are not shown, because they would reveal "
            "the hidden checks."
        )
    if text == "answer left as the placeholder":
        return "Not answered yet."
    if text.startswith("not run:"):
        return "This check could not run, because the notebook stopped before it."
    ename, sep, evalue = text.partition(": ")
    if not sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", text):
        ename, evalue = text, ""
    elif not sep:
        return text
    ename = ename.rsplit(".", 1)[-1]
    if ename == "NotImplementedError" or "ellipsis" in evalue.lower():
        return "Not answered yet: the exercise still has its blank or placeholder."
    if ename == "AssertionError":
        return f"Not yet right: {evalue}" if evalue else "Not yet right."
    if ename == "NameError":
        m = _NAME.search(evalue)
        word = f"'{m.group(1)}'" if m else "A name"
        return (
            f"{word} is not known: the exercise that defines it is missing or misspelt, or a "
            "cell was not run."
        )
    if ename == "KeyError":
        return f"There is no column or entry called {evalue}: check the spelling and capitals."
    if ename == "ZeroDivisionError":
        return "Something was divided by zero: a group or selection may be empty."
    if ename in ("TypeError", "ValueError", "AttributeError", "IndexError"):
        return f"The code stopped with an error: {evalue}" if evalue else "The code stopped."
    if ename.endswith(("Error", "Exception")):
        return f"The code stopped with an error: {evalue}" if evalue else "The code stopped."
    return text
