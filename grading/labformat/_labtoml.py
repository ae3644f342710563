"""``lab.toml``: a lab's facts, checked against a versioned schema."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema

__all__ = [
    "FORMAT_VERSION",
    "LAB_SCHEMA",
    "Lab",
    "LabError",
    "Rubric",
    "RubricLevel",
    "dump_lab_toml",
    "load_lab",
]

#: The version of our own additions (lab.toml) that this code writes.
#: 2 added ``team`` and ``[rubrics.<grade_id>]``; version-1 files are upgraded.
FORMAT_VERSION = 2

_ID = "^[a-z0-9][a-z0-9-]{0,62}$"

_RUBRIC_SCHEMA = {
    "type": "object",
    "properties": {
        "levels": {
            "type": "array",
            "minItems": 2,
            "items": {
                "type": "object",
                "properties": {
                    "points": {"type": "number", "minimum": 0},
                    "label": {"type": "string", "minLength": 1},
                    "description": {"type": "string", "minLength": 1},
                },
                "required": ["points", "label", "description"],
                "additionalProperties": False,
            },
        },
        "comments": {"type": "array", "items": {"type": "string", "minLength": 1}},
    },
    "required": ["levels"],
    "additionalProperties": False,
}

#: JSON schema of lab.toml, format_version 2. Unknown keys are refused.
LAB_SCHEMA = {
    "type": "object",
    "properties": {
        "format_version": {"type": "integer", "enum": [FORMAT_VERSION]},
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
        "team": {"type": "boolean"},
        "rubrics": {
            "type": "object",
            "propertyNames": {"pattern": "^[A-Za-z0-9_-]+$"},
            "additionalProperties": _RUBRIC_SCHEMA,
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


def _upgrade_v1_to_v2(data):
    # Version 1 had no team labs and no rubrics: an individual lab, no rubric yet.
    data.setdefault("team", False)
    data.setdefault("rubrics", {})
    data["format_version"] = 2
    return data


#: Upgrade steps for older format versions: {from_version: function(dict) -> dict}.
_UPGRADES = {1: _upgrade_v1_to_v2}


class LabError(ValueError):
    """A lab folder or its lab.toml is invalid; the message names the file."""


@dataclass(frozen=True)
class RubricLevel:
    """One level of a rubric: the points it gives, a short label and what it means."""

    points: float
    label: str
    description: str


@dataclass(frozen=True)
class Rubric:
    """How a person grades one manual item: levels (lowest first) and comment snippets."""

    levels: tuple
    comments: tuple = ()

    @property
    def max_points(self):
        """The points of the highest level."""
        return max(level.points for level in self.levels)

    def as_dict(self):
        """Return the rubric as plain data (for JSON)."""
        return {
            "levels": [
                {"points": lv.points, "label": lv.label, "description": lv.description}
                for lv in self.levels
            ],
            "comments": list(self.comments),
        }


def _rubric(grade_id, data, where):
    levels = tuple(
        RubricLevel(float(lv["points"]), lv["label"], lv["description"]) for lv in data["levels"]
    )
    points = [lv.points for lv in levels]
    if points != sorted(set(points)):
        raise LabError(
            f"{where}: rubrics.{grade_id}: levels must be listed lowest first, "
            f"with distinct points (got {points})"
        )
    if points[0] != 0:
        raise LabError(f"{where}: rubrics.{grade_id}: the lowest level must give 0 points")
    return Rubric(levels=levels, comments=tuple(data.get("comments", ())))


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
    team: bool = False
    rubrics: dict = field(default_factory=dict)

    def notebook_paths(self):
        """Return the source notebooks' paths, in order."""
        return [self.path / name for name in self.notebooks]


def _upgrade(data, where):
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise LabError(
            f"{where}: format_version must be an integer (this code reads 1 to {FORMAT_VERSION})"
        )
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
    data.setdefault("team", False)
    data["rubrics"] = {gid: _rubric(gid, r, path) for gid, r in data.get("rubrics", {}).items()}
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
    if isinstance(value, dict):
        inner = ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }"
    raise TypeError(f"cannot write {type(value).__name__} to lab.toml")


def dump_lab_toml(data):
    """Return lab.toml text for a dict of its fields, in the schema's order."""
    data = {"team": False, "rubrics": {}, **data}
    lines = [f"format_version = {FORMAT_VERSION}"]
    for key in LAB_SCHEMA["properties"]:
        if key not in ("format_version", "rubrics") and key in data:
            lines.append(f"{key} = {_toml_value(data[key])}")
    for grade_id, rubric in data["rubrics"].items():
        if isinstance(rubric, Rubric):
            rubric = rubric.as_dict()
        lines += ["", f"[rubrics.{grade_id}]", f"levels = {_toml_value(rubric['levels'])}"]
        if rubric.get("comments"):
            lines.append(f"comments = {_toml_value(rubric['comments'])}")
    text = "\n".join(lines) + "\n"
    if not re.fullmatch(_ID, data.get("id", "")):
        raise LabError(f"lab id {data.get('id')!r} must match {_ID}")
    return text
