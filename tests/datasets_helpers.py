"""Helpers of the dataset tests (the fixtures are in ``datasets_fixtures``)."""

from __future__ import annotations

from ai4scale.datasets import card_ids, load_card


def real_ids():
    """Ids of the packaged real-data cards."""
    return [n for n in card_ids() if load_card(n)["kind"] == "real"]


def fact_value(frame, card, fact):
    """Compute a card fact (rate, count or mean) from a prepared frame."""
    rows = frame
    for col, value in fact.get("where", {}).items():
        rows = rows[rows[col] == value]
    if fact["kind"] == "count":
        return len(rows)
    column = fact.get("column") or card["target"]["column"]
    return float(rows[column].astype("float64").mean())
