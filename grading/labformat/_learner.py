"""Learner versions: nbgrader's ``generate_assignment`` steps, deterministic.

Each step is a small function over one cell, applied in nbgrader's order
(lock, clear solutions, clear outputs, clear hidden tests, clear mark scheme,
checksum), so the result matches ``nbgrader generate_assignment`` cell by cell.
"""

from __future__ import annotations

import copy
import hashlib
import re
from pathlib import Path

import nbformat

from ._metadata import (
    MetadataError,
    is_grade,
    is_locked,
    is_solution,
    is_task,
    validate_notebook_metadata,
)
from ._tracks import (
    DEFAULT_TRACK,
    cell_track,
    check_track,
    exercise_titles,
    guided_source,
    has_guided,
)

__all__ = [
    "CODE_STUBS",
    "TEXT_STUB",
    "compute_checksum",
    "learner_version",
    "notebook_bytes",
    "read_source_notebook",
    "write_if_changed",
]

#: Code placeholders per kernel language, as nbgrader's ClearSolutions.code_stub.
CODE_STUBS = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError()",
    "R": "# YOUR CODE HERE\nfail()",
    "matlab": "% YOUR CODE HERE\nerror('No Answer Given!')",
    "octave": "% YOUR CODE HERE\nerror('No Answer Given!')",
    "sas": "/* YOUR CODE HERE */\n %notImplemented;",
    "java": "// YOUR CODE HERE",
}
#: Markdown placeholder, as nbgrader's ClearSolutions.text_stub.
TEXT_STUB = "YOUR ANSWER HERE"

_MARKERS = {
    "solution": ("BEGIN SOLUTION", "END SOLUTION"),
    "hidden": ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"),
    "markscheme": ("BEGIN MARK SCHEME", "END MARK SCHEME"),
}


def compute_checksum(cell):
    """Return nbgrader's checksum of a cell (``nbgrader.utils.compute_checksum``).

    An MD5 of the source, cell type, grade/solution/locked flags, grade_id and,
    for grade cells, the points as a float.
    """
    m = hashlib.md5()
    m.update(cell["source"].encode("utf-8"))
    m.update(cell["cell_type"].encode("utf-8"))
    m.update(str(is_grade(cell)).encode("utf-8"))
    m.update(str(is_solution(cell)).encode("utf-8"))
    m.update(str(is_locked(cell)).encode("utf-8"))
    m.update(cell["metadata"]["nbgrader"]["grade_id"].encode("utf-8"))
    if is_grade(cell):
        m.update(str(float(cell["metadata"]["nbgrader"]["points"])).encode("utf-8"))
    return m.hexdigest()


def _replace_region(source, kind, stub_lines, where):
    """Replace (stub) or drop (None) each marked region; return (source, found)."""
    begin, end = _MARKERS[kind]
    out, inside, found = [], False, False
    for line in source.split("\n"):
        if begin in line:
            if inside:
                raise MetadataError(f"{where}: nested '### {begin}'")
            inside = found = True
            indent = re.match(r"\s*", line).group(0)
            out.extend(indent + s for s in stub_lines or [])
        elif end in line:
            if not inside:
                raise MetadataError(f"{where}: '### {end}' without '### {begin}'")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise MetadataError(f"{where}: '### {begin}' has no matching '### {end}'")
    return "\n".join(out), found


def _lock(cell):
    if is_solution(cell):
        cell.metadata["deletable"] = False
    elif is_grade(cell) or is_locked(cell):
        cell.metadata["deletable"] = False
        cell.metadata["editable"] = False


def _clear_solution(cell, language, where, guided=None):
    stub = CODE_STUBS[language] if cell.cell_type == "code" else TEXT_STUB
    cell.source, found = _replace_region(cell.source, "solution", stub.split("\n"), where)
    if found and not is_solution(cell):
        raise MetadataError(f"{where}: solution region in a cell not marked as a solution cell")
    if guided is not None:
        if not is_solution(cell) or cell.cell_type != "code":
            raise MetadataError(f"{where}: a guided version in a cell that is not a code answer")
        cell.source = guided.strip("\n")
    elif is_solution(cell) and not found:
        cell.source = stub


def _exercise_header(cell, number, title, language):
    """Name the exercise on the first line, so the learner (and the kernel) can tell."""
    if language != "python" or cell.cell_type != "code" or not is_solution(cell):
        return
    if not cell.source.startswith("# Exercise "):  # a learner version read again
        cell.source = f"# Exercise {number}: {title}\n" + cell.source


def _clear_output(cell):
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
        cell.metadata.pop("collapsed", None)
        cell.metadata.pop("scrolled", None)


def _clear_hidden(cell, where):
    cell.source, found = _replace_region(cell.source, "hidden", None, where)
    if found and not is_grade(cell):
        raise MetadataError(f"{where}: hidden tests in a cell not marked as a grade cell")


def _clear_mark_scheme(cell, where):
    cell.source, found = _replace_region(cell.source, "markscheme", None, where)
    if found and not is_task(cell):
        raise MetadataError(f"{where}: mark scheme in a cell not marked as a task cell")


def _checksum(cell):
    if is_grade(cell) or is_solution(cell) or is_locked(cell):
        cell.metadata.nbgrader["checksum"] = compute_checksum(cell)
        cell.metadata.nbgrader["cell_type"] = cell.cell_type


def _has_autotest(source):
    """Return True when a code source holds an nbgrader AUTOTEST directive (unsupported)."""
    return "AUTOTEST" in source or "HASHED AUTOTEST" in source


def read_source_notebook(path, *, name=None):
    """Read a source notebook and validate (upgrading) its nbgrader metadata.

    Parameters
    ----------
    path : str or Path
        The ``.ipynb`` file.
    name : str, optional
        Name in error messages (default: the path).

    Returns
    -------
    nbformat.NotebookNode
        Version 4, metadata upgraded to nbgrader schema 3.

    Raises
    ------
    MetadataError
        When the file is not a notebook or a cell's metadata is malformed.
    """
    name = name or str(path)
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as e:  # nbformat raises several types for unreadable files
        raise MetadataError(f"{name}: not a readable notebook ({e})") from None
    return validate_notebook_metadata(nb, name=name)


def learner_version(nb, *, name="notebook", track=DEFAULT_TRACK):
    """Return the learner version of a validated source notebook (a new object).

    Solutions become nbgrader's placeholders (in the guided track: the cell's
    guided code, with blanks, when it has one), hidden tests and mark schemes
    go, outputs and execution counts are cleared, grade/solution/locked cells
    get ``deletable``/``editable`` flags and nbgrader checksums. In a lab with
    tracks, each code answer starts with a comment naming its exercise
    (``# Exercise 2: ...``); an nbgrader lab's version stays nbgrader's.
    Cells meant for another track are left out (see ``_tracks``).

    Parameters
    ----------
    nb : nbformat.NotebookNode
        A source notebook as returned by :func:`read_source_notebook`.
    name : str
        Name in error messages.
    track : {"guided", "analyst"}
        Which learners the version is for.

    Returns
    -------
    nbformat.NotebookNode

    Raises
    ------
    MetadataError
        On unbalanced or misplaced markers, an unknown kernel language or
        track, or nbgrader AUTOTEST directives (not supported).
    """
    check_track(track)
    nb = copy.deepcopy(nb)
    language = nb.metadata.get("kernelspec", {}).get("language", "python")
    if language not in CODE_STUBS:
        raise MetadataError(f"{name}: no code placeholder for kernel language {language!r}")
    # Our own guided labs name each exercise; an nbgrader lab stays byte for byte nbgrader's.
    titles = exercise_titles(nb) if has_guided(nb) else None
    kept = []
    for index, cell in enumerate(nb.cells):
        shown_in = cell_track(cell)
        if shown_in is not None and "nbgrader" in cell.get("metadata", {}):
            raise MetadataError(f"{name}: cell {index}: a cell of one track cannot be graded")
        if shown_in in (None, track):
            kept.append((index, cell))
    nb.cells = [cell for _, cell in kept]
    exercise = 0
    for index, cell in kept:
        where = f"{name}: cell {index}"
        if cell.cell_type == "code" and _has_autotest(cell.source):
            raise MetadataError(f"{where}: nbgrader AUTOTEST directives are not supported")
        guided = guided_source(cell) if track == "guided" else None
        cell.metadata.pop("ai4scale", None)
        _lock(cell)
        _clear_solution(cell, language, where, guided)
        if titles is not None and is_solution(cell) and cell.cell_type == "code":
            exercise += 1
            gid = cell.metadata["nbgrader"]["grade_id"]
            _exercise_header(cell, exercise, titles.get(gid, gid), language)
        _clear_output(cell)
        _clear_hidden(cell, where)
        _clear_mark_scheme(cell, where)
        _checksum(cell)
    nb.metadata.pop("celltoolbar", None)
    return nb


def notebook_bytes(nb):
    """Serialise a notebook deterministically: nbformat JSON, sorted keys, final newline."""
    text = nbformat.writes(nb)
    if not text.endswith("\n"):
        text += "\n"
    return text.encode("utf-8")


def write_if_changed(nb, path):
    """Write a notebook when its bytes differ; return True when the file changed."""
    path = Path(path)
    data = notebook_bytes(nb)
    if path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".ipynb.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return True
