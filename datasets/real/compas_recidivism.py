"""COMPAS two-year recidivism (ProPublica, Broward County) from the ``fairness`` wheel."""

import io

import pandas as pd

KEEP = [
    "sex", "age", "age_cat", "race", "juv_fel_count", "juv_misd_count", "juv_other_count",
    "priors_count", "c_charge_degree", "length_of_stay_days", "decile_score", "score_text",
    "v_decile_score", "v_score_text", "high_risk", "is_violent_recid", "propublica_sample",
    "two_year_recid",
]  # fmt: skip


def prepare(raw):
    """Return the cleaned frame: identifiers, names, dates and free text removed."""
    df = pd.read_csv(io.BytesIO(raw))
    stay = pd.to_datetime(df["c_jail_out"]) - pd.to_datetime(df["c_jail_in"])
    df["length_of_stay_days"] = (stay.dt.total_seconds() / 86400).round(2).astype("float64")
    # ProPublica's analysis sample (their notebook's filter, 6,172 rows).
    df["propublica_sample"] = (
        df["days_b_screening_arrest"].between(-30, 30)
        & df["is_recid"].ne(-1)
        & df["c_charge_degree"].ne("O")
        & df["score_text"].ne("N/A")
    ).astype("bool")
    df["high_risk"] = df["score_text"].isin(["Medium", "High"]).astype("int64")
    df["sex"] = pd.Categorical(df["sex"], categories=["Female", "Male"])
    df["age_cat"] = pd.Categorical(
        df["age_cat"], categories=["Less than 25", "25 - 45", "Greater than 45"], ordered=True
    )
    df["race"] = df["race"].astype("category")
    df["c_charge_degree"] = pd.Categorical(df["c_charge_degree"], categories=["F", "M"])
    for col in ("score_text", "v_score_text"):
        df[col] = pd.Categorical(df[col], categories=["Low", "Medium", "High"], ordered=True)
    return df[KEEP].reset_index(drop=True)
