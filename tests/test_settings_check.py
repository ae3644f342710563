"""The settings check without jsonschema: same verdicts and messages as jsonschema's validator.

``ai4scale.hub._settings`` checks the settings schema with a few lines of
its own so that every ``ai4scale`` command starts without importing
jsonschema. Here both judge the same settings and must agree.
"""

from __future__ import annotations

import datetime

import jsonschema
import pytest
from ai4scale.hub._settings import (
    SettingsError,
    _schema_errors,
    default_settings,
    load_settings,
    settings_schema,
)

#: (dotted key, bad value): one of each kind of constraint, and wrong types.
BAD = [
    ("profile", "podman"),
    ("profile", 5),
    ("hub.port", 0),
    ("hub.port", 70000),
    ("hub.port", "8000"),
    ("hub.port", True),
    ("hub.port", 8000.5),
    ("limits.memory", "2 GB"),
    ("limits.memory", 2),
    ("limits.cpu", 0),
    ("limits.cpu", -1.5),
    ("limits.cpu", "lots"),
    ("limits.processes", 3),
    ("auth.type", "ldap"),
    ("local.user_prefix", "Learner"),
    ("course.sandbox", None),
    ("hub.ip", 127001),
    ("hub.ip", datetime.date(2026, 1, 1)),
]


def _set(settings, dotted, value):
    *parents, last = dotted.split(".")
    node = settings
    for key in parents:
        node = node[key]
    node[last] = value


def _jsonschema_errors(settings):
    validator = jsonschema.Draft202012Validator(settings_schema())
    errors = sorted(validator.iter_errors(settings), key=lambda e: list(e.path))
    return [(tuple(e.path), e.message) for e in errors]


def _ours(settings):
    errors = sorted(_schema_errors(settings_schema(), settings), key=lambda e: list(e[0]))
    return [(tuple(p), m) for p, m in errors]


def _first_list_key(settings, path=()):
    for key, value in settings.items():
        if isinstance(value, list):
            return path + (key,)
        if isinstance(value, dict):
            found = _first_list_key(value, path + (key,))
            if found:
                return found
    return None


def test_defaults_pass_both():
    assert _ours(default_settings()) == [] == _jsonschema_errors(default_settings())


@pytest.mark.parametrize(("key", "value"), BAD, ids=[f"{k}={v!r}" for k, v in BAD])
def test_bad_value_same_errors_as_jsonschema(key, value):
    settings = default_settings()
    _set(settings, key, value)
    ours = _ours(settings)
    assert ours, f"{key}={value!r} was accepted"
    assert ours == _jsonschema_errors(settings)


def test_unknown_keys_and_list_items_same_errors_as_jsonschema():
    settings = default_settings()
    settings["dockr"] = {"image": "x"}
    settings["limits"]["memry"] = "2G"
    settings["limits"]["cpus"] = 2
    list_key = _first_list_key(settings)
    assert list_key, "defaults.toml has no list setting any more: pick another check"
    _set(settings, ".".join(list_key), ["ok", 3, "fine", None])
    ours = _ours(settings)
    assert ours == _jsonschema_errors(settings)
    messages = "\n".join(m for _, m in ours)
    assert "('dockr' was unexpected)" in messages
    assert "('cpus', 'memry' were unexpected)" in messages
    assert "3 is not of type 'string'" in messages


def test_load_settings_names_file_key_and_problem(tmp_path):
    file = tmp_path / "ai4scale.toml"
    file.write_text('[hub]\nport = 70000\n[limits]\ncpu = "lots"\nmemry = "2G"\n')
    with pytest.raises(SettingsError) as info:
        load_settings(file)
    assert str(info.value) == (
        f"{file}: invalid settings:\n"
        "  hub.port: 70000 is greater than the maximum of 65535\n"
        "  limits: Additional properties are not allowed ('memry' was unexpected)\n"
        "  limits.cpu: 'lots' is not of type 'number'"
    )


def test_unsupported_schema_keyword_is_an_error_not_a_pass():
    with pytest.raises(ValueError, match="maxLength"):
        list(_schema_errors({"type": "string", "maxLength": 3}, "abcdef"))
