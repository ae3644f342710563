"""``lab.toml``: a lab's facts, checked against a versioned schema."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema

__all__ = ["FORMAT_VERSION", "LAB_SCHEMA", "Lab", "LabError", "load_lab", "dump_lab_toml"]

#: The version of our own additions (lab.toml) that this code writes.
FORMAT_VERSION = 1

_ID = "^[a-z0-9][a-z0-9-]{0,62}$"

#: JSON schema of lab.toml, format_version 1. Unknown keys are refused.
LAB_SCHEMA = {
    "type": "object",
    "properties": {
        "format_version": {"type": "integer", "enum": [1]},
        "id": {"type": "string", "pattern": _ID},
        "title": {"type": "string", "minLength": 1},
        "summary": {"type": "string", "minLength": 1},
        "learning_objectives": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "datasets": {"type": "array", "items": {"type": "string", "pattern": "^[a-z0-9_-]+$"}},
        "estimated_minutes": {"type": "integer", "minimum": 1},
        "points": {"type": "number", "minimum": 0},
        "notebooks": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]*\\.ipynb$"},
        },
    },
    "required": [
        "format_version",
        "id",
        "title",
        "summary",
        "learning_objectives",
        "datasets",
        "estimated_minutes",
        "points",
        "notebooks",
    ],
    "additionalProperties": False,
}

#: Upgrade steps for older format versions: {from_version: function(dict) -> dict}.
#: Version 1 is the first; a future version 2 adds ``1: _upgrade_v1_to_v2`` here.
_UPGRADES: dict = {}


class LabError(ValueError):
    """A lab folder or its lab.toml is invalid; the message names the file."""


@dataclass(frozen=True)
class Lab:
    """A lab read from ``labs/<id>/lab.toml``."""

    path: Path
    id: str
    title: str
    summary: str
    learning_objectives: list
    datasets: list
    estimated_minutes: int
    points: float
    notebooks: list = field(default_factory=list)

    def notebook_paths(self):
        """Return the source notebooks' paths, in order."""
        return [self.path / name for name in self.notebooks]


def _upgrade(data, where):
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise LabError(f"{where}: format_version must be an integer (this code reads 1)")
    if version > FORMAT_VERSION:
        raise LabError(
            f"{where}: format_version {version} is newer than this code reads ({FORMAT_VERSION})"
        )
    while data["format_version"] < FORMAT_VERSION:
        step = _UPGRADES.get(data["format_version"])
        if step is None:
            raise LabError(f"{where}: no upgrade from format_version {data['format_version']}")
        data = step(dict(data))
    return data


def load_lab(lab_dir):
    """Read and validate ``lab_dir/lab.toml``.

    Parameters
    ----------
    lab_dir : str or Path
        The lab folder (``labs/<id>``).

    Returns
    -------
    Lab

    Raises
    ------
    LabError
        When the file is missing, not TOML, has unknown keys, wrong types, an id
        that differs from the folder name, or names notebooks that do not exist.
        Points are checked against the notebooks by :func:`lab_items`.
    """
    lab_dir = Path(lab_dir)
    path = lab_dir / "lab.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LabError(f"{path}: no such file (a lab folder needs a lab.toml)") from None
    except tomllib.TOMLDecodeError as e:
        raise LabError(f"{path}: not valid TOML: {e}") from None
    unknown = sorted(set(data) - set(LAB_SCHEMA["properties"]))
    if unknown:
        raise LabError(
            f"{path}: unknown key {unknown[0]!r} (allowed: {', '.join(LAB_SCHEMA['properties'])})"
        )
    data = _upgrade(data, path)
    try:
        jsonschema.validate(data, LAB_SCHEMA)
    except jsonschema.ValidationError as e:
        key = ".".join(str(p) for p in e.absolute_path) or "lab.toml"
        raise LabError(f"{path}: {key}: {e.message}") from None
    if data["id"] != lab_dir.resolve().name:
        raise LabError(f"{path}: id {data['id']!r} differs from the folder name {lab_dir.name!r}")
    if len(set(data["notebooks"])) != len(data["notebooks"]):
        raise LabError(f"{path}: notebooks lists a notebook twice")
    for name in data["notebooks"]:
        if not (lab_dir / name).is_file():
            raise LabError(f"{path}: notebook {name!r} not found in {lab_dir}")
    data.pop("format_version")
    return Lab(path=lab_dir, **data)


def _toml_value(value):
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        if not value:
            return "[]"
        return "[\n" + "".join(f"    {_toml_value(v)},\n" for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to lab.toml")


def dump_lab_toml(data):
    """Return lab.toml text for a dict of its fields, in the schema's order."""
    lines = [f"format_version = {FORMAT_VERSION}"]
    for key in LAB_SCHEMA["properties"]:
        if key != "format_version" and key in data:
            lines.append(f"{key} = {_toml_value(data[key])}")
    text = "\n".join(lines) + "\n"
    if not re.fullmatch(_ID, data.get("id", "")):
        raise LabError(f"lab id {data.get('id')!r} must match {_ID}")
    return text
