"""Load and validate the sandbox settings file.

The settings are a plain dict: the documented defaults in ``defaults.toml``
merged with the administrator's TOML file. :func:`load_settings` refuses
unknown keys and values of the wrong type or range before anything is
applied, so a typo never silently falls back to a default.

The schema is checked by :func:`_schema_errors`, a few lines for the
keywords the schema uses, with jsonschema's messages: importing jsonschema
costs over half a second (its format checkers build an RFC 3987 parser at
import time), which every ``ai4scale`` command would pay.
"""

from __future__ import annotations

import copy
import os
import re
import tomllib
from pathlib import Path

from ._errors import UserError

__all__ = [
    "DEFAULTS_FILE",
    "SettingsError",
    "default_settings",
    "load_settings",
    "settings_path",
    "settings_schema",
]

DEFAULTS_FILE = Path(__file__).with_name("defaults.toml")
SYSTEM_SETTINGS_FILE = Path("/etc/ai4scale/ai4scale.toml")

#: Constraints beyond "same type as the default" (enums, ranges, patterns).
_CONSTRAINTS = {
    ("profile",): {"enum": ["local", "docker", "kubernetes"]},
    ("hub", "port"): {"minimum": 1, "maximum": 65535},
    ("hub", "api_port"): {"minimum": 1, "maximum": 65535},
    ("hub", "proxy_api_port"): {"minimum": 1, "maximum": 65535},
    ("limits", "memory"): {"pattern": r"^[0-9]+(\.[0-9]+)?[KMGT]$"},
    ("limits", "cpu"): {"exclusiveMinimum": 0},
    ("limits", "processes"): {"minimum": 16},
    ("auth", "type"): {"enum": ["roster", "oidc", "lti13"]},
    ("auth", "lockout_attempts"): {"minimum": 1},
    ("auth", "lockout_seconds"): {"minimum": 0},
    ("auth", "ip_failed_logins"): {"minimum": 1},
    ("auth", "ip_window_seconds"): {"minimum": 1},
    ("auth", "code_ttl_hours"): {"minimum": 1},
    ("auth", "min_password_length"): {"minimum": 8},
    ("culler", "timeout"): {"minimum": 0},
    ("culler", "every"): {"minimum": 10},
    ("course", "port"): {"minimum": 1, "maximum": 65535},
    ("course", "max_upload_mb"): {"minimum": 1, "maximum": 1024},
    ("course", "usecase_max_upload_mb"): {"minimum": 1, "maximum": 100_000},
    ("course", "sandbox"): {"enum": ["auto", "sandbox", "docker", "kubernetes", "none", "local"]},
    ("course", "grading_workers"): {"minimum": 1},
    ("local", "user_prefix"): {"pattern": r"^[a-z][a-z0-9-]{0,15}$"},
    ("local", "cgroup_parent"): {"pattern": r"^[A-Za-z0-9_.-]+$"},
    # Docker's own rules for network names; a home volume per learner.
    ("docker", "network"): {"pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"},
    ("docker", "volume_template"): {"pattern": r"^(?=.*\{username\})[A-Za-z0-9_.{}-]+$"},
}


class SettingsError(UserError, ValueError):
    """The settings file is unreadable or does not match the schema."""


def default_settings():
    """Return the documented defaults as a fresh dict.

    Returns
    -------
    dict
        The parsed ``defaults.toml``.
    """
    with DEFAULTS_FILE.open("rb") as f:
        return tomllib.load(f)


def _schema_for(value, path):
    """Derive a JSON schema fragment from a default value."""
    if isinstance(value, dict):
        return {
            "type": "object",
            "additionalProperties": False,
            "properties": {k: _schema_for(v, path + (k,)) for k, v in value.items()},
        }
    if isinstance(value, bool):
        schema = {"type": "boolean"}
    elif isinstance(value, int):
        schema = {"type": "integer"}
    elif isinstance(value, float):
        schema = {"type": "number"}
    elif isinstance(value, list):
        schema = {"type": "array", "items": {"type": "string"}}
    else:
        schema = {"type": "string"}
    schema.update(_CONSTRAINTS.get(path, {}))
    return schema


def settings_schema():
    """Return the JSON schema of the settings file.

    Every key of ``defaults.toml`` is allowed with the type of its default;
    no other key is.

    Returns
    -------
    dict
        A JSON schema (draft 2020-12).
    """
    return _schema_for(default_settings(), ())


#: Python types of the schema's "type" names; bool is not a number (as in JSON).
_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
}
_NUMBER = _TYPES["number"]


def _schema_errors(schema, value, path=()):
    """Yield ``(path, message)`` for each way ``value`` breaks ``schema``.

    Covers the keywords :func:`settings_schema` uses, with the semantics and
    messages of jsonschema's Draft 2020-12 validator (the tests compare the
    two); any other keyword is a programming error, not a silent pass.
    """
    unknown = set(schema) - {
        "type", "properties", "additionalProperties", "items", "enum",
        "minimum", "maximum", "exclusiveMinimum", "pattern",
    }  # fmt: skip
    if unknown:
        raise ValueError(f"settings schema at {path}: unsupported keywords {sorted(unknown)}")
    if "type" in schema and not _TYPES[schema["type"]](value):
        yield path, f"{value!r} is not of type {schema['type']!r}"
    if "enum" in schema and not any(type(e) is type(value) and e == value for e in schema["enum"]):
        yield path, f"{value!r} is not one of {schema['enum']!r}"
    if _NUMBER(value):
        if "minimum" in schema and value < schema["minimum"]:
            yield path, f"{value!r} is less than the minimum of {schema['minimum']!r}"
        if "maximum" in schema and value > schema["maximum"]:
            yield path, f"{value!r} is greater than the maximum of {schema['maximum']!r}"
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            bound = schema["exclusiveMinimum"]
            yield path, f"{value!r} is less than or equal to the minimum of {bound!r}"
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        yield path, f"{value!r} does not match {schema['pattern']!r}"
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            yield from _schema_errors(schema["items"], item, path + (i,))
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                yield from _schema_errors(properties[key], item, path + (key,))
        extras = sorted((k for k in value if k not in properties), key=str)
        if schema.get("additionalProperties") is False and extras:
            verb = "was" if len(extras) == 1 else "were"
            names = ", ".join(repr(k) for k in extras)
            yield path, f"Additional properties are not allowed ({names} {verb} unexpected)"


def _merge(base, override):
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def settings_path(path=None):
    """Return the settings file in use.

    Parameters
    ----------
    path : str or Path, optional
        An explicit file; otherwise ``$AI4SCALE_CONFIG``, otherwise
        ``/etc/ai4scale/ai4scale.toml``.

    Returns
    -------
    Path
    """
    if path is not None:
        return Path(path)
    return Path(os.environ.get("AI4SCALE_CONFIG") or SYSTEM_SETTINGS_FILE)


def load_settings(path=None, *, overrides=None):
    """Load the settings: defaults, then the file, then ``overrides``.

    Parameters
    ----------
    path : str or Path, optional
        Settings file (see :func:`settings_path`). A missing file means
        "all defaults".
    overrides : dict, optional
        Nested dict applied last (used by tests and the command line).

    Returns
    -------
    dict
        The validated settings.

    Raises
    ------
    SettingsError
        When the file is not valid TOML or a key is unknown or ill-typed;
        the message names the file and the key.
    """
    file = settings_path(path)
    user = {}
    if file.exists():
        try:
            with file.open("rb") as f:
                user = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise SettingsError(f"{file}: not valid TOML: {e}") from e
        except PermissionError as e:
            # Root-only (it holds secrets): `ai4scale up` makes it so.
            raise SettingsError(f"{file}: cannot read it (only root may): {e.strerror}") from e
    settings = _merge(_merge(default_settings(), user), overrides or {})
    errors = sorted(_schema_errors(settings_schema(), settings), key=lambda e: list(e[0]))
    if errors:
        lines = []
        for where, message in errors:
            key = ".".join(str(p) for p in where) or "(top level)"
            lines.append(f"  {key}: {message}")
        raise SettingsError(f"{file}: invalid settings:\n" + "\n".join(lines))
    return settings
