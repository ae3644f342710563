"""Gather what a feedback page shows: gradebook rows, the lab's items, the learner's cells."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from ai4scale.grading.autograde._setup import SETUP_FAILED, SETUP_FAILED_MESSAGE
from ai4scale.grading.labformat import is_solution, lab_items

from ._plain import item_titles, plain_message
from ._redact import hidden_fragments, safe_message

__all__ = ["SubmissionFeedback", "collect_feedback", "write_feedback"]

#: Longest answer cell shown (characters); the rest is cut with a note.
MAX_CELL_CHARS = 20_000


@dataclass
class SubmissionFeedback:
    """Everything one feedback page shows (plain values, safe to render).

    ``items``: dicts with notebook, grade_id, title (the lab's words for
    it), kind, score, max_points, status, message (cleaned, in plain words),
    comments. ``cells``: dicts with notebook, grade_id, title
    (None for a cell the learner added), cell_type, source. ``notes``: the
    submission's flags in plain language.
    """

    lab: str
    title: str
    owner: str
    owner_kind: str
    version: int
    submitted_at: dt.datetime | None
    graded_at: dt.datetime | None
    status: str
    total: float | None
    max_total: float
    items: list = field(default_factory=list)
    cells: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    code_note: str = ""


_EDITS = {
    "edited_cells": "you changed test or read-only cells; the original cells were graded",
    "changed_points": "you changed the points of an item; the lab's points were used",
    "changed_metadata": "you changed a cell's grading metadata; the lab's metadata was used",
    "changed_cell_type": "you changed the type of a graded cell; the original cell was graded",
    "unknown_grade_ids": "your notebook has graded cells the lab does not have; they were ignored",
    "duplicated_ids": "you copied graded cells; only the first copy was graded",
    "missing_cells": "you deleted graded cells; the original cells were put back and graded",
    "reordered_cells": "you moved test or read-only cells; they were put back in their place",
    "deleted_answers": "you deleted answer cells; those answers score zero",
}
_RUNS = {
    "cell_timeout": "a cell ran longer than the time allowed per cell, so the run stopped there",
    "notebook_timeout": "the notebook ran longer than the time allowed, so the run stopped",
    "kernel_died": "your code stopped Python (for example os._exit or sys.exit, or a crash)",
    "memory_limit": "your code used more memory than allowed, so the run stopped",
    "output_limit": "your code printed more output than allowed, so the run stopped",
    "startup_failed": "the grader could not start Python for your notebook; ask your trainer",
    "protocol_error": "your code broke how Python talks to the grader, so the run stopped",
}
#: For learners whose answers were values made to pass any comparison.
LYING_VALUES_MESSAGE = (
    "Some of your answers were made to look equal to any expected value (your notebook "
    "defines its own kind of number, text or table that changes how values are compared). "
    "The checks cannot trust such answers, so every automatically graded item scores zero. "
    "Give the plain result of your calculation; if you think this is a mistake, talk to "
    "your trainer."
)
_TAMPERED = (
    "Your notebook changed how Python reports errors (for example by rewriting assert "
    "statements, hiding tracebacks or wrapping cell execution). The grader could not trust "
    "the test results, so every automatically graded item scores zero. If you think this is "
    "a mistake, talk to your trainer."
)


def _notes(sub, flags, message, titles=None):
    titles = titles or {}
    notes = []
    if sub.status == "rejected":
        notes.append(f"Your submission could not be graded: {message}")
    if flags.get("lying_values"):
        notes.append(LYING_VALUES_MESSAGE)
    elif flags.get("tampered"):
        notes.append(_TAMPERED)
    if flags.get("setup_failed"):
        notes.append(SETUP_FAILED_MESSAGE)
    for name in flags.get("missing_notebooks", []):
        notes.append(f"{name} was not in your submission; its items score zero.")
    for name, edits in sorted((flags.get("edits") or {}).items()):
        for kind, ids in sorted(edits.items()):
            text = _EDITS.get(kind, "you changed cells of the lab; the original cells were graded")
            named = sorted({titles.get((name, str(i)), "") for i in ids} - {""})
            notes.append(f"{name}: {text}" + (f" ({'; '.join(named)})." if named else "."))
    for name, why in sorted((flags.get("run") or {}).items()):
        outcome = str(why).partition(":")[0]
        notes.append(f"{name}: {_RUNS.get(outcome, 'the run ended early')}.")
    if sub.late:
        notes.append("This submission was handed in after the due date.")
    return notes


def _learner_cells(glab, sub, submissions_dir):
    """Return (cells, note): the learner's answer cells of the files graded."""
    import nbformat
    from ai4scale.grading.autograde import SubmissionError, parse_notebook
    from ai4scale.grading.gradebook import sha256_file

    if submissions_dir is None:
        return [], "Your code is not shown: the grader ran without the submitted files."
    cells, missing = [], []
    for name, source in glab.sources.items():
        path = Path(submissions_dir) / sub.owner / name
        if name not in sub.files or not path.is_file() or path.is_symlink():
            missing.append(name)
            continue
        if sha256_file(path) != sub.files[name]:
            missing.append(name)  # changed since grading: not what was graded
            continue
        try:
            nb = parse_notebook(path)
        except (SubmissionError, nbformat.ValidationError):
            missing.append(name)
            continue
        answers = {c.metadata.nbgrader["grade_id"] for c in source.cells if is_solution(c)}
        known = {c.source for c in source.cells}
        titles = item_titles({name: source})
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader")
            gid = meta.get("grade_id") if isinstance(meta, dict) else None
            if gid in answers:
                pass
            elif gid is None and cell.cell_type in ("code", "markdown") and cell.source.strip():
                if cell.source in known:
                    continue  # the lab's own cell
                gid = None
            else:
                continue
            text = cell.source
            if len(text) > MAX_CELL_CHARS:
                text = text[:MAX_CELL_CHARS] + "\n[... cut: the cell is longer ...]"
            cells.append(
                {
                    "notebook": name,
                    "grade_id": gid,
                    "title": titles.get((name, gid)) if gid else None,
                    "cell_type": cell.cell_type,
                    "source": text,
                }
            )
            answers.discard(gid)
    note = ""
    if missing:
        note = "Not shown (missing, changed since grading or unreadable): " + ", ".join(missing)
    return cells, note


def collect_feedback(gradebook, glab, *, submissions_dir=None):
    """Return a :class:`SubmissionFeedback` per current submission of the lab.

    Parameters
    ----------
    gradebook : ai4scale.grading.gradebook.Gradebook
    glab : ai4scale.grading.autograde.GradingLab
        The lab (its source notebooks give the items and the hidden tests to
        keep out of messages).
    submissions_dir : str or Path, optional
        ``<owner>/<notebook>.ipynb``: the learner's cells are shown when the
        file still has the sha256 recorded at grading.

    Returns
    -------
    list of SubmissionFeedback
        Submissions not graded yet (status ``submitted``) are left out.
    """
    from ai4scale.grading.gradebook import Submission

    fragments = hidden_fragments(glab.sources)
    titles = item_titles(glab.sources)
    order = lab_items(glab.sources)
    dup = {i["grade_id"] for i in order if sum(j["grade_id"] == i["grade_id"] for j in order) > 1}
    out = []
    for row in gradebook.scores(glab.id):
        sub = row["submission"]
        if sub.status not in ("graded", "rejected"):
            continue
        with gradebook.session() as s:
            db_sub = s.get(Submission, sub.id)
            flags, message, graded_at = dict(db_sub.flags or {}), db_sub.message, db_sub.graded_at
        items = []
        for spec in order:
            key = spec["grade_id"]
            if key in dup:
                key = f"{spec['notebook']}/{key}"
            res = row["items"].get(key, {})
            status = (res.get("flags") or {}).get("status", "not graded")
            if status == "tampered" and flags.get("lying_values"):
                shown = "set to zero: answers made to look equal to any expected value"
            elif status == "tampered":
                shown = "set to zero: the notebook changed how errors are reported"
            elif status == SETUP_FAILED:
                shown = SETUP_FAILED_MESSAGE
            else:
                shown = plain_message(safe_message(res.get("failure", ""), fragments))
            items.append(
                {
                    "notebook": spec["notebook"],
                    "grade_id": spec["grade_id"],
                    "title": titles.get((spec["notebook"], spec["grade_id"]), "Question"),
                    "kind": spec["kind"],
                    "score": res.get("score"),
                    "max_points": res.get("max_points", spec["points"]),
                    "manual": res.get("manual_score") is not None,
                    "status": status,
                    "message": shown,
                    "comments": res.get("comments") or "",
                }
            )
        cells, code_note = ([], "")
        if sub.status == "graded":
            cells, code_note = _learner_cells(glab, sub, submissions_dir)
        out.append(
            SubmissionFeedback(
                lab=glab.id,
                title=glab.lab.title,
                owner=sub.owner,
                owner_kind=sub.owner_kind,
                version=sub.version,
                submitted_at=sub.submitted_at,
                graded_at=graded_at,
                status=sub.status,
                total=row["total"],
                max_total=row["max_total"],
                items=items,
                cells=cells,
                notes=_notes(sub, flags, safe_message(message, fragments), titles),
                code_note=code_note,
            )
        )
    return out


def write_feedback(gradebook, glab, output_dir, *, submissions_dir=None):
    """Write ``output_dir/<owner>/<lab>.html`` for every graded submission.

    Parameters
    ----------
    gradebook : ai4scale.grading.gradebook.Gradebook
    glab : ai4scale.grading.autograde.GradingLab
    output_dir : str or Path
    submissions_dir : str or Path, optional
        See :func:`collect_feedback`.

    Returns
    -------
    dict
        Owner -> path of the page written.
    """
    from ai4scale.grading.autograde import SubmissionError, check_name

    from ._render import render_feedback

    written = {}
    for fb in collect_feedback(gradebook, glab, submissions_dir=submissions_dir):
        try:
            check_name(fb.owner, what="learner name")
        except SubmissionError:
            continue  # never a path from an unsafe name (not stored anyway)
        folder = Path(output_dir) / fb.owner
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{glab.id}.html"
        tmp = path.with_suffix(".html.tmp")
        tmp.write_text(render_feedback(fb), encoding="utf-8")
        tmp.replace(path)
        written[fb.owner] = path
    return written
