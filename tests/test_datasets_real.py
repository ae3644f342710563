"""The real datasets: schema, size, personal data, published facts, datasheet quality."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from ai4scale.datasets import load, load_card
from datasets_helpers import fact_value, real_ids

REAL = real_ids()

#: Direct identifiers that must never be a column of a prepared dataset.
IDENTIFIERS = {
    "name",
    "first",
    "last",
    "dob",
    "id",
    "ssn",
    "address",
    "email",
    "phone",
    "lat",
    "long",
}
#: Columns whose name looks like an identifier but is not one (documented in the card).
NOT_IDENTIFIERS = {
    "resume-callbacks": {"name", "email"},  # fictitious first name; "résumé lists an e-mail" flag
}

pytest_plugins = ["datasets_fixtures"]


def test_at_least_eight_real_datasets_from_pinned_packages():
    assert len(REAL) >= 8
    for name in REAL:
        src = load_card(name)["source"]
        assert re.fullmatch(r"[0-9a-f]{64}", src["sha256"]), name
        assert src["filename"].startswith(f"{src['package']}-{src['version']}"), name


def test_all_prepared(prepared):
    _, results = prepared
    assert sorted(r.id for r in results) == sorted(REAL)
    assert all(r.status == "prepared" for r in results)


@pytest.mark.parametrize("name", REAL)
def test_schema_columns_dtypes_roles(prepared, name):
    data_dir, _ = prepared
    card = load_card(name)
    b = load(name, data_home=data_dir)
    assert list(b.frame.columns) == [c["name"] for c in card["columns"]]
    for col in card["columns"]:
        assert str(b.frame[col["name"]].dtype) == col["dtype"], col["name"]
    roles = {c["name"]: c["role"] for c in card["columns"]}
    assert list(b.data.columns) == [n for n, r in roles.items() if r == "feature"]
    assert list(b.sensitive.columns) == card["protected"]
    assert b.target.name == card["target"]["column"]
    assert not set(b.data.columns) & (set(card["protected"]) | {card["target"]["column"]})
    assert card["target"]["positive"] in set(b.target.dropna().unique())
    assert b.card == card


@pytest.mark.parametrize("name", REAL)
def test_row_count_and_shape(prepared, name):
    data_dir, _ = prepared
    card = load_card(name)
    frame = load(name, data_home=data_dir).frame
    assert frame.shape == (card["shape"]["rows"], card["shape"]["columns"])


@pytest.mark.parametrize("name", REAL)
def test_no_personal_data_columns(prepared, name):
    data_dir, _ = prepared
    card = load_card(name)
    columns = set(load(name, data_home=data_dir).frame.columns)
    assert not columns & set(card["personal_data_removed"])
    allowed = NOT_IDENTIFIERS.get(name, set())
    assert not {c.lower() for c in columns} & (IDENTIFIERS - allowed)
    # No free-text or date column that could carry an identifier.
    frame = load(name, data_home=data_dir).frame
    for col in columns:
        assert str(frame[col].dtype) in ("int64", "float64", "bool", "category"), col


def test_compas_identifiers_really_removed(prepared):
    data_dir, _ = prepared
    frame = load("compas-recidivism", data_home=data_dir).frame
    assert {"name", "first", "last", "dob", "c_case_number", "c_jail_in"}.isdisjoint(frame.columns)


@pytest.mark.parametrize("name", REAL)
def test_published_facts_reproduced(prepared, name):
    data_dir, _ = prepared
    card = load_card(name)
    frame = load(name, data_home=data_dir).frame
    assert card["facts"], f"{name} has no published fact"
    for fact in card["facts"]:
        value = fact_value(frame, card, fact)
        assert value == pytest.approx(fact["value"], abs=fact["tolerance"]), fact["statement"]


@pytest.mark.parametrize("name", REAL)
def test_datasheet_reads_like_a_datasheet(name):
    card = load_card(name)
    for section, text in card["datasheet"].items():
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if len(s) > 15]
        assert len(sentences) >= 2, f"{name}: datasheet {section} has fewer than 2 sentences"
        assert not re.search(r"TODO|TBD|lorem|\.\.\.", text, re.I), (name, section)
    assert len(card["licence"]["training_use"]) > 150
    assert card["caveats"] and all(len(c) > 40 for c in card["caveats"])
    assert card["missing_values"].strip()


def test_compas_group_base_rates_differ(prepared):
    """The disparity learners audit is there: Black defendants' base rate is higher."""
    data_dir, _ = prepared
    b = load("compas-recidivism", data_home=data_dir)
    s = b.frame[b.frame["propublica_sample"]]
    rates = s.groupby("race", observed=True)["two_year_recid"].mean()
    assert rates["African-American"] > rates["Caucasian"] + 0.1


def test_missing_values_as_documented(prepared):
    data_dir, _ = prepared
    frame = load("mortgage-loanapp", data_home=data_dir).frame
    assert frame["sex"].isna().sum() == 15
    stops = load("minneapolis-stops", data_home=data_dir).frame
    assert stops["race"].isna().sum() == 8221
    assert isinstance(stops["race"].dtype, pd.CategoricalDtype)
