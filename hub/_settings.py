"""Load and validate the sandbox settings file.

The settings are a plain dict: the documented defaults in ``defaults.toml``
merged with the administrator's TOML file. :func:`load_settings` refuses
unknown keys and values of the wrong type or range before anything is
applied, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import copy
import os
import tomllib
from pathlib import Path

import jsonschema

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
    ("course", "sandbox"): {"enum": ["auto", "sandbox", "none", "local"]},
    ("course", "grading_workers"): {"minimum": 1},
    ("local", "user_prefix"): {"pattern": r"^[a-z][a-z0-9-]{0,15}$"},
    ("local", "cgroup_parent"): {"pattern": r"^[A-Za-z0-9_.-]+$"},
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
    validator = jsonschema.Draft202012Validator(settings_schema())
    errors = sorted(validator.iter_errors(settings), key=lambda e: list(e.path))
    if errors:
        lines = []
        for err in errors:
            key = ".".join(str(p) for p in err.path) or "(top level)"
            lines.append(f"  {key}: {err.message}")
        raise SettingsError(f"{file}: invalid settings:\n" + "\n".join(lines))
    return settings
