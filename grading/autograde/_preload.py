"""The lab's imports, to run in pre-started kernels or zygotes before a submission arrives."""

from __future__ import annotations

import ast
import os

from ai4scale.grading.labformat._metadata import is_solution

__all__ = ["lab_preload", "start_early"]


def start_early(glab, submissions_dir, *, executor, workers=None):
    """Start the executor's grading zygotes now, before the batch is registered.

    They import the lab's libraries while the caller opens the gradebook and
    registers the submissions; :func:`grade_batch` then uses them (and closes
    them at its end; close them with ``executor.close_pool()`` if it is not
    called). Only for an executor that forks its kernels
    (``SandboxExecutor(fork=True)``) and a lab with imports to preload.

    Parameters
    ----------
    glab : GradingLab
    submissions_dir : str or Path
    executor : object
    workers : int, optional
        As for :func:`grade_batch`.

    Returns
    -------
    bool
        Whether zygotes were started.
    """
    from ._pipeline import find_submissions

    if not getattr(executor, "fork", False) or not hasattr(executor, "open_pool"):
        return False
    preload = lab_preload(glab.sources)
    runs = len(find_submissions(submissions_dir)) * len(glab.sources)
    if not preload or not runs:
        return False
    executor.open_pool(preload=preload, size=workers or os.cpu_count() or 1, limit=runs)
    return True


def lab_preload(sources):
    r"""Return code that imports what the lab's non-solution code cells import.

    Only top-level ``import``/``from ... import`` statements of the source
    notebooks' cells that are not solution cells (teacher's code, restored by
    the sanitiser anyway) are taken, each in its own ``try`` so that one
    failing import does not stop the others. Cells that do not parse as
    Python (magics) are read line by line.

    Parameters
    ----------
    sources : dict
        Notebook name -> source notebook (``GradingLab.sources``).

    Returns
    -------
    str
        Empty when the lab imports nothing.

    Examples
    --------
    >>> from nbformat.v4 import new_code_cell, new_notebook
    >>> nb = new_notebook(cells=[new_code_cell("import numpy as np\nx = 1")])
    >>> print(lab_preload({"a.ipynb": nb}))
    try:
        import numpy as np
    except Exception:
        pass
    """
    lines = []
    for nb in sources.values():
        for cell in nb.cells:
            if cell.cell_type != "code" or is_solution(cell):
                continue
            for stmt in _imports(cell.source):
                if stmt not in lines:
                    lines.append(stmt)
    return "\n".join(f"try:\n    {s}\nexcept Exception:\n    pass" for s in lines)


def _imports(source):
    try:
        tree = ast.parse(source)
    except SyntaxError:
        found = []
        for line in source.splitlines():
            if line.startswith(("import ", "from ")):
                try:
                    found += _imports_of(ast.parse(line))
                except SyntaxError:
                    continue
        return found
    return _imports_of(tree)


def _imports_of(tree):
    return [
        ast.unparse(node)
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")
        and not (isinstance(node, ast.ImportFrom) and node.level)
    ]
