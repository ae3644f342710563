"""Crown Court drug-offence sentencing, England and Wales 2012-15, from ``causaldata``."""

import pandas as pd

from ._common import from_stata

AGES = ["18 to 24", "25 to 34", "35 to 44", "45 to 54", "Over 54"]
PREVIOUS = ["None", "1 to 3", "4 to 9", "10 or more"]
CULPABILITY = ["Lesser role", "Significant role", "Leading role"]


def prepare(raw):
    """Return the cleaned frame: indicators to bool, bands to ordered categories."""
    df = from_stata(raw)
    out = pd.DataFrame(
        {
            "male": df["male"].eq(1),
            "age": pd.Categorical(df["age"], categories=AGES, ordered=True),
            "first_offense": df["first_offense"].eq(1),
            "offense": df["offense"].astype("category"),
            "prev_convictions": pd.Categorical(
                df["prev_convictions"].astype("object"), categories=PREVIOUS, ordered=True
            ),
            "drg_class": df["drg_class"].astype("category"),
            "drg_culpability": pd.Categorical(
                df["drg_culpability"], categories=CULPABILITY, ordered=True
            ),
        }
    )
    for col in df.columns:
        if col.startswith(("drg_increasing", "drg_reducing")):
            out[col] = df[col].eq(1)
    out["custody"] = df["custody"].astype("int64")
    return out
