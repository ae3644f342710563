"""Attack submissions for labs/example-intro, built from its learner version.

Each attack pairs a trick with wrong answers that would pass if the trick
worked. ``ATTACKS`` maps a learner name to ``(build, expectation)``:
``build(dir)`` writes ``dir/<learner>/approval-rates.ipynb`` (or a malformed
file), and the expectation is ``"tampered"`` (flagged, autograded items
zero), ``"zero"`` (autograded items zero, a flag or reason optional),
``"flag:<kind>"`` (zero and the sanitiser's flag) or ``"rejected"``.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "labs" / "example-intro"
NOTEBOOK = "approval-rates.ipynb"

RIGHT = {
    "approval_rates": (
        'def approval_rates(df):\n    return df.groupby("district")["approved"].mean()\n'
    ),
    "disparity_ratio": "def disparity_ratio(rates):\n    return rates.min() / rates.max()\n",
}
WRONG = {
    "approval_rates": (
        'def approval_rates(df):\n    return df.groupby("district")["approved"].sum()\n'
    ),
    "disparity_ratio": "def disparity_ratio(rates):\n    return rates.max() - rates.min()\n",
}


def learner_nb():
    """The released learner notebook."""
    from ai4scale.grading.labformat import learner_version, read_source_notebook

    return learner_version(read_source_notebook(LAB / NOTEBOOK), name=NOTEBOOK)


def answered(answers, *, first=None, nb=None):
    """The learner notebook with ``answers`` in the solution cells and ``first`` after cell 1."""
    nb = copy.deepcopy(nb or learner_nb())
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    if first:
        nb.cells.insert(2, new_code_cell(first))
    return nb


def _write(nb, d, learner):
    (d / learner).mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, d / learner / NOTEBOOK)


def _attack(first):
    return lambda d, learner: _write(answered(WRONG, first=first), d, learner)


def _edit(fn):
    def build(d, learner):
        nb = answered(WRONG)
        fn(nb)
        _write(nb, d, learner)

    return build


def _cell(nb, gid):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


def _raw(content):
    def build(d, learner):
        (d / learner).mkdir(parents=True, exist_ok=True)
        (d / learner / NOTEBOOK).write_bytes(content)

    return build


AST = (
    "import ast\n"
    "class _S(ast.NodeTransformer):\n"
    "    visit_Assert = lambda self, node: ast.Pass()\n"
    "get_ipython().ast_transformers.append(_S())\n"
)
INPUT = (
    "def _drop(lines):\n"
    "    return [l for l in lines if not l.lstrip().startswith(('assert', 'raise'))]\n"
    "get_ipython().input_transformers_post.append(_drop)\n"
)
SHOWTB = "get_ipython().showtraceback = lambda *a, **k: None\n"
EXCEPTHOOK = (
    "import sys\n"
    "sys.excepthook = lambda *a: None\n"
    "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\n"
)
BUILTINS = (
    "import builtins\n"
    "builtins.abs = lambda x: 0\n"
    "builtins.AssertionError = type('AssertionError', (Exception,), {})\n"
)
RUN_CELL = (
    "_ip = get_ipython()\n"
    "_orig = _ip.run_cell_async\n"
    "async def _wrapped(raw_cell, *a, **k):\n"
    "    if 'assert' in raw_cell or 'raise' in raw_cell:\n"
    "        raw_cell = 'pass'\n"
    "    return await _orig(raw_cell, *a, **k)\n"
    "_ip.run_cell_async = _wrapped\n"
    "_orig_sync = _ip.run_cell\n"
    "_ip.run_cell = lambda raw_cell, *a, **k: _orig_sync(\n"
    "    'pass' if ('assert' in raw_cell or 'raise' in raw_cell) else raw_cell, *a, **k)\n"
)
SETTRACE = (
    "import sys, linecache\n"
    "def _local(frame, event, arg):\n"
    "    if event == 'line':\n"
    "        line = linecache.getline(frame.f_code.co_filename, frame.f_lineno).lstrip()\n"
    "        if line.startswith(('assert', 'raise')):\n"
    "            try:\n"
    "                frame.f_lineno = frame.f_lineno + 1\n"
    "            except ValueError:\n"
    "                pass\n"
    "    return _local\n"
    "def _global(frame, event, arg):\n"
    "    return _local if frame.f_code.co_name == '<module>' else None\n"
    "sys.settrace(_global)\n"
)
ALWAYS_EQ = {
    "approval_rates": (
        "class _Any(float):\n"
        "    def __new__(cls): return float.__new__(cls, 0.75)\n"
        "    __eq__ = lambda s, o: True\n"
        "    __ne__ = lambda s, o: False\n"
        "    __sub__ = lambda s, o: _Any()\n"
        "    __abs__ = lambda s: 0.0\n"
        "    __lt__ = lambda s, o: True\n"
        "class _Rates(dict):\n"
        "    __getitem__ = lambda s, k: _Any()\n"
        "def approval_rates(df):\n"
        "    return _Rates()\n"
    ),
    "disparity_ratio": "def disparity_ratio(rates):\n    return _Any()\n",
}


def _points(nb):
    _cell(nb, "test_approval_rates").metadata.nbgrader["points"] = 100


def _edit_tests(nb):
    _cell(nb, "test_approval_rates").source = "pass\n"
    _cell(nb, "test_disparity_ratio").source = "2.0\n"


def _rename(nb):
    cell = _cell(nb, "test_approval_rates")
    cell.metadata.nbgrader["grade_id"] = "my_own_test"
    cell.source = "pass\n"


def _duplicate(nb):
    cell = _cell(nb, "test_approval_rates")
    copy_ = copy.deepcopy(cell)
    copy_.source = "pass\n"
    nb.cells.insert(nb.cells.index(cell), copy_)
    nb.cells.remove(cell)
    nb.cells.append(cell)  # the real one last, the fake one where the test was


def _symlink(d, learner):
    (d / learner).mkdir(parents=True, exist_ok=True)
    os.symlink("/etc/passwd", d / learner / NOTEBOOK)


def _nbformat3(d, learner):
    (d / learner).mkdir(parents=True, exist_ok=True)
    data = json.loads(nbformat.writes(answered(RIGHT)))
    data["nbformat"] = 3
    (d / learner / NOTEBOOK).write_text(json.dumps(data))


def _null(d, learner):
    nb = answered(RIGHT)
    nb.cells[2].source += "\x00"
    (d / learner).mkdir(parents=True, exist_ok=True)
    (d / learner / NOTEBOOK).write_text(nbformat.writes(nb))


ATTACKS = {
    "ast-transformer": (_attack(AST), "tampered"),
    "input-transformer": (_attack(INPUT), "tampered"),
    "showtraceback": (_attack(SHOWTB), "tampered"),
    "excepthook": (_attack(EXCEPTHOOK), "zero"),
    "patched-builtins": (_attack(BUILTINS), "tampered"),
    "run-cell-wrapper": (_attack(RUN_CELL), "tampered"),
    "settrace": (_attack(SETTRACE), "zero"),
    "always-equal": (lambda d, n: _write(answered(ALWAYS_EQ), d, n), "zero"),
    "edited-tests": (_edit(_edit_tests), "flag:edited_cells"),
    "changed-points": (_edit(_points), "flag:changed_points"),
    "changed-grade-id": (_edit(_rename), "flag:unknown_grade_ids"),
    "duplicated-ids": (_edit(_duplicate), "flag:duplicated_ids"),
    "big-output": (_attack("print('x' * 50_000_000)\n"), "zero"),
    "os-exit": (_attack("import os\nos._exit(0)\n"), "zero"),
    "sys-exit": (_attack("import sys\nsys.exit(0)\n"), "zero"),
    "infinite-loop": (_attack("while True:\n    pass\n"), "zero"),
    "null-bytes": (_null, "rejected"),
    "not-json": (_raw(b"{this is not json"), "rejected"),
    "nbformat-3": (_nbformat3, "rejected"),
    "missing-cells": (_raw(b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}}'), "rejected"),
    "symlink-escape": (_symlink, "rejected"),
    "..traversal": (lambda d, n: _write(answered(RIGHT), d, n), "rejected"),
}


def write_honest(d, learner, answers=RIGHT):
    """Write an honest submission (default: right answers)."""
    _write(answered(answers), d, learner)
    return d / learner / NOTEBOOK
