"""Attack submissions built for any lab from its reference answers.

Each attack hands in the right answers *plus* a trick, so a grader that
misses the trick gives full marks: the expectation is that the trick is
seen. ``ATTACKS`` maps a name to ``(build, expectation)``; ``build(nb)``
changes a solved learner notebook in place; expectations are
``"tampered"`` (flagged, every autograded item zero), ``"run"`` (the run
ended early, autograded items zero) and ``"flag:<edit>"`` (the sanitiser's
flag; the grader's own tests put back).
"""

from __future__ import annotations

import re

_DEF = re.compile(r"^def (\w+)\(", re.M)

LIAR = (
    "class _L(float):\n"
    "    __eq__ = lambda s, o: True\n"
    "    __ne__ = lambda s, o: False\n"
    "    __sub__ = lambda s, o: _L(0.0)\n"
    "    __rsub__ = lambda s, o: _L(0.0)\n"
    "    __abs__ = lambda s: 0.0\n"
    "    __lt__ = lambda s, o: True\n"
    "def _lie(fn):\n"
    "    def wrapped(*a, **k):\n"
    "        r = fn(*a, **k)\n"
    "        return _L(r) if type(r) in (int, float) or 'float' in type(r).__name__ else r\n"
    "    return wrapped\n"
)
AST = (
    "import ast\n"
    "class _S(ast.NodeTransformer):\n"
    "    visit_Assert = lambda self, node: ast.Pass()\n"
    "get_ipython().ast_transformers.append(_S())\n"
)
BUILTINS = "import builtins\nbuiltins.abs = lambda x: 0\n"
EXCEPTHOOK = "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\n"


def _answers(nb):
    return [
        c
        for c in nb.cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")
    ]


def _tests(nb):
    return [
        c
        for c in nb.cells
        if c.cell_type == "code"
        and c.metadata.get("nbgrader", {}).get("grade")
        and not c.metadata["nbgrader"].get("solution")
    ]


def lying_values(nb):
    """Every number an answer function returns comes back as a float that lies."""
    for cell in _answers(nb):
        names = _DEF.findall(cell.source)
        if names:
            cell.source = LIAR + cell.source + "\n" + "".join(f"{n} = _lie({n})\n" for n in names)


def _prefix(code):
    def build(nb):
        first = _answers(nb)[0]
        first.source = code + first.source

    return build


def kernel_exit(nb):
    """The kernel ends itself in the last answer cell."""
    last = _answers(nb)[-1]
    last.source += "\nimport os\nos._exit(0)\n"


def edited_test(nb):
    """The first test cell changed to pass anything: the grader's own test is put back."""
    _tests(nb)[0].source = "pass\n"


ATTACKS = {
    "lying-values": (lying_values, "tampered"),
    "ast-transformer": (_prefix(AST), "tampered"),
    "patched-builtins": (_prefix(BUILTINS), "tampered"),
    "custom-exc": (_prefix(EXCEPTHOOK), "tampered"),
    "kernel-exit": (kernel_exit, "run"),
    "edited-test": (edited_test, "flag:edited_cells"),
}
