"""Export the gradebook: one row per learner, one column per lab and per item."""

from __future__ import annotations

import csv
import json

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ._models import Lab, Learner, Notebook, Team
from ._records import item_keys

__all__ = ["export_csv", "export_json", "export_table", "flag_summary", "write_csv"]

#: What the grading engine's submission flags say, in the export's words.
FLAG_WORDS = (
    ("tampered", "tampered"),
    ("lying_values", "values that lie"),
    ("setup_failed", "setup failed"),
    ("review", "to review"),
    ("missing_notebooks", "notebook missing"),
)


def flag_summary(score):
    """Return what a trainer must know of a graded submission before trusting its total.

    Parameters
    ----------
    score : dict
        One entry of :meth:`Gradebook.scores` (``submission``, ``flags``).

    Returns
    -------
    str
        ``"tampered; to review"`` and the like; ``"rejected"`` for a
        submission the engine refused; empty when nothing is flagged.
    """
    flags = score.get("flags") or {}
    words = [word for key, word in FLAG_WORDS if flags.get(key)]
    if score["submission"].status == "rejected":
        words.insert(0, "rejected")
    return "; ".join(words)


def export_table(gradebook, *, labs=None, archived=False):
    """Return the gradebook as a table: one row per learner.

    Each learner's score in a lab is that of the newest current submission
    among their own and their teams' (a team's submission counts for every
    member). The manual score of an item overrides the automatic one.
    Learners without a submission, and items not scored yet, get None.

    Parameters
    ----------
    gradebook : Gradebook
    labs : Iterable[str], optional
        Lab ids, in column order; default every lab, sorted by id.
    archived : bool
        Include archived labs (in the default list) and archived learners.

    Returns
    -------
    columns : list of str
        ``username``, ``full_name``, then per lab ``<lab>:total``,
        ``<lab>:flags`` (:func:`flag_summary`: tampered, values that lie,
        setup failed, to review, ...; empty when nothing is flagged) and
        ``<lab>:<item>`` in notebook order (``<item>`` is the ``grade_id``,
        or ``<notebook>/<grade_id>`` when it repeats across notebooks).
    rows : list of dict
        Column -> value (str for names and flags, float or None for scores).
    """
    with gradebook.session() as s:
        if labs is None:
            q = select(Lab.slug).order_by(Lab.slug)
            labs = list(s.scalars(q if archived else q.where(Lab.archived_at.is_(None))))
        q = select(Learner).order_by(Learner.username)
        learners = list(s.scalars(q if archived else q.where(Learner.archived_at.is_(None))))
        teams_of = {}
        for team in s.scalars(select(Team).options(selectinload(Team.members))):
            for m in team.members:
                teams_of.setdefault(m.username, []).append(team.name)
        columns = ["username", "full_name"]
        per_lab = []
        for slug in labs:
            lab = s.scalar(
                select(Lab)
                .where(Lab.slug == slug)
                .options(selectinload(Lab.notebooks).selectinload(Notebook.items))
            )
            if lab is None:
                raise KeyError(f"unknown lab {slug!r}")
            keys = list(item_keys(lab).values())
            columns += [f"{slug}:total", f"{slug}:flags"] + [f"{slug}:{k}" for k in keys]
            per_lab.append((slug, keys))
    rows = [{"username": x.username, "full_name": x.full_name} for x in learners]
    for slug, keys in per_lab:
        by_owner = {
            (sc["submission"].owner_kind, sc["submission"].owner): sc
            for sc in gradebook.scores(slug)
        }
        for row in rows:
            user = row["username"]
            candidates = [by_owner.get(("learner", user))]
            candidates += [by_owner.get(("team", t)) for t in teams_of.get(user, [])]
            candidates = [c for c in candidates if c is not None]
            chosen = max(
                candidates,
                key=lambda c: (c["submission"].submitted_at, c["submission"].id),
                default=None,
            )
            row[f"{slug}:total"] = chosen["total"] if chosen else None
            row[f"{slug}:flags"] = flag_summary(chosen) if chosen else ""
            for k in keys:
                item = chosen["items"].get(k) if chosen else None
                row[f"{slug}:{k}"] = item["score"] if item else None
    return columns, rows


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(round(value, 6))
    return str(value)


def export_csv(gradebook, file, *, labs=None, archived=False):
    """Write the table of :func:`export_table` as CSV (empty cell: no score).

    Parameters
    ----------
    gradebook : Gradebook
    file : text file
        Opened with ``newline=""``.
    labs : Iterable[str], optional
    archived : bool
        Include archived labs and learners.
    """
    columns, rows = export_table(gradebook, labs=labs, archived=archived)
    write_csv(columns, rows, file)


def write_csv(columns, rows, file):
    """Write rows of :func:`export_table` as CSV: empty cell for no score, no trailing zeros.

    Parameters
    ----------
    columns : list of str
    rows : list of dict
    file : text file
        Opened with ``newline=""``.
    """
    writer = csv.writer(file, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row[c]) for c in columns])


def export_json(gradebook, file, *, labs=None, archived=False):
    """Write the table of :func:`export_table` as JSON (``null``: no score).

    Parameters
    ----------
    gradebook : Gradebook
    file : text file
    labs : Iterable[str], optional
    archived : bool
        Include archived labs and learners.
    """
    columns, rows = export_table(gradebook, labs=labs, archived=archived)
    json.dump({"columns": columns, "rows": rows}, file, indent=1, ensure_ascii=False)
    file.write("\n")
