"""Step 1: read a submitted notebook, refusing malformed files and unsafe names."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

__all__ = ["MAX_NOTEBOOK_BYTES", "SubmissionError", "check_name", "parse_notebook"]

#: Largest submitted notebook file read (bytes); bigger ones are refused unread.
MAX_NOTEBOOK_BYTES = 20 << 20

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")


class SubmissionError(ValueError):
    """A submission that cannot be graded; the message says why (one line)."""


def check_name(name, *, what="name"):
    """Return ``name`` if it is a safe learner or notebook file name.

    Letters, digits and ``._@+-``, not starting with a dot or a dash, no ``..``,
    at most 128 characters: no path separators, so no path traversal.

    Raises
    ------
    SubmissionError
    """
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise SubmissionError(f"unsafe {what} {name!r}: path traversal or odd characters")
    return name


def parse_notebook(path, *, max_bytes=MAX_NOTEBOOK_BYTES):
    """Read and check one submitted notebook file.

    Parameters
    ----------
    path : str or Path
        The submitted ``.ipynb``; a symbolic link is refused (it could point
        anywhere on the grader's machine).
    max_bytes : int
        Size limit of the file.

    Returns
    -------
    nbformat.NotebookNode
        A valid nbformat 4 notebook.

    Raises
    ------
    SubmissionError
        Not a regular file, too big, null bytes, not JSON, not nbformat 4,
        missing or malformed cells.
    """
    path = Path(path)
    if path.is_symlink() or not path.is_file():
        raise SubmissionError(f"{path.name}: not a regular file (links are refused)")
    if path.stat().st_size > max_bytes:
        raise SubmissionError(f"{path.name}: larger than {max_bytes} bytes")
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise SubmissionError(f"{path.name}: contains null bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise SubmissionError(f"{path.name}: not a JSON notebook ({e})") from None
    if not isinstance(data, dict):
        raise SubmissionError(f"{path.name}: not a notebook (JSON {type(data).__name__})")
    if data.get("nbformat") != 4:
        raise SubmissionError(f"{path.name}: nbformat {data.get('nbformat')!r}, expected 4")
    if not isinstance(data.get("cells"), list):
        raise SubmissionError(f"{path.name}: no list of cells")
    if "\x00" in raw.decode("utf-8", "replace") or "\\u0000" in raw.decode("utf-8").lower():
        raise SubmissionError(f"{path.name}: contains null bytes")
    _dedupe_cell_ids(data)
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
        nbformat.validate(nb)
    except Exception as e:  # nbformat raises ValidationError and others
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise SubmissionError(f"{path.name}: not a valid nbformat 4 notebook ({msg})") from None
    return nb


def _dedupe_cell_ids(data):
    """Give copied cells fresh ids (nbformat refuses duplicates); the rest stays."""
    seen = set()
    for i, cell in enumerate(data["cells"]):
        if isinstance(cell, dict) and "id" in cell:
            if cell["id"] in seen:
                cell["id"] = f"dup-{i}"
            seen.add(cell["id"])
