"""``ai4scale datasets list|show|prepare`` through the real command-line entry point."""

from __future__ import annotations

import json

from datasets_helpers import real_ids

from ai4scale.cli import main

pytest_plugins = ["datasets_fixtures"]


def test_list_shows_domains_and_protected_attributes(prepared, capsys):
    data_dir, _ = prepared
    assert main(["datasets", "list", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    for name in real_ids():
        assert name in out
    assert "criminal justice" in out and "afam, single" in out
    assert "yes" in out


def test_show_prints_the_datasheet(capsys):
    assert main(["datasets", "show", "compas-recidivism"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# COMPAS two-year recidivism")
    assert "### Motivation" in out and "| `two_year_recid` | int64 | target |" in out


def test_show_unknown_suggests(capsys):
    assert main(["datasets", "show", "hmda-bostn"]) == 2
    err = capsys.readouterr().err
    assert "unknown dataset 'hmda-bostn'" in err and "hmda-boston" in err


def test_prepare_needs_names_or_all(tmp_path, capsys):
    assert main(["datasets", "prepare", "--data-dir", str(tmp_path)]) == 2
    assert "--all" in capsys.readouterr().err


def test_prepare_then_skip_with_settings_data_dir(tmp_path, source_cache, capsys):
    data_dir = tmp_path / "prepared"
    config = tmp_path / "ai4scale.toml"
    config.write_text(f'[paths]\ndatasets_dir = "{data_dir}"\n')
    argv = ["--config", str(config), "datasets", "prepare", "toronto-arrests"]
    argv += ["--cache-dir", str(source_cache)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "toronto-arrests: prepared" in captured.err
    assert "1 prepared, 0 unchanged" in captured.out
    manifest = json.loads((data_dir / "manifest.json").read_text())
    assert manifest["datasets"]["toronto-arrests"]["rows"] == 5226
    assert main(argv) == 0
    assert "0 prepared, 1 unchanged" in capsys.readouterr().out
