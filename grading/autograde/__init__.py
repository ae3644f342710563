"""Autograding: sanitise, execute (sandboxed), detect tampering, score, record.

A pipeline of small named steps in nbgrader's preprocessor style:

1. :func:`parse_notebook` -- refuse malformed files and unsafe names;
2. :func:`sanitise` -- restore every non-solution cell from the source, flag edits;
3. :func:`insert_canaries` -- hidden cells that must fail, and be reported failing;
4. an executor (:class:`SandboxExecutor` by default, or :class:`SandboxUnavailable`
   saying why it cannot run; :class:`LocalExecutor` only when asked for by name);
5. :func:`check_canaries` and :func:`score_run` -- decide from the kernel's evidence;
   :func:`find_setup_failure` -- a failing setup cell of the lab is not the learner's;
6. :func:`grade_batch` -- workers in parallel, each result recorded as it ends.

Before a batch, :func:`selfcheck` grades the lab's reference solution with the
same executor: anything short of full marks refuses the batch.
"""

from ._canary import Canary, check_canaries, insert_canaries
from ._execute import (
    LocalExecutor,
    SandboxExecutor,
    SandboxUnavailable,
    default_executor,
    sandbox_available,
    sandbox_unavailable_reason,
)
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
from ._selfcheck import SelfCheck, SelfCheckFailed, selfcheck, selfcheck_key
from ._setup import (
    SETUP_FAILED,
    SETUP_FAILED_MESSAGE,
    SetupFailure,
    find_setup_failure,
    setup_cells,
)

__all__ = [
    "MAX_NOTEBOOK_BYTES",
    "SETUP_FAILED",
    "SETUP_FAILED_MESSAGE",
    "Canary",
    "GradedSubmission",
    "GradingLab",
    "LocalExecutor",
    "SandboxExecutor",
    "SandboxUnavailable",
    "SelfCheck",
    "SelfCheckFailed",
    "SetupFailure",
    "SubmissionError",
    "check_canaries",
    "check_name",
    "default_executor",
    "find_setup_failure",
    "find_submissions",
    "grade_batch",
    "grade_submission",
    "gradebook_items",
    "insert_canaries",
    "lab_preload",
    "open_lab",
    "parse_notebook",
    "sandbox_available",
    "sandbox_unavailable_reason",
    "sanitise",
    "score_run",
    "selfcheck",
    "selfcheck_key",
    "setup_cells",
    "start_early",
    "zero_autograded",
]
