"""Tracks: one lab, two learner versions (guided and analyst), graded alike.

A lab's source notebook holds the reference solution. Learners of the
*analyst* track get nbgrader's placeholder in each solution cell and write
the code themselves. Learners of the *guided* track get the code written out
with one to three blanks (``...``) to complete, when the cell's metadata
gives it::

    {"ai4scale": {"guided": "rate = ...  # approved divided by applications"}}

A cell may also be shown in one track only (a worked example before an
exercise): ``{"ai4scale": {"track": "guided"}}``. Such cells carry no
nbgrader metadata, so the grader treats them as the learner's own cells.
Code cells, test cells, ``grade_id`` s and points are the same in every
track: one autograder and one gradebook serve both.
"""

from __future__ import annotations

import difflib
import re

from ._metadata import MetadataError, is_grade, is_solution, is_task

__all__ = [
    "DEFAULT_TRACK",
    "GUIDED_MAX_LINES",
    "TRACKS",
    "cell_track",
    "exercise_titles",
    "guided_changes",
    "guided_source",
    "has_guided",
]

#: The tracks, the default first.
TRACKS = ("guided", "analyst")
#: What learners get unless a release names another track.
DEFAULT_TRACK = "guided"
#: At most this many code lines of a guided cell may differ from the reference.
GUIDED_MAX_LINES = 3

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.M)
_NUMBERING = re.compile(
    r"^(?:(?:part|step|exercise|task|question)\s+)?\(?\d+[a-z]?(?:\.\d+)?[.):]?\)?[.:]?\s+", re.I
)
_POINTS = re.compile(r"\s*\([^()]*\b(?:points?|pts?)\b[^()]*\)\s*$", re.I)


def _ours(cell):
    meta = cell.get("metadata", {}).get("ai4scale")
    return meta if isinstance(meta, dict) else {}


def cell_track(cell):
    """Return the track a cell is shown in, or None for every track."""
    track = _ours(cell).get("track")
    return track if track in TRACKS else None


def guided_source(cell):
    """Return the guided track's code of a solution cell, or None."""
    text = _ours(cell).get("guided")
    return text if isinstance(text, str) and text.strip() else None


def has_guided(nb):
    """Return True when any cell of ``nb`` differs between the tracks."""
    return any(guided_source(c) or cell_track(c) for c in nb.cells)


def check_track(track):
    """Return ``track`` when known, else raise MetadataError."""
    if track not in TRACKS:
        raise MetadataError(f"unknown track {track!r} (known: {', '.join(TRACKS)})")
    return track


def _reference_lines(source):
    """Code lines of a solution cell as completed: markers gone, blanks and comments too."""
    out = []
    for line in source.split("\n"):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        out.append(text)
    return out


def guided_changes(cell):
    """Return how many code lines of a guided cell differ from the reference.

    Blank and comment-only lines do not count; a line changed in place
    counts once.
    """
    guided = guided_source(cell)
    if guided is None:
        return 0
    a, b = _reference_lines(cell.source), _reference_lines(guided)
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    return sum(
        max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in matcher.get_opcodes() if op != "equal"
    )


def _clean_title(text):
    text = re.sub(r"[*_`]", "", text).strip()
    text = _POINTS.sub("", text)
    text = _NUMBERING.sub("", text)
    return text.strip(" .:") or None


def _from_id(grade_id):
    words = re.sub(r"^(test|check|answer)_", "", grade_id).replace("_", " ").strip()
    return (words[:1].upper() + words[1:]) if words else grade_id


def exercise_titles(nb):
    """Return ``{grade_id: title}`` of a notebook's graded and answer cells.

    The title is ``metadata.ai4scale.title`` when the cell has one, else the
    last Markdown heading before the cell (numbering and "(3 points)" taken
    off), else the ``grade_id`` in words. Several items under one heading
    are told apart by "(2)", "(3)".
    """
    titles, heading, used = {}, None, {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader") or {}
        gid = meta.get("grade_id")
        if cell.cell_type == "markdown" and not meta.get("solution"):
            found = _HEADING.findall(cell.source)
            if found:
                heading = _clean_title(found[-1]) or heading
        if not gid or not (is_grade(cell) or is_solution(cell) or is_task(cell)):
            continue
        title = _ours(cell).get("title") or heading or _from_id(gid)
        kind = "test" if is_grade(cell) and not is_solution(cell) else "answer"
        key = (title, kind)
        used[key] = used.get(key, 0) + 1
        titles[gid] = title if used[key] == 1 else f"{title} ({used[key]})"
    return titles
