"""The guard cell and probe cells: tampering seen from inside the kernel.

Canaries (:mod:`._canary`) show tampering that changes how *every* failure
is reported. A learner's hook can instead act only on test cells -- an AST
transformer that recognises them, a ``sys.settrace`` function installed by
the learner's function while a test calls it, a ``post_run_cell`` callback
that clears the test's error -- and leave canaries alone. So the first cell
of every run is a guard (:mod:`._guard_kernel`, run before any learner
code) that records such hooks when they are installed, and checks the
failure-reporting machinery after every cell; probe cells, after every test
cell and at the end, ask it what it saw and show its answer. A probe's
answer is a keyed hash of its nonce when nothing was seen; the key is drawn
in the kernel and printed by the guard cell, so learner code, which runs
later, cannot forge a clean answer.

Limits. The learner's code runs in the same process, so the guard raises
the bar; it proves nothing:

- Tampering installed and removed inside one cell (a learner function
  that shadows ``abs`` in the notebook's namespace while a test calls it
  and puts it back on its next call) is seen only if it is still there
  after the cell; hidden tests that compare plain values on hidden inputs
  remain the defence against answers that are wrong.
- Library modules and classes are checked for the packages the lab's own
  cells import, at probes only, and only for functions made by the learner
  (a library function moved onto another name is not seen).
- A Python signal handler runs inside whatever frame is executing, the
  guard's included: a handler installed with a fast timer could read the
  guard's state before the next check records the handler. Recorded at
  the next check, not prevented.
- Lying values are found by walking every live class at each probe: a
  class made and freed by the cyclic garbage collector between a test and
  its probe (a class made inside the learner's function, collected while
  the test cell still runs) is not seen. Classes seen once are kept alive
  until the end of the run. The classes that exist when the guard starts
  (the libraries a grading zygote imported) are taken as the libraries':
  a library class outside the lab's own packages that learner code patches
  later is not looked at again.
- A process's memory is its own: code reaching it without the audited
  doors (ctypes, ``/proc/self/mem``, gc) is out of reach of any in-process
  check.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import re
import secrets
import sys
import zlib
from pathlib import Path

__all__ = [
    "GUARD_MARKER",
    "guard_source",
    "imported_packages",
    "probe_answer",
    "probe_source",
    "read_guard_key",
]

#: In the guard's findings about values whose comparisons the learner's code defines.
LYING_VALUES = "the learner's class "
#: Printed by the guard cell before the probe key.
GUARD_MARKER = "ai4scale-guard-key"
#: The file name the guard's code is compiled under (its frames are known by it).
GUARD_FILE = "<ai4scale-guard>"

_PROBE = "ai4scale-probe:"
_KERNEL_SOURCE = Path(__file__).with_name("_guard_kernel.py")


def guard_source(cells, packages=()):
    """Return the source of the guard cell.

    Parameters
    ----------
    cells : list of str
        What to call each code cell that will run, in order (``"cell 3"``),
        in the guard's findings.
    packages : iterable of str
        Top-level packages the lab's own cells import; the guard checks that
        their modules and classes hold no learner code (those installed here:
        the kernel runs the grader's environment).
    """
    # Packed: IPython tokenises and transforms every cell it runs, which costs
    # more than the guard itself for 500 lines; compiled under a name of its own.
    packed = base64.b64encode(zlib.compress(_KERNEL_SOURCE.read_bytes(), 9)).decode()
    return (
        "_ai4scale_guard = {}\n"
        f"exec(compile(__import__('zlib').decompress(__import__('base64').b64decode('{packed}')), "
        f"{GUARD_FILE!r}, 'exec'), _ai4scale_guard)\n"
        f"_ai4scale_guard['install'](cells={[str(c) for c in cells]!r}, "
        f"marker={GUARD_MARKER!r}, packages={_installed(packages)!r})\n"
        "del _ai4scale_guard\n"
    )


def probe_source(nonce=None):
    """Return ``(source, nonce)`` of a probe cell.

    The cell makes the guard answer (reading the lambda's ``__code__`` is
    the question) and shows the answer as its result. Only the guard can
    compute a clean answer, so the way it travels needs no protection (a
    result, not an exception: IPython takes some 50 ms to format a traceback).
    """
    nonce = nonce or secrets.token_hex(16)
    source = (
        f'_ai4scale_probe = lambda nonce="{_PROBE}{nonce}": None\n'
        "_ai4scale_probe.__code__\n"
        '_ai4scale_probe.__dict__.get("answer", "no answer from the check cells")\n'
    )
    return source, nonce


def read_guard_key(outputs):
    """Return the probe key the guard cell printed (bytes), or None."""
    for out in outputs:
        if out.get("output_type") == "stream" and out.get("name") == "stdout":
            m = re.search(rf"^{GUARD_MARKER} ([0-9a-f]{{64}})$", out.get("text", ""), re.M)
            if m:
                return bytes.fromhex(m.group(1))
    return None


def probe_answer(key, nonce, review=""):
    """Return a clean probe's answer: the keyed hash of its nonce (None without a key).

    With ``review`` (what the guard noted that an honest notebook may also
    do), the answer is ``"review: <notes> #<keyed hash of notes and nonce>"``.
    """
    if key is None:
        return None
    signed = (f"review:{review}" if review else "") + f"{_PROBE}{nonce}"
    digest = hashlib.sha256(key + signed.encode()).hexdigest()
    return f"review: {review} #{digest}" if review else digest


_IMPORT = re.compile(r"^\s*(?:from|import)\s+([A-Za-z_][A-Za-z0-9_]*)", re.M)


def imported_packages(sources):
    """Return the top-level packages imported by ``sources`` (code, as text), sorted."""
    return sorted({m.group(1) for source in sources for m in _IMPORT.finditer(source)})


def _installed(packages):
    """Map each importable top-level package to its folder (or ``"built-in"``)."""
    out = {}
    for name in sorted(set(packages)):
        if name in sys.builtin_module_names:
            out[name] = "built-in"
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.origin or not os.path.isabs(spec.origin):
            continue  # a module of the lab's own files, or none: not checked
        folder = os.path.dirname(spec.origin) if spec.submodule_search_locations else spec.origin
        out[name] = os.path.join(folder, "") if spec.submodule_search_locations else folder
    return out
