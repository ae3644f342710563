"""Synthetic child-welfare hotline referrals with a biased training label.

Inspired by the Allegheny Family Screening Tool (Pennsylvania, 2016-): a model scores calls
to a child-protection hotline to help screeners decide whether to investigate.  Such tools
are trained on a *proxy* label (for example, re-referral or placement within two years),
because true maltreatment is not observed; if some families are watched and reported more,
the proxy label is biased even when the features are not.

How a row is made (all draws from ``numpy.random.default_rng(seed)``):

1. ``minority`` with probability :data:`P_MINORITY`; ``district`` depends on it (a decoy:
   strongly correlated with the group, but unrelated to harm).
2. Risk features (child's age, prior referrals, caregiver substance use, domestic violence,
   prior substantiated report) drawn *independently of* the group.
3. ``substantiated_harm`` (the truth): exactly ``round(HARM_RATE * n_group)`` rows in each
   group, chosen with weights that depend only on the risk features.
4. ``rereferred`` (the proxy label a tool is trained on): in each (group, harm) cell exactly
   ``round(p * n_cell)`` rows, with ``p`` from :data:`REREFERRAL_RATES`: families without
   harm are re-referred more often when they belong to the minority (surveillance bias).

So the injected cause of the disparity is the **label**, not a feature.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import categorical, top_k_mask

__all__ = ["generate", "ground_truth", "DEFAULT_SEED", "DEFAULT_ROWS"]

DEFAULT_SEED = 20160801
DEFAULT_ROWS = 15_000

P_MINORITY = 0.25
HARM_RATE = 0.12
#: P(rereferred | minority, substantiated_harm)
REREFERRAL_RATES = {
    (False, False): 0.10,
    (True, False): 0.25,
    (False, True): 0.60,
    (True, True): 0.60,
}
DISTRICTS = ["North", "East", "Centre", "South", "West"]
P_DISTRICT = {True: [0.05, 0.10, 0.45, 0.30, 0.10], False: [0.25, 0.25, 0.10, 0.15, 0.25]}
AGE_BANDS = ["0-2", "3-5", "6-11", "12-17"]
RISK_FEATURES = [
    "child_age_band",
    "prior_referrals",
    "caregiver_substance_use",
    "domestic_violence",
    "prior_substantiated",
]
TOLERANCE = {"ratio": 0.15, "rate": 0.01}


def _rates(group: bool) -> float:
    """Return the expected re-referral rate of a group."""
    r = REREFERRAL_RATES
    return r[group, False] * (1 - HARM_RATE) + r[group, True] * HARM_RATE


def ground_truth() -> dict:
    """Return the injected cause of the disparity (the card's ``ground_truth``).

    Returns
    -------
    dict
        ``injected_cause`` (``"label"``), the biased and true labels with their rates by
        group, the unbiased features, the decoy feature, and ``tolerance``.
    """
    r = REREFERRAL_RATES
    return {
        "protected": "minority",
        "injected_cause": "label",
        "biased_label": "rereferred",
        "true_label": "substantiated_harm",
        "label_bias": {
            "true_rate": HARM_RATE,
            "true_rate_ratio": 1.0,
            "rereferral_rate_without_harm": {
                "minority": r[True, False],
                "majority": r[False, False],
            },
            "rereferral_rate_without_harm_ratio": round(r[True, False] / r[False, False], 3),
            "rereferral_rate_with_harm": {"minority": r[True, True], "majority": r[False, True]},
            "rereferral_rate": {
                "minority": round(_rates(True), 3),
                "majority": round(_rates(False), 3),
            },
            "disparity_ratio": round(_rates(True) / _rates(False), 3),
        },
        "unbiased_features": list(RISK_FEATURES),
        "decoy_features": ["district"],
        "finding": "the proxy label is re-referred more often for minority families without harm; "
        "true harm and the risk features have the same distribution in both groups",
        "audit": {
            "label": "compare mean(rereferred) and mean(substantiated_harm) by minority",
            "features": "compare each risk feature's distribution by minority",
        },
        "tolerance": dict(TOLERANCE),
    }


def generate(*, seed: int = DEFAULT_SEED, n_rows: int = DEFAULT_ROWS) -> tuple[pd.DataFrame, dict]:
    """Generate hotline referrals whose training label is biased against a minority.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``; same seed and `n_rows`, same bytes.
    n_rows : int
        Number of referrals.

    Returns
    -------
    frame : pandas.DataFrame
        One row per referral; see the card ``child-welfare-screening`` for the columns.
    ground_truth : dict
        The injected cause (:func:`ground_truth`).

    Examples
    --------
    >>> df, truth = generate(seed=1, n_rows=1000)
    >>> truth["injected_cause"]
    'label'
    """
    rng = np.random.default_rng(seed)
    n = int(n_rows)
    minority = rng.random(n) < P_MINORITY
    u = rng.random(n)
    district = np.empty(n, dtype=np.int64)
    for g in (True, False):
        cum = np.cumsum(P_DISTRICT[g])
        cum[-1] = 1.0
        district[minority == g] = np.searchsorted(cum, u[minority == g], side="right")

    age = rng.choice(4, size=n, p=[0.25, 0.20, 0.30, 0.25])
    prior = rng.poisson(0.9, size=n).astype(np.int64)
    substance = rng.random(n) < 0.15
    violence = rng.random(n) < 0.12
    substantiated = rng.random(n) < np.clip(0.05 + 0.05 * prior, 0, 0.5)

    w_harm = np.exp(
        0.5 * (age == 0) + 0.25 * np.minimum(prior, 4) + 0.8 * substance + 0.7 * violence
        + 0.6 * substantiated
    )  # fmt: skip
    harm = np.zeros(n, dtype=bool)
    for g in (True, False):
        idx = np.flatnonzero(minority == g)
        harm[idx] = top_k_mask(rng, w_harm[idx], round(HARM_RATE * len(idx)))

    w_ref = np.exp(
        0.2 * np.minimum(prior, 4)
    )  # within a cell, prior contacts make a re-report likelier
    rereferred = np.zeros(n, dtype=bool)
    for (g, h), p in REREFERRAL_RATES.items():
        idx = np.flatnonzero((minority == g) & (harm == h))
        rereferred[idx] = top_k_mask(rng, w_ref[idx], round(p * len(idx)))

    frame = pd.DataFrame(
        {
            "referral_id": np.arange(1, n + 1, dtype=np.int64),
            "minority": minority,
            "district": categorical(district, DISTRICTS),
            "child_age_band": categorical(age, AGE_BANDS, ordered=True),
            "prior_referrals": prior,
            "caregiver_substance_use": substance,
            "domestic_violence": violence,
            "prior_substantiated": substantiated,
            "substantiated_harm": harm,
            "rereferred": rereferred,
        }
    )
    return frame, ground_truth()
