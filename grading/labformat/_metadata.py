"""nbgrader cell metadata: read schema versions 0-3, upgrade to 3, validate.

The upgrade chain is a small reimplementation of nbgrader's ``nbgraderformat``
(``MetadataValidatorV3.upgrade_cell_metadata``) so that reading a lab does not
need nbgrader installed; tests compare it with nbgrader's own on its corpus.
"""

from __future__ import annotations

import jsonschema

__all__ = [
    "NBGRADER_SCHEMA_VERSION",
    "MetadataError",
    "upgrade_cell_metadata",
    "validate_notebook_metadata",
    "is_grade",
    "is_solution",
    "is_locked",
    "is_task",
]

#: The nbgrader cell-metadata schema version we write.
NBGRADER_SCHEMA_VERSION = 3

#: nbgrader's v3 JSON schema (nbgrader/nbgraderformat/v3.json), restated.
_V3_SCHEMA = {
    "type": "object",
    "properties": {
        "schema_version": {"type": "integer", "minimum": 3, "maximum": 3},
        "grade": {"type": "boolean"},
        "locked": {"type": "boolean"},
        "solution": {"type": "boolean"},
        "task": {"type": "boolean"},
        "grade_id": {"type": "string", "pattern": "^[a-zA-Z0-9_\\-]*$"},
        "points": {"type": "number", "minimum": 0},
        "checksum": {"type": "string", "minLength": 32, "maxLength": 32},
        "cell_type": {"type": "string", "enum": ["raw", "code", "markdown"]},
    },
    "required": ["schema_version", "grade", "locked", "solution"],
    "additionalProperties": False,
}


class MetadataError(ValueError):
    """Malformed nbgrader metadata; the message names the notebook and the cell."""


def _meta(cell):
    return cell.get("metadata", {}).get("nbgrader")


def is_grade(cell):
    """Return True for a grade (test or manually graded answer) cell."""
    meta = _meta(cell)
    return bool(meta and meta.get("grade", False))


def is_solution(cell):
    """Return True for a solution cell."""
    meta = _meta(cell)
    return bool(meta and meta.get("solution", False))


def is_task(cell):
    """Return True for a task cell (a manually graded Markdown task)."""
    meta = _meta(cell)
    return bool(meta and meta.get("task", False))


def is_locked(cell):
    """Return True when the cell's source is restored from the source at grading.

    As in nbgrader: solution cells are never locked, grade cells always are.
    """
    meta = _meta(cell)
    if not meta or is_solution(cell):
        return False
    if is_grade(cell):
        return True
    return bool(meta.get("locked", False))


def _where(nb_name, index, cell):
    meta = _meta(cell) or {}
    gid = meta.get("grade_id") if isinstance(meta, dict) else None
    label = f"cell {index}" + (f" ({gid!r})" if isinstance(gid, str) and gid else "")
    return f"{nb_name}: {label}"


def _upgrade_v0_to_v1(cell):
    meta = cell["metadata"]["nbgrader"]
    for key in ("grade", "solution", "locked"):
        meta.setdefault(key, False)
    if not meta["grade"] and not meta["solution"] and not meta["locked"]:
        del cell["metadata"]["nbgrader"]
        return
    if not meta["grade"]:
        meta.pop("points", None)
    elif "points" in meta:
        points = 0.0 if meta["points"] == "" else float(meta["points"])
        meta["points"] = max(points, 0.0)
    else:
        meta["points"] = 0.0
    meta["schema_version"] = 1


def upgrade_cell_metadata(cell, *, where="cell"):
    """Upgrade one cell's ``nbgrader`` metadata in place to schema version 3.

    Follows nbgrader's chain: v0 fills defaults and drops empty metadata, v1 to
    v2 records ``cell_type`` when a checksum is present, v2 to v3 only bumps the
    version. Unknown keys are removed, as nbgrader does.

    Parameters
    ----------
    cell : dict
        A notebook cell (``nbformat.NotebookNode`` or plain dict).
    where : str
        How to name the cell in error messages.

    Returns
    -------
    dict
        The same cell.

    Raises
    ------
    MetadataError
        When the metadata cannot be read (not a mapping, bad version, bad points).
    """
    if "nbgrader" not in cell.get("metadata", {}):
        return cell
    meta = cell["metadata"]["nbgrader"]
    if not isinstance(meta, dict):
        raise MetadataError(f"{where}: nbgrader metadata is not a mapping")
    version = meta.setdefault("schema_version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise MetadataError(f"{where}: schema_version must be an integer 0-3, not {version!r}")
    if version > NBGRADER_SCHEMA_VERSION:
        raise MetadataError(
            f"{where}: nbgrader schema_version {version} is newer than the supported "
            f"{NBGRADER_SCHEMA_VERSION}"
        )
    try:
        if version == 0:
            _upgrade_v0_to_v1(cell)
            if "nbgrader" not in cell["metadata"]:
                return cell
    except (TypeError, ValueError) as e:
        raise MetadataError(f"{where}: invalid points {meta.get('points')!r} ({e})") from None
    if meta["schema_version"] == 1:
        if "checksum" in meta and "cell_type" not in meta:
            meta["cell_type"] = cell["cell_type"]
        meta["schema_version"] = 2
    if meta["schema_version"] == 2:
        meta["schema_version"] = 3
    for key in set(meta) - set(_V3_SCHEMA["properties"]):
        del meta[key]
    return cell


def _validate_cell(cell, where):
    meta = _meta(cell)
    try:
        jsonschema.validate(meta, _V3_SCHEMA)
    except jsonschema.ValidationError as e:
        path = ".".join(str(p) for p in e.absolute_path) or "nbgrader"
        raise MetadataError(f"{where}: invalid nbgrader metadata at {path}: {e.message}") from None
    grade, solution, locked, task = (
        meta["grade"],
        meta["solution"],
        meta["locked"],
        meta.get("task", False),
    )
    if (grade or solution or locked or task) and not meta.get("grade_id"):
        raise MetadataError(f"{where}: nbgrader cell has no grade_id")
    if (grade or task) and "points" not in meta:
        raise MetadataError(f"{where}: grade cell has no points")
    if task:
        if cell["cell_type"] != "markdown":
            raise MetadataError(f"{where}: task cells must be Markdown")
    elif cell["cell_type"] == "markdown" and grade != solution:
        raise MetadataError(
            f"{where}: a Markdown answer cell must be both a solution and a grade cell"
        )


def validate_notebook_metadata(nb, *, name="notebook", upgrade=True):
    """Upgrade (optionally) and validate every cell's nbgrader metadata.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The notebook; upgraded in place when ``upgrade`` is true.
    name : str
        The notebook's name for error messages.
    upgrade : bool
        Upgrade schema versions 0-2 to 3 first.

    Raises
    ------
    MetadataError
        On the first malformed cell or a duplicated ``grade_id``.
    """
    seen = {}
    for index, cell in enumerate(nb.cells):
        where = _where(name, index, cell)
        if upgrade:
            upgrade_cell_metadata(cell, where=where)
        if _meta(cell) is None:
            continue
        _validate_cell(cell, where)
        meta = _meta(cell)
        if meta["grade"] or meta["solution"] or meta["locked"] or meta.get("task", False):
            gid = meta["grade_id"]
            if gid in seen:
                raise MetadataError(
                    f"{where}: duplicate grade_id {gid!r} (first in cell {seen[gid]})"
                )
            seen[gid] = index
    return nb
