"""Feedback: one self-contained HTML page per graded submission.

A page shows each item's score and status, the failure message (cleaned of
anything that could quote hidden tests or the grader's check cells), the
trainer's comments, the learner's own answer cells from the submitted
notebook, the totals and the submission's flags in plain language.
"""

from ._collect import LYING_VALUES_MESSAGE, SubmissionFeedback, collect_feedback, write_feedback
from ._plain import item_titles, plain_message
from ._redact import hidden_fragments, safe_message
from ._render import render_feedback, when

__all__ = [
    "LYING_VALUES_MESSAGE",
    "SubmissionFeedback",
    "collect_feedback",
    "hidden_fragments",
    "item_titles",
    "plain_message",
    "render_feedback",
    "safe_message",
    "when",
    "write_feedback",
]
