"""Synthetic Austrian job seekers scored in the style of the AMS algorithm (2018-2020).

The Austrian public employment service (Arbeitsmarktservice, AMS) planned to sort job
seekers into three groups by two logistic regression models (Holl, Kernbeiß and
Wagner-Pinter 2018; analysed by Allhutter et al. 2020):

* short-term prospects: probability of at least 90 days of employment within 7 months;
  above 66 % -> group **A** (high prospects, little support);
* long-term prospects: probability of at least 180 days of employment within 24 months;
  below 25 % -> group **C** (low prospects, referred to a cheaper support centre);
* everyone else -> group **B** (most training resources).  A takes precedence over C.

The inputs included gender, age group, citizenship group, education, health impairment,
occupational group, the regional labour market and prior employment; care duties entered
*only for women* ("Betreuungspflichten (nur Frauen)").

How a row is made: the person's attributes are drawn with approximate Austrian marginals
(correlated: age with health, citizenship with education and region, gender with care
duties and occupation); ``p_short`` and ``p_long`` are the two models with the coefficients
of :data:`SHORT_TERM` and :data:`LONG_TERM`; ``group`` follows the documented thresholds;
the outcome ``reintegrated`` is drawn from ``p_short``, so the model is correct by
construction and a logistic regression refitted on the data recovers the coefficients.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import categorical, sigmoid

__all__ = ["generate", "ground_truth", "model_terms", "DEFAULT_SEED", "DEFAULT_ROWS"]

DEFAULT_SEED = 20180101
DEFAULT_ROWS = 20_000

GENDERS = ["male", "female"]
AGE_GROUPS = ["15-29", "30-49", "50+"]
CITIZENSHIP = ["Austria", "EU", "non-EU"]
EDUCATION = ["compulsory", "apprenticeship/VET", "upper secondary", "tertiary"]
OCCUPATIONS = ["services", "production"]
REGIONS = ["type 1", "type 2", "type 3", "type 4", "type 5"]
EMPLOYMENT = ["high", "medium", "low"]  # share of the preceding 4 years in employment
DAYS_4Y = 1461
A_ABOVE, C_BELOW = 0.66, 0.25

#: Short-term model (logit scale).  Gender, age, citizenship, health and care duties are the
#: values published in the AMS documentation as reported by derStandard (2018) and
#: Allhutter et al. (2020); the other terms are illustrative, chosen for plausible group sizes.
SHORT_TERM = {
    "intercept": 0.10,
    "gender=female": -0.14,
    "age_group=30-49": -0.13,
    "age_group=50+": -0.70,
    "citizenship=EU": 0.16,
    "citizenship=non-EU": -0.05,
    "education=apprenticeship/VET": 0.50,
    "education=upper secondary": 0.45,
    "education=tertiary": 0.60,
    "health_impairment": -0.67,
    "care_duties_female": -0.15,
    "occupation_group=production": 0.25,
    "regional_labour_market=type 2": -0.10,
    "regional_labour_market=type 3": -0.20,
    "regional_labour_market=type 4": -0.30,
    "regional_labour_market=type 5": -0.45,
    "prior_employment=high": 1.10,
    "prior_employment=low": -0.70,
}
#: Long-term model: same inputs, weights not published by the AMS; illustrative.
LONG_TERM = {
    "intercept": 0.35,
    "gender=female": -0.10,
    "age_group=30-49": -0.15,
    "age_group=50+": -1.10,
    "citizenship=EU": 0.10,
    "citizenship=non-EU": -0.15,
    "education=apprenticeship/VET": 0.45,
    "education=upper secondary": 0.45,
    "education=tertiary": 0.60,
    "health_impairment": -1.00,
    "care_duties_female": -0.20,
    "occupation_group=production": 0.10,
    "regional_labour_market=type 2": -0.05,
    "regional_labour_market=type 3": -0.15,
    "regional_labour_market=type 4": -0.25,
    "regional_labour_market=type 5": -0.35,
    "prior_employment=high": 0.80,
    "prior_employment=low": -1.20,
}
#: Population (expected) shares per group, from one sample of 2,000,000 rows (seed 0).
EXPECTED_GROUP_SHARES = {
    "female": {"A": 0.186, "B": 0.629, "C": 0.185},
    "male": {"A": 0.265, "B": 0.588, "C": 0.147},
    "all": {"A": 0.23, "B": 0.606, "C": 0.164},
}
TOLERANCE = {"coefficient": 0.2, "share": 0.02}


def ground_truth() -> dict:
    """Return the models, thresholds and expected group shares (the card's ``ground_truth``).

    Returns
    -------
    dict
        ``models`` (coefficients on the logit scale, term names as in :func:`model_terms`),
        ``thresholds``, ``care_duties_counted_for`` and ``expected_group_shares`` by gender,
        with ``tolerance`` for a refitted coefficient and for a group share.
    """
    return {
        "protected": ["gender", "age_group", "citizenship"],
        "outcome": "reintegrated",
        "outcome_definition": "at least 90 days of employment within 7 months",
        "models": {
            "short_term": {"probability_column": "p_short", "coefficients": dict(SHORT_TERM)},
            "long_term": {"probability_column": "p_long", "coefficients": dict(LONG_TERM)},
        },
        "prior_employment_bands": {"high": ">= 1096 days (75%)", "low": "< 365 days (25%)"},
        "care_duties_counted_for": "female",
        "thresholds": {
            "A": "p_short > 0.66",
            "C": "p_long < 0.25 (unless A)",
            "B": "otherwise",
            "a_above": A_ABOVE,
            "c_below": C_BELOW,
        },
        "expected_group_shares": {k: dict(v) for k, v in EXPECTED_GROUP_SHARES.items()},
        "finding": "women are placed in group C more often than men; care duties lower the "
        "score of women only",
        "audit": {
            "coefficients": "logistic regression of reintegrated on model_terms(frame)",
            "group_shares": "frame.groupby('gender').group.value_counts(normalize=True)",
        },
        "tolerance": dict(TOLERANCE),
    }


def model_terms(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the model's 0/1 design matrix (without intercept) for a job-seeker frame.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``gender``, ``age_group``, ``citizenship``, ``education``, ``care_duties``,
        ``health_impairment``, ``occupation_group``, ``regional_labour_market`` and
        ``prior_employment_days``.

    Returns
    -------
    pandas.DataFrame
        One float64 column per non-intercept term of :data:`SHORT_TERM`, in that order.
    """
    days = frame["prior_employment_days"].to_numpy()
    band = np.where(days >= 1096, "high", np.where(days < 365, "low", "medium"))
    cols = {}
    for term in SHORT_TERM:
        if term == "intercept":
            continue
        if term == "health_impairment":
            value = frame["health_impairment"].to_numpy()
        elif term == "care_duties_female":
            value = frame["care_duties"].to_numpy() & (frame["gender"] == "female").to_numpy()
        elif term.startswith("prior_employment="):
            value = band == term.split("=", 1)[1]
        else:
            column, level = term.split("=", 1)
            value = (frame[column] == level).to_numpy()
        cols[term] = value.astype(np.float64)
    return pd.DataFrame(cols, index=frame.index)


def _choice_by(rng: np.random.Generator, table: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Draw a category code per row from the probability row ``table[group]``."""
    cum = np.cumsum(table, axis=1)
    cum[:, -1] = 1.0
    u = rng.random(len(group))
    return (u[:, None] >= cum[group]).sum(axis=1)


def generate(*, seed: int = DEFAULT_SEED, n_rows: int = DEFAULT_ROWS) -> tuple[pd.DataFrame, dict]:
    """Generate job seekers with AMS-style scores, groups and outcomes.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``; same seed and `n_rows`, same bytes.
    n_rows : int
        Number of job seekers.

    Returns
    -------
    frame : pandas.DataFrame
        One row per job seeker; see the card ``jobseeker-profiling`` for the columns.
    ground_truth : dict
        Coefficients, thresholds and expected group shares (:func:`ground_truth`).

    Examples
    --------
    >>> df, truth = generate(seed=1, n_rows=1000)
    >>> truth["thresholds"]["a_above"], truth["thresholds"]["c_below"]
    (0.66, 0.25)
    """
    rng = np.random.default_rng(seed)
    n = int(n_rows)
    female = rng.random(n) < 0.44
    age = rng.choice(3, size=n, p=[0.26, 0.46, 0.28])
    citizen = rng.choice(3, size=n, p=[0.64, 0.13, 0.23])
    education = _choice_by(
        rng,
        np.array([[0.35, 0.42, 0.13, 0.10], [0.40, 0.30, 0.15, 0.15], [0.65, 0.12, 0.12, 0.11]]),
        citizen,
    )
    p_care = np.array([[0.10, 0.30, 0.05], [0.25, 0.45, 0.08]])[female.astype(int), age]
    care = rng.random(n) < p_care
    health = rng.random(n) < np.array([0.08, 0.18, 0.35])[age]
    production = rng.random(n) < np.where(female, 0.15, 0.45)
    region = _choice_by(
        rng,
        np.array(
            [
                [0.25, 0.22, 0.20, 0.15, 0.18],
                [0.20, 0.18, 0.17, 0.15, 0.30],
                [0.12, 0.12, 0.14, 0.14, 0.48],
            ]
        ),
        citizen,
    )
    # Share of the last 4 years employed: Beta, lower for the young, non-EU and ill.
    a = 2.2 - 0.6 * (age == 0) - 0.4 * (citizen == 2) - 0.6 * health + 0.3 * (education > 0)
    days = np.round(rng.beta(np.maximum(a, 0.3), 1.4) * DAYS_4Y).astype(np.int64)

    frame = pd.DataFrame(
        {
            "jobseeker_id": np.arange(1, n + 1, dtype=np.int64),
            "gender": categorical(female.astype(int), GENDERS),
            "age_group": categorical(age, AGE_GROUPS, ordered=True),
            "citizenship": categorical(citizen, CITIZENSHIP),
            "education": categorical(education, EDUCATION, ordered=True),
            "care_duties": care,
            "health_impairment": health,
            "occupation_group": categorical(production.astype(int), OCCUPATIONS),
            "regional_labour_market": categorical(region, REGIONS, ordered=True),
            "prior_employment_days": days,
        }
    )
    x = model_terms(frame).to_numpy()
    beta_s = np.array([v for k, v in SHORT_TERM.items() if k != "intercept"])
    beta_l = np.array([LONG_TERM[k] for k in SHORT_TERM if k != "intercept"])
    p_short = sigmoid(SHORT_TERM["intercept"] + x @ beta_s)
    p_long = sigmoid(LONG_TERM["intercept"] + x @ beta_l)
    group = np.where(p_short > A_ABOVE, 0, np.where(p_long < C_BELOW, 2, 1))
    frame["p_short"] = p_short
    frame["p_long"] = p_long
    frame["group"] = categorical(group, ["A", "B", "C"], ordered=True)
    frame["reintegrated"] = rng.random(n) < p_short
    return frame, ground_truth()
