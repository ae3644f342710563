# JupyterHub configuration of the AI4Scale Sandbox.
#
# All settings live in a TOML file ($AI4SCALE_CONFIG, default
# /etc/ai4scale/ai4scale.toml; defaults and documentation in hub/defaults.toml).
# This file only hands JupyterHub's config object to one function.
from ai4scale.hub import apply_config

apply_config(c)  # noqa: F821 (`c` is provided by JupyterHub)
