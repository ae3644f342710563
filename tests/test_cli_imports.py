"""The ``ai4scale`` command starts light: heavy libraries load only in the commands that use them.

Each check runs in a fresh interpreter (``python -P``) and reads
``sys.modules``; the speed itself is measured by ``benchmarks/cli.py``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path

import ai4scale
from ai4scale.cli import GROUPS

#: Libraries that cost tens to hundreds of milliseconds to import.
HEAVY = ["jsonschema", "sqlalchemy", "pandas", "jupyterhub", "rich", "numpy", "rfc3987_syntax"]

AI4SCALE = str(Path(sys.executable).with_name("ai4scale"))


def loaded_after(code, cwd):
    """Run ``code`` in a fresh interpreter; return the HEAVY modules it left imported."""
    probe = (
        "import json, sys\n"
        f"{code}\n"
        f"print(json.dumps([m for m in {HEAVY!r} if sys.modules.get(m) is not None]))"
    )
    done = subprocess.run(
        [sys.executable, "-P", "-c", probe], cwd=cwd, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.splitlines()[-1])


def test_building_the_parser_imports_no_heavy_library(tmp_path):
    code = "import ai4scale.cli\nai4scale.cli.build_parser()"
    assert loaded_after(code, tmp_path) == []


def test_the_probe_sees_a_heavy_import(tmp_path):
    # The account store needs SQLAlchemy: the probe above would see it.
    assert loaded_after("import ai4scale.hub.accounts", tmp_path) == ["sqlalchemy"]


def test_users_list_reads_settings_without_jsonschema(tmp_path):
    config = tmp_path / "ai4scale.toml"
    config.write_text(f'[paths]\nstate_dir = "{tmp_path / "state"}"\n')
    code = (
        "from ai4scale.cli import main\n"
        f"assert main(['--config', {str(config)!r}, 'users', 'list']) == 2  # no roster yet"
    )
    loaded = loaded_after(code, tmp_path)
    assert "sqlalchemy" in loaded  # it opened the account database
    assert "jsonschema" not in loaded and "rfc3987_syntax" not in loaded


def test_commands_that_use_jsonschema_skip_its_iri_parser(tmp_path):
    code = (
        "from ai4scale.cli import main\n"
        f"main(['datasets', 'list', '--data-dir', {str(tmp_path)!r}])"
    )
    loaded = loaded_after(code, tmp_path)
    assert "jsonschema" in loaded  # the cards are checked against their schema
    assert "rfc3987_syntax" not in loaded


def group_commands():
    """Return the top-level command names that the groups of ``GROUPS`` register."""
    names = []
    for module in GROUPS:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module).register(sub)
        names.extend(sub.choices)
    return names


def test_version_and_help_list_every_group(tmp_path):
    version = subprocess.run(
        [AI4SCALE, "--version"], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == f"ai4scale {ai4scale.__version__}"

    help_text = subprocess.run(
        [AI4SCALE, "--help"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    commands = group_commands()
    assert len(commands) >= len(GROUPS)
    listed = {line.split()[0] for line in help_text.splitlines() if line.startswith("    ")}
    missing = [name for name in commands if name not in listed]
    assert not missing, f"--help does not list {missing}:\n{help_text}"
