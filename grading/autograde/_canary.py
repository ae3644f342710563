"""Step 3: hidden canary cells that must fail, and be reported failing, in every run.

A canary is a cell of ours whose exception we know in advance (its type and
message are computed here, outside the learner's process). Whatever the
learner's code does to failure reporting -- AST or input transformers,
``showtraceback`` or ``sys.excepthook`` patches, ``run_cell`` wrappers,
``sys.settrace`` tricks, patched builtins -- it shows in a canary: reported
``ok``, with another exception or message, or without its error output.
Some canaries put the results of builtins (``abs``, ``round``, ``float``,
``len``, ``isinstance``, ``min``, ``max``, ``sum``) on random inputs in their
message, so patched builtins change it.

Tampering that spares canaries -- hooks that act only on test cells -- is
caught by the guard (:mod:`._guard`): the first cell of the run, and probe
cells after every test cell and at the end, whose answers the learner's
code cannot forge.
"""

from __future__ import annotations

import ast
import copy
import secrets
from dataclasses import dataclass

from nbformat.v4 import new_code_cell
from nbformat.v4.nbbase import random_cell_id

from ._guard import (
    guard_source,
    imported_packages,
    probe_answer,
    probe_source,
    read_guard_key,
)

__all__ = ["Canary", "check_canaries", "insert_canaries"]

_ERRORS = ("ValueError", "RuntimeError", "LookupError", "ArithmeticError")


@dataclass(frozen=True)
class Canary:
    """One inserted check cell: its index and the exception it must raise.

    ``kind`` is ``"raise"`` (a canary: ``ename`` / ``evalue`` known here),
    ``"guard"`` (the first cell: must run cleanly and print the probe key)
    or ``"probe"`` (must show the guard's answer: the keyed hash of
    ``nonce``, computed once the key is read).
    """

    index: int
    ename: str
    evalue: str
    kind: str = "raise"
    nonce: str = ""


def _probe_expr(rng):
    a = rng.randrange(10_000, 99_999) / 1000
    b = rng.randrange(10_000, 99_999) / 1000
    k = rng.randrange(3, 40)
    return (
        f"repr((abs(-{a!r}), round({a!r} * {b!r}, 3), float('{b!r}'), len('{'x' * k}'), "
        f"isinstance({k}, int), min({a!r}, {b!r}), max({a!r}, {b!r}), sum([{a!r}, {b!r}]), "
        f"abs({a!r} - {a!r}) < 1e-9, type({a!r}).__name__))"
    )


def _canary_source(kind, rng):
    # Never a single line: a sys.settrace hook that jumps over assert lines
    # must have somewhere to jump to, so it shows.
    nonce = secrets.token_hex(8)
    if kind == 0:
        return f'assert 1 == 2, "ai4scale-canary-{nonce}"\npass\n'
    if kind == 1:
        n = rng.randrange(2, 1000)
        return f'assert abs(-{n}) == {n + 1}, "{nonce}:" + {_probe_expr(rng)}\npass\n'
    ename = rng.choice(_ERRORS)
    return f'raise {ename}("{nonce}:" + {_probe_expr(rng)})\npass\n'


def _instructors(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("locked") or (meta.get("grade") and not meta.get("solution")))


def _probe_says(cell, canary, key, notes=None):
    """Why a probe's evidence is not the guard's clean answer, or ``""``.

    A clean answer with the guard's notes for review (signed with its key)
    adds them to ``notes``.
    """
    shown = [
        o.get("data", {}).get("text/plain")
        for o in cell.outputs
        if o.get("output_type") == "execute_result"
    ]
    answer = _literal(shown[-1]) if cell.status == "ok" and shown else None
    if isinstance(answer, str) and answer.startswith("tampering: "):
        return f"check cell {canary.index}: {answer[11:]:.600}"
    if isinstance(answer, str) and answer.startswith("review: ") and " #" in answer:
        review = answer[8:].rsplit(" #", 1)[0]
        if answer == probe_answer(key, canary.nonce, review):
            if notes is not None and review not in notes:
                notes.append(review)
            return ""
    if answer != probe_answer(key, canary.nonce):
        got = f"{cell.ename}: {cell.evalue}" if cell.status == "error" else f"{shown[-1:]}"
        return f"check cell {canary.index} answered {cell.status!r}, {got:.80}"
    return ""


def _literal(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def _expected(source):
    try:
        exec(compile(source, "<canary>", "exec"), {"__builtins__": __builtins__})  # our own code
    except Exception as e:  # the canary must raise; record what
        return type(e).__name__, str(e)
    raise AssertionError(f"canary did not raise: {source!r}")


def insert_canaries(nb, *, rng=None, guard=True):
    """Return a copy of ``nb`` with canary cells, and the canaries.

    Canaries go before the first code cell that is not the first, after
    every autograded (test) cell, and at the end; their kinds rotate
    (plain assert, assert with builtin probes, raise with builtin probes).
    With ``guard``, the guard cell comes first and a probe cell follows
    every test cell's canary and ends the notebook.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The sanitised notebook (not modified).
    rng : random.Random, optional
        Source of randomness (``secrets.SystemRandom()`` by default).
    guard : bool
        Insert the guard and probe cells (turned off only to show what
        canaries alone miss).

    Returns
    -------
    tuple
        ``(notebook, canaries)``, canaries a list of :class:`Canary`.
    """
    rng = rng or secrets.SystemRandom()
    out = copy.deepcopy(nb)
    cells, canaries = [], []
    kind = rng.randrange(3)

    def add():
        nonlocal kind
        source = _canary_source(kind % 3, rng)
        kind += 1
        ename, evalue = _expected(source)
        canaries.append(Canary(len(cells), ename, evalue))
        cells.append(new_code_cell(source))

    def add_probe():
        if guard:
            source, nonce = probe_source(f"{rng.getrandbits(128):032x}")
            canaries.append(Canary(len(cells), "", "", kind="probe", nonce=nonce))
            cells.append(new_code_cell(source))

    if guard:
        canaries.append(Canary(0, "", "", kind="guard"))
        cells.append(new_code_cell(""))  # its source needs the final indices
    code_seen = 0
    for cell in out.cells:
        if cell.cell_type == "code":
            code_seen += 1
            if code_seen == 2:
                add()
        cells.append(cell)
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            add()
            add_probe()
    add()
    add_probe()
    if guard:
        # The guard names cells as the sanitised notebook numbers them.
        labels = {id(c): f"cell {i}" for i, c in enumerate(out.cells)}
        runs = [c for c in cells[1:] if c.cell_type == "code" and c.source.strip()]
        # The libraries the instructor's cells import (tests, hidden ones included).
        own = [c.source for c in out.cells if c.cell_type == "code" and _instructors(c)]
        cells[0].source = guard_source(
            ["the guard", *(labels.get(id(c), "a check cell") for c in runs)],
            packages=imported_packages(own),
        )
    for cell in cells:
        # Fresh ids for all: a kernel may see cell ids, and the learner knows
        # the ids of the test cells; canaries must not stand out by theirs.
        cell["id"] = random_cell_id()
    out.cells = cells
    return out, canaries


def check_canaries(run, canaries, *, notes=None):
    """Return why the run shows tampering with failure reporting, or ``""``.

    Parameters
    ----------
    run : ai4scale.grading.sandbox.RunResult
        Evidence of the run (cells indexed by notebook cell index).
    canaries : list of Canary
    notes : list, optional
        Receives what the guard saw that an honest notebook may also do
        (for an instructor's review; the scores stand).

    Returns
    -------
    str
        Empty when every canary that ran failed exactly as expected and
        every probe got the guard's clean answer; a check cell not run is
        fine only when the run ended early.

    Raises
    ------
    RuntimeError
        The guard cell, which runs before any learner code, failed: a fault
        of the grader, not of the submission.
    """
    by_index = {c.index: c for c in run.cells}
    key = None
    for canary in canaries:
        cell = by_index.get(canary.index)
        if cell is None or cell.status == "not_run":
            if run.outcome == "completed":
                return f"check cell {canary.index} was not run"
            continue
        if canary.kind == "guard":
            key = read_guard_key(cell.outputs) if cell.status == "ok" else None
            if key is None:
                raise RuntimeError(
                    f"the guard cell failed ({cell.status}): {cell.ename}: {cell.evalue}"
                )
            continue
        if cell.status in ("timeout", "dead", "output_limit") and run.outcome != "completed":
            # The run ended in this cell: tampering if the learner's code made it so.
            return f"check cell {canary.index} did not finish ({cell.status})"
        if canary.kind == "probe":
            why = _probe_says(cell, canary, key, notes)
            if why:
                return why
            continue
        if cell.status != "error":
            return f"check cell {canary.index} was reported {cell.status!r}, not as a failure"
        if (cell.ename, cell.evalue) != (canary.ename, canary.evalue):
            return f"check cell {canary.index} raised {cell.ename}: {cell.evalue!r:.80}"
        if not any(
            o.get("output_type") == "error"
            and o.get("ename") == canary.ename
            and o.get("evalue") == canary.evalue
            for o in cell.outputs
        ):
            return f"check cell {canary.index}: its error output is missing"
    return ""
