"""Plain-language errors in learners' kernels: a friendly stop, the learner's line first.

Loaded in every kernel of a learner's (or an instructor's) server, like
:mod:`.memory_notice`, this IPython extension changes what an error looks like:

- **An exercise not answered yet** stops "Run All" with a short message that
  names the exercise and says how to go on, instead of a traceback. Both
  tracks are caught: the analyst placeholder (``raise NotImplementedError()``)
  and a guided cell (its first line ``# Exercise N: title``) that still has a
  blank (``...``); the blank is found before the cell runs.
- **Any other error from the learner's code** shows the learner's own line
  first, then, for the common beginner errors, what it usually means and what
  to try. The full technical message stays one click away ("Show the
  technical details").

The cell still ends in an error, so "Run All" stops there, as before. The
extension only acts in a Jupyter server of the hub (``JUPYTERHUB_USER`` is
set, or ``AI4SCALE_PLAIN_ERRORS=1``): grading kernels, which run in the
sandbox with an environment of their own, keep Python's own reports, which
the grader's guard checks.
"""

from __future__ import annotations

import html
import io
import linecache
import os
import re
import tokenize

__all__ = [
    "EXTENSION",
    "ExerciseNotAnswered",
    "explain",
    "has_blank",
    "load_ipython_extension",
]

#: Name under which IPython loads this extension.
EXTENSION = "ai4scale.hub.plain_errors"

_HEADER = re.compile(r"^#\s*Exercise\s+(\d+)\s*:\s*(.*?)\s*$")
_STUB = "raise NotImplementedError()"


class ExerciseNotAnswered(Exception):
    """An exercise cell was run with its blanks or placeholder still in it."""


def exercise_of(source):
    """Return ``(number, title)`` when a cell starts with ``# Exercise N: title``, else None."""
    first = source.lstrip("\n").split("\n", 1)[0]
    m = _HEADER.match(first.strip())
    return (int(m.group(1)), m.group(2)) if m else None


def has_blank(source):
    """Return True when the code holds a blank to complete: the token ``...``."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return "..." in re.sub(r"#.*", "", source)
    return any(t.type == tokenize.OP and t.string == "..." for t in tokens)


def _not_answered_text(exercise):
    name = f"Exercise {exercise[0]} ({exercise[1]})" if exercise else "This exercise"
    return [
        f"\x1b[1m{name} is not answered yet, so the notebook stopped here.\x1b[0m",
        "Complete the cell: replace each ... with your answer (or write your code where it "
        "says YOUR CODE HERE).",
        "Then run that cell, and run the rest again: Run > Run All Cells.",
    ]


# -- the learner's line -----------------------------------------------------------


def _cell_frames(shell, tb):
    """Return the traceback entries that are in notebook cells: (execution count, line no)."""
    names = getattr(shell.compile, "_filename_map", {})
    found = []
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename in names:
            found.append((filename, names[filename], tb.tb_lineno))
        tb = tb.tb_next
    return found


def _where(shell, tb):
    """Return ``(text, line)``: where in the learner's cells the error happened."""
    frames = _cell_frames(shell, tb)
    if not frames:
        return "in a library the code called", ""
    filename, count, lineno = frames[-1]
    line = linecache.getline(filename, lineno).strip()
    names = getattr(shell.compile, "_filename_map", {})
    current = max(names.values(), default=None)  # the cell running now was cached last
    place = "this cell" if count == current else f"the cell numbered [{count}]"
    return f"line {lineno} of {place}", line


# -- what it means ----------------------------------------------------------------

_BLANK_HINT = (
    "A blank (...) is still in the code. Replace each ... with your answer, run the cell "
    "again, then the cells after it."
)


def explain(etype, value):
    """Return ``(what happened, what to try)`` in plain words for a common error, or None."""
    name, text = etype.__name__, str(value)
    if "ellipsis" in text.lower():
        return "An exercise still has a blank.", _BLANK_HINT
    if name == "NameError":
        m = re.search(r"name '([^']+)'", text)
        word = f"'{m.group(1)}'" if m else "A name"
        return (
            f"{word} is not known yet.",
            "Usually a cell above was not run (or the notebook was restarted): choose Run > "
            "Run All Above Selected Cell, then run this cell again. Also check the spelling: "
            "capitals count.",
        )
    if name == "KeyError":
        return (
            f"There is no column or entry called {text}.",
            "Names must be written exactly as in the table, capitals and spaces included. "
            "To see the column names of a table called data, run: data.columns",
        )
    if name in ("ModuleNotFoundError", "ImportError"):
        return (
            "A library that the code asks for is not available here.",
            "Check its name; the sandbox has the libraries the labs use, and cannot install "
            "others. Ask your trainer if you need one.",
        )
    if name == "ZeroDivisionError":
        return (
            "Something was divided by zero.",
            "A group or a selection is probably empty (no rows): check the filter or the "
            "group name above.",
        )
    if name == "FileNotFoundError":
        return (
            "There is no file at that place.",
            "Check the file name and folder; the lab's files are in the lab's folder, next "
            "to this notebook.",
        )
    if name == "IndexError":
        return (
            "The code asked for a position that does not exist (past the end of a list or table).",
            "Check how many rows or items there are, remembering that counting starts at 0.",
        )
    if name == "AttributeError" and "NoneType" in text:
        return (
            "A step gave no result (None) where a result was expected.",
            "Check that the function in your exercise ends with return and the result.",
        )
    if name == "AttributeError":
        return (
            "This kind of value has no such property or action.",
            "Check the spelling, and that the variable holds what you think (print it).",
        )
    if name == "TypeError" and ("NoneType" in text or "None" in text):
        return (
            "A step gave no result (None) where a result was expected.",
            "Check that the function in your exercise ends with return and the result.",
        )
    if name == "TypeError" and "not callable" in text:
        return (
            "The code uses a value as if it were a function (with brackets after it).",
            "A name may have been reused for a value: check the spelling, or restart and run "
            "all the cells again (Kernel > Restart Kernel and Run All Cells).",
        )
    if name == "TypeError" and ("argument" in text or "positional" in text):
        return (
            "A function received too many, too few or unexpected inputs.",
            "Compare the call with the example above: the inputs, their order and names.",
        )
    if name == "TypeError":
        return (
            "Two kinds of values were combined that do not go together (for example text "
            "and a number).",
            "Check what each value is: print it, or look at the column's type.",
        )
    if name == "ValueError" and re.search(r"length|shape|broadcast|same size|mismatch", text):
        return (
            "Two lists or columns of different lengths were combined.",
            "Make sure both come from the same table (the same rows), with the same filter.",
        )
    if name == "ValueError":
        return (
            "A value was of the right kind but not acceptable here.",
            "Read the message below the line (it says which value), and compare with the "
            "example above.",
        )
    if name == "AssertionError":
        return (
            "A check did not pass" + (f": {text}" if text else "."),
            "Look again at your answer in the exercise above, change it, run that cell, then "
            "run this check again.",
        )
    if name == "MemoryError":
        return (
            "The code needed more memory than the sandbox has.",
            "Work on a smaller part of the data, or restart the notebook (Kernel > Restart).",
        )
    return None


def _technical(shell, etype, value, tb):
    stb = shell.InteractiveTB.structured_traceback(etype, value, tb)
    text = shell.InteractiveTB.stb2text(stb)
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _report(shell, etype, value, tb):
    """Display the plain report (HTML, full details folded) and return the short lines."""
    where, line = _where(shell, tb)
    meaning = explain(etype, value)
    # Otherwise the error's own words (ours are written for learners, e.g. a dataset or a
    # service that does not answer), without Python's name for it.
    said = str(value).strip()
    what, advice = meaning or (
        said or "The code stopped with an error.",
        "If the message does not help, open the technical details below, or ask your trainer.",
    )
    parts = [
        '<div class="ai4scale-plain-error" style="border-left:4px solid #c0392b;'
        'padding:6px 10px;background:#fdf2f0">',
        f"<p><strong>The cell stopped at {html.escape(where)}</strong>",
    ]
    if line:
        parts.append(f"<br><code>{html.escape(line)}</code>")
    parts.append(
        f"</p><p>{html.escape(what)}</p><p><em>What to try:</em> {html.escape(advice)}</p>"
    )
    parts.append(
        "<details><summary>Show the technical details</summary>"
        f"<pre>{html.escape(_technical(shell, etype, value, tb))}</pre></details></div>"
    )
    plain = f"The cell stopped at {where}" + (f": {line}" if line else "") + f"\n{what}\n"
    plain += f"What to try: {advice}"
    from IPython.display import display

    display({"text/html": "".join(parts), "text/plain": plain}, raw=True)
    return [f"\x1b[1mThe cell stopped at {where}.\x1b[0m {what}"]


def _handler(shell, etype, value, tb, tb_offset=None):
    try:
        if issubclass(etype, ExerciseNotAnswered):
            stb = _not_answered_text(value.args[0] if value.args else None)
        elif issubclass(etype, NotImplementedError) and _STUB in _cell_source(shell):
            stb = _not_answered_text(exercise_of(_cell_source(shell)))
        else:
            stb = _report(shell, etype, value, tb)
    except Exception:  # never lose the learner's error: fall back to Python's own report
        stb = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
    shell._showtraceback(etype, value, stb)
    return stb


def _cell_source(shell):
    history = shell.user_ns.get("In") or [""]
    return history[-1] if history else ""


class _BlankCheck:
    """Input transformer: an exercise cell with a blank raises before it runs."""

    has_side_effects = False

    def __call__(self, lines):
        source = "".join(lines)
        exercise = exercise_of(source)
        if exercise is None or not has_blank(source):
            return lines
        name = "ExerciseNotAnswered"
        return [
            f"from ai4scale.hub.plain_errors import {name} as _ai4scale_stop\n",
            f"raise _ai4scale_stop({exercise!r})\n",
        ]


def _active():
    return bool(os.environ.get("JUPYTERHUB_USER")) or os.environ.get("AI4SCALE_PLAIN_ERRORS") == "1"


def load_ipython_extension(ip):
    """IPython entry point: install the handler and the blank check in a hub server's kernel."""
    if os.environ.get("AI4SCALE_PLAIN_ERRORS") == "0" or not _active():
        return
    ip.set_custom_exc((Exception,), _handler)
    ip.input_transformers_post.append(_BlankCheck())
