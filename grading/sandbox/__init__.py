"""Sandboxed execution of one notebook.

A fresh kernel per run, as an unprivileged grading account, in its own cgroup
and network, mount, pid and IPC namespaces, with per-cell and per-notebook timeouts and an
output cap. The kernel is a new interpreter (:meth:`Sandbox.run`), or a fork of a
:class:`Zygote` that imported the lab's libraries once (:meth:`Zygote.run`).

>>> from ai4scale.grading.sandbox import run_notebook  # doctest: +SKIP
>>> result = run_notebook("submission.ipynb", cell_timeout=10)  # doctest: +SKIP
>>> result.outcome, [c.status for c in result.cells]  # doctest: +SKIP
('completed', ['ok', 'error'])
"""

from ._account import GRADER_ACCOUNT, ensure_grader_account, remove_grader_account
from ._pool import KernelPool, ZygotePool
from ._results import OUTCOMES, TRUNCATED, CellResult, RunResult
from ._sandbox import Sandbox, SandboxKernel, parse_size, run_notebook, run_once
from ._zygote import ForkedProcess, Zygote, ZygoteError, needs_fresh_interpreter

__all__ = [
    "GRADER_ACCOUNT",
    "KernelPool",
    "OUTCOMES",
    "TRUNCATED",
    "CellResult",
    "ForkedProcess",
    "RunResult",
    "Sandbox",
    "SandboxKernel",
    "Zygote",
    "ZygotePool",
    "ZygoteError",
    "ensure_grader_account",
    "parse_size",
    "needs_fresh_interpreter",
    "remove_grader_account",
    "run_notebook",
    "run_once",
]
