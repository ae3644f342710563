"""The hub side of the sandbox: settings, configuration, spawner, authentication.

``jupyterhub_config.py`` calls :func:`apply_config`, which turns the settings
file into traitlets configuration.

Names are imported on first use: learners' kernels import
``ai4scale.hub.memory_notice`` at every start and must not pay for the
configuration machinery (jsonschema alone costs over a second).
"""

import importlib

__all__ = [
    "SettingsError",
    "apply_config",
    "default_settings",
    "load_settings",
    "settings_schema",
]

_LAZY = {
    "apply_config": "._configurer",
    "SettingsError": "._settings",
    "default_settings": "._settings",
    "load_settings": "._settings",
    "settings_schema": "._settings",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
