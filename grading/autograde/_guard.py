"""The guard cell and probe cells: tampering seen from inside the kernel.

Canaries (:mod:`._canary`) show tampering that changes how *every* failure
is reported. A learner's hook can instead act only on test cells -- an AST
transformer that recognises them, a ``sys.settrace`` function installed by
the learner's function while a test calls it, a ``post_run_cell`` callback
that clears the test's error -- and leave canaries alone. So the first cell
of every run is a guard (:mod:`._guard_kernel`, run before any learner
code) that records such hooks when they are installed, and checks the
failure-reporting machinery before and after every cell; probe cells, after
every test cell and at the end, ask it what it saw. A probe's answer is a
keyed hash of its nonce when nothing was seen; the key is drawn in the
kernel and printed by the guard cell, so learner code, which runs later,
cannot forge a clean answer.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from pathlib import Path

__all__ = [
    "GUARD_MARKER",
    "guard_source",
    "probe_answer",
    "probe_source",
    "read_guard_key",
]

#: Printed by the guard cell before the probe key.
GUARD_MARKER = "ai4scale-guard-key"

_PROBE = "ai4scale-probe:"
_KERNEL_SOURCE = Path(__file__).with_name("_guard_kernel.py")


def guard_source(cells):
    """Return the source of the guard cell.

    Parameters
    ----------
    cells : list of str
        What to call each code cell that will run, in order (``"cell 3"``),
        in the guard's findings.
    """
    source = _KERNEL_SOURCE.read_text(encoding="utf-8")
    return (
        f"{source}\n"
        f"install(cells={[str(c) for c in cells]!r}, marker={GUARD_MARKER!r})\n"
        "del install\n"
    )


def probe_source(nonce=None):
    """Return ``(source, nonce)`` of a probe cell.

    The cell makes the guard answer (reading the lambda's ``__code__`` is
    the question) and raises ``KeyError(answer)`` from a dict literal, a
    path no learner code can replace.
    """
    nonce = nonce or secrets.token_hex(16)
    source = (
        f'_ai4scale_probe = lambda nonce="{_PROBE}{nonce}": None\n'
        "_ai4scale_probe.__code__\n"
        '{}[_ai4scale_probe.__dict__.get("answer", "no answer from the check cells")]\n'
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


def probe_answer(key, nonce):
    """Return the ``evalue`` of a clean probe: the repr of the keyed hash."""
    return repr(hashlib.sha256(key + f"{_PROBE}{nonce}".encode()).hexdigest())
