"""Seeded generators of synthetic European public-sector scenarios with a known, injected bias.

Each module exposes ``generate(*, seed: int, n_rows: int) -> tuple[pandas.DataFrame, dict]``:
the frame and its ground truth (JSON-serialisable, identical to the card's ``ground_truth``).
Only ``numpy.random.default_rng(seed)`` is used, dtypes and category orders are fixed, so the
same seed and row count give the same Parquet bytes.

===========================  ==============================================  ================
dataset id                   generator                                       inspired by
===========================  ==============================================  ================
childcare-benefit-fraud      ``ai4scale.datasets.synthetic.toeslagen``       NL toeslagen
jobseeker-profiling          ``ai4scale.datasets.synthetic.ams``             AT AMS algorithm
exam-standardisation         ``ai4scale.datasets.synthetic.alevels``         UK A-levels 2020
child-welfare-screening      ``ai4scale.datasets.synthetic.child_welfare``   Allegheny (US)
===========================  ==============================================  ================

Submodules are not imported here, so importing one generator does not pay for the others.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["GENERATORS", "categorical", "sigmoid", "top_k_mask"]

#: Dataset id -> ``"module:function"`` of its generator (the card's ``source.generator``).
GENERATORS = {
    "childcare-benefit-fraud": "ai4scale.datasets.synthetic.toeslagen:generate",
    "jobseeker-profiling": "ai4scale.datasets.synthetic.ams:generate",
    "exam-standardisation": "ai4scale.datasets.synthetic.alevels:generate",
    "child-welfare-screening": "ai4scale.datasets.synthetic.child_welfare:generate",
}


def categorical(codes: np.ndarray, categories: Sequence[str], *, ordered: bool = False):
    """Build a categorical column with a fixed category order from integer codes.

    Parameters
    ----------
    codes : numpy.ndarray
        Integer positions into `categories`.
    categories : sequence of str
        All categories, in the order they must keep (also those that happen not to occur).
    ordered : bool, default False
        Whether the categories have a meaningful order.

    Returns
    -------
    pandas.Categorical
    """
    return pd.Categorical.from_codes(
        np.asarray(codes, dtype=np.int64), categories=list(categories), ordered=ordered
    )


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Return the logistic function ``1 / (1 + exp(-x))`` of `x`."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def top_k_mask(rng: np.random.Generator, weights: np.ndarray, k: int) -> np.ndarray:
    """Choose exactly `k` of the rows, with probability increasing with `weights`.

    Weighted sampling without replacement by the Gumbel-top-k trick: the `k` largest
    ``log(weight) + Gumbel noise`` are chosen.  Used to inject a rate *exactly* (to rounding)
    within a group, so that an audit recovers the stated value regardless of sampling noise.

    Parameters
    ----------
    rng : numpy.random.Generator
        The generator's random source.
    weights : numpy.ndarray
        Positive weights, one per row.
    k : int
        How many rows to choose (0 <= k <= len(weights)).

    Returns
    -------
    numpy.ndarray
        Boolean mask with exactly `k` true values.
    """
    keys = np.log(weights) + rng.gumbel(size=len(weights))
    mask = np.zeros(len(weights), dtype=bool)
    if k > 0:
        mask[np.argsort(-keys, kind="stable")[:k]] = True
    return mask
