"""Autograding: sanitise, execute (sandboxed), detect tampering, score, record.

A pipeline of small named steps in nbgrader's preprocessor style:

1. :func:`parse_notebook` -- refuse malformed files and unsafe names;
2. :func:`sanitise` -- restore every non-solution cell from the source, flag edits;
3. :func:`insert_canaries` -- hidden cells that must fail, and be reported failing;
4. an executor (:class:`SandboxExecutor` by default as root, :class:`LocalExecutor`);
5. :func:`check_canaries` and :func:`score_run` -- decide from the kernel's evidence;
6. :func:`grade_batch` -- workers in parallel, each result recorded as it ends.
"""

from ._canary import Canary, check_canaries, insert_canaries
from ._execute import LocalExecutor, SandboxExecutor, default_executor, sandbox_available
from ._parse import MAX_NOTEBOOK_BYTES, SubmissionError, check_name, parse_notebook
from ._pipeline import (
    GradedSubmission,
    GradingLab,
    find_submissions,
    grade_batch,
    grade_submission,
    gradebook_items,
    open_lab,
)
from ._preload import lab_preload, start_early
from ._sanitise import sanitise
from ._score import score_run, zero_autograded

__all__ = [
    "MAX_NOTEBOOK_BYTES",
    "Canary",
    "GradedSubmission",
    "GradingLab",
    "LocalExecutor",
    "SandboxExecutor",
    "SubmissionError",
    "check_canaries",
    "check_name",
    "default_executor",
    "find_submissions",
    "grade_batch",
    "grade_submission",
    "gradebook_items",
    "insert_canaries",
    "lab_preload",
    "open_lab",
    "parse_notebook",
    "sandbox_available",
    "sanitise",
    "score_run",
    "start_early",
    "zero_autograded",
]
