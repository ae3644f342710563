"""AI4Scale Sandbox: a JupyterHub where civil servants learn responsible AI by doing.

The hub side lives in :mod:`ai4scale.hub`, the datasets in
:mod:`ai4scale.datasets` and the grading engine in :mod:`ai4scale.grading`.
"""

__version__ = "0.1.0"
