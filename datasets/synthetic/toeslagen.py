"""Synthetic childcare-allowance applications with a nationality-biased fraud flag.

Inspired by the Dutch childcare-benefits scandal (*toeslagenaffaire*): the tax
administration's risk classification used (dual) nationality, and tens of thousands of
parents were wrongly treated as fraudsters.  No real person is in this data.

How a row is made (all draws from ``numpy.random.default_rng(seed)``):

1. ``dual_nationality`` with probability :data:`P_DUAL`.
2. Nationality-correlated features drawn *conditionally on* ``dual_nationality``: the
   parent's country of birth, the language used in contact with the benefits office, the
   region, years at the current address, household income, single parenthood.
3. Childcare features drawn *independently of* nationality: number of children in care,
   type of care, hours per month, price per hour; the allowance follows from them and income.
4. ``irregularity`` (the truth a full audit would find): exactly ``round(IRREGULARITY_RATE *
   n_group)`` rows in each nationality group, chosen with weights that depend only on the
   childcare features.  So the true rate is the same for both groups.
5. ``flagged`` (the historical label): in each (nationality, irregularity) cell exactly
   ``round(p * n_cell)`` rows, with ``p`` from :data:`FLAG_RATES`.  Dual nationals without
   any irregularity are flagged :data:`FALSE_FLAG_RATE_RATIO` times as often as others.

The ground truth (:func:`ground_truth`) is computed from these parameters, not from the
sample, so it is the same for every seed; a simple audit of any large sample recovers it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import categorical, top_k_mask

__all__ = ["generate", "ground_truth", "DEFAULT_SEED", "DEFAULT_ROWS"]

DEFAULT_SEED = 20240611
DEFAULT_ROWS = 20_000

P_DUAL = 0.11
IRREGULARITY_RATE = 0.05
#: P(flagged | dual_nationality, irregularity)
FLAG_RATES = {(False, False): 0.04, (True, False): 0.12, (False, True): 0.40, (True, True): 0.40}
FALSE_FLAG_RATE_RATIO = FLAG_RATES[True, False] / FLAG_RATES[False, False]
TOLERANCE = {"correlation": 0.03, "ratio": 0.15, "rate": 0.01}

COUNTRIES = [
    "Netherlands",
    "Turkey",
    "Morocco",
    "Suriname",
    "Dutch Caribbean",
    "EU (other)",
    "Other",
]
P_COUNTRY = {  # parent's country of birth given dual nationality (True) or not (False)
    True: [0.15, 0.30, 0.27, 0.04, 0.03, 0.08, 0.13],
    False: [0.85, 0.01, 0.01, 0.05, 0.02, 0.04, 0.02],
}
LANGUAGES = ["Dutch", "English", "Turkish", "Arabic", "Papiamento", "Other"]
P_LANGUAGE = {
    True: [0.70, 0.04, 0.12, 0.08, 0.01, 0.05],
    False: [0.96, 0.02, 0.003, 0.003, 0.004, 0.01],
}
REGIONS = ["Amsterdam", "Rotterdam", "The Hague", "Utrecht", "Other urban", "Rural"]
P_REGION = {
    True: [0.16, 0.14, 0.12, 0.05, 0.38, 0.15],
    False: [0.05, 0.04, 0.03, 0.03, 0.45, 0.40],
}
#: years at the current address ~ Gamma(shape, scale), whole years completed
YEARS_SHAPE, YEARS_SCALE = 1.6, {True: 3.5, False: 5.0}
INCOME_MEDIAN = {True: 36_000.0, False: 46_000.0}  # EUR per year, household
P_SINGLE = {True: 0.25, False: 0.18}

CARE_TYPES = ["daycare centre", "out-of-school care", "childminder"]
P_CARE = [0.50, 0.35, 0.15]
HOURS_PER_CHILD = [(80.0, 25.0), (50.0, 20.0), (70.0, 30.0)]  # mean, sd per month
PRICE = [(8.40, 0.60), (7.30, 0.50), (6.50, 0.80)]  # EUR per hour, mean, sd
MAX_RATE = [8.17, 7.02, 6.27]  # 2020 maximum reimbursed hourly rates (approximate)
P_CHILDREN = [0.55, 0.35, 0.08, 0.02]  # 1, 2, 3, 4 children in care


def _phi(p_group: float, p_if: float, p_else: float) -> float:
    """Return the population phi coefficient of a binary indicator with a binary group."""
    q = p_group * p_if + (1 - p_group) * p_else
    return (p_if - p_else) * np.sqrt(p_group * (1 - p_group) / (q * (1 - q)))


def _point_biserial_gamma() -> float:
    """Return the population correlation of (continuous) years at address with dual nationality."""
    m1, m0 = (YEARS_SHAPE * YEARS_SCALE[d] for d in (True, False))
    v1, v0 = (YEARS_SHAPE * YEARS_SCALE[d] ** 2 for d in (True, False))
    p = P_DUAL
    mean = p * m1 + (1 - p) * m0
    var = p * (v1 + m1**2) + (1 - p) * (v0 + m0**2) - mean**2
    return (m1 - m0) * np.sqrt(p * (1 - p)) / np.sqrt(var)


def ground_truth() -> dict:
    """Return the injected bias as a JSON-serialisable dict (the card's ``ground_truth``).

    Returns
    -------
    dict
        ``protected``, ``proxies`` (feature, indicator, population correlation with the
        protected attribute), ``label_bias`` (biased label, true label, rates and ratios),
        and ``tolerance`` (how close a simple audit of a sample must come).
    """

    def r3(x: float) -> float:
        return round(float(x), 3)

    def share(table: dict, categories: list[str], chosen: set[str], group: bool) -> float:
        return sum(p for c, p in zip(categories, table[group], strict=True) if c in chosen)

    not_nl = set(COUNTRIES) - {"Netherlands"}
    not_dutch = set(LANGUAGES) - {"Dutch"}
    g4 = {"Amsterdam", "Rotterdam", "The Hague", "Utrecht"}
    proxies = [
        ("parent_country_of_birth", "parent_country_of_birth != 'Netherlands'", COUNTRIES, not_nl),
        ("contact_language", "contact_language != 'Dutch'", LANGUAGES, not_dutch),
        ("region", "region in {Amsterdam, Rotterdam, The Hague, Utrecht}", REGIONS, g4),
    ]
    table = {
        "parent_country_of_birth": P_COUNTRY,
        "contact_language": P_LANGUAGE,
        "region": P_REGION,
    }
    out = []
    for feature, indicator, cats, chosen in proxies:
        a = share(table[feature], cats, chosen, True)
        b = share(table[feature], cats, chosen, False)
        out.append(
            {
                "feature": feature,
                "indicator": indicator,
                "measure": "phi (Pearson correlation of two booleans)",
                "correlation_with_protected": r3(_phi(P_DUAL, a, b)),
            }
        )
    out.append(
        {
            "feature": "years_at_address",
            "indicator": "years_at_address",
            "measure": "point-biserial correlation",
            "correlation_with_protected": r3(_point_biserial_gamma()),
        }
    )
    ff = FLAG_RATES
    return {
        "protected": "dual_nationality",
        "protected_share": P_DUAL,
        "proxies": out,
        "label_bias": {
            "label": "flagged",
            "true_label": "irregularity",
            "true_rate": IRREGULARITY_RATE,
            "true_rate_ratio": 1.0,
            "false_flag_rate": {"dual": ff[True, False], "not_dual": ff[False, False]},
            "false_flag_rate_ratio": r3(FALSE_FLAG_RATE_RATIO),
            "true_positive_rate": {"dual": ff[True, True], "not_dual": ff[False, True]},
            "flag_rate": {
                "dual": r3(
                    ff[True, False] * (1 - IRREGULARITY_RATE) + ff[True, True] * IRREGULARITY_RATE
                ),
                "not_dual": r3(
                    ff[False, False] * (1 - IRREGULARITY_RATE) + ff[False, True] * IRREGULARITY_RATE
                ),
            },
            "description": (
                "Among applicants with no irregularity, dual nationals are flagged for "
                "investigation 3 times as often; the true irregularity rate is equal."
            ),
        },
        "audit": {
            "false_flag_rate_ratio": "mean(flagged | dual & ~irregularity) / "
            "mean(flagged | ~dual & ~irregularity)",
            "correlation": "numpy.corrcoef(indicator, dual_nationality)",
        },
        "tolerance": dict(TOLERANCE),
    }


def _draw(rng: np.random.Generator, probs: dict, group: np.ndarray) -> np.ndarray:
    """Draw category codes with probabilities that depend on a boolean group."""
    u = rng.random(len(group))
    codes = np.empty(len(group), dtype=np.int64)
    for g in (True, False):
        cum = np.cumsum(probs[g])
        cum[-1] = 1.0
        codes[group == g] = np.searchsorted(cum, u[group == g], side="right")
    return codes


def generate(*, seed: int = DEFAULT_SEED, n_rows: int = DEFAULT_ROWS) -> tuple[pd.DataFrame, dict]:
    """Generate childcare-allowance applications with an injected nationality bias.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``; same seed and `n_rows`, same bytes.
    n_rows : int
        Number of applications.

    Returns
    -------
    frame : pandas.DataFrame
        One row per application; see the card ``childcare-benefit-fraud`` for the columns.
    ground_truth : dict
        The injected bias (:func:`ground_truth`).

    Examples
    --------
    >>> df, truth = generate(seed=1, n_rows=1000)
    >>> truth["label_bias"]["false_flag_rate_ratio"]
    3.0
    """
    rng = np.random.default_rng(seed)
    n = int(n_rows)
    dual = rng.random(n) < P_DUAL
    country = _draw(rng, P_COUNTRY, dual)
    language = _draw(rng, P_LANGUAGE, dual)
    region = _draw(rng, P_REGION, dual)
    scale = np.where(dual, YEARS_SCALE[True], YEARS_SCALE[False])
    years = np.floor(rng.gamma(YEARS_SHAPE, scale)).astype(np.int64)
    single = rng.random(n) < np.where(dual, P_SINGLE[True], P_SINGLE[False])
    median = np.where(dual, INCOME_MEDIAN[True], INCOME_MEDIAN[False]) * np.where(single, 0.6, 1.0)
    income = np.round(median * np.exp(rng.normal(0.0, 0.5, n)), -1)

    # Childcare: independent of nationality by construction.
    children = rng.choice(4, size=n, p=P_CHILDREN) + 1
    care = rng.choice(3, size=n, p=P_CARE)
    mean_h = np.array([h[0] for h in HOURS_PER_CHILD])[care]
    sd_h = np.array([h[1] for h in HOURS_PER_CHILD])[care]
    per_child = np.clip(rng.normal(mean_h, sd_h), 10.0, 230.0)
    hours = np.round(per_child * children).astype(np.int64)
    price = np.round(
        np.clip(rng.normal(np.array(PRICE)[care, 0], np.array(PRICE)[care, 1]), 4.0, 14.0), 2
    )
    # Reimbursed share falls with income (approximate 2020 table: 96% down to 33.3%).
    pct = np.clip(0.96 - (income - 20_000.0) * 3.5e-6, 0.333, 0.96)
    allowance = np.round(12 * hours * np.minimum(price, np.array(MAX_RATE)[care]) * pct, 2)

    # True irregularity: same rate in both groups; more likely with childminders, many hours.
    w_irr = np.exp(0.9 * (care == 2) + 0.6 * (per_child > 120) + 0.3 * (children >= 3))
    irregular = np.zeros(n, dtype=bool)
    for g in (True, False):
        idx = np.flatnonzero(dual == g)
        irregular[idx] = top_k_mask(rng, w_irr[idx], round(IRREGULARITY_RATE * len(idx)))

    # Historical flag: exact rate per (nationality, irregularity) cell; within a cell, the
    # flag falls more often on low incomes, single parents and childminder care.
    w_flag = np.exp(0.5 * (care == 2) + 0.4 * single + 0.4 * (income < 30_000))
    flagged = np.zeros(n, dtype=bool)
    for (g, irr), p in FLAG_RATES.items():
        idx = np.flatnonzero((dual == g) & (irregular == irr))
        flagged[idx] = top_k_mask(rng, w_flag[idx], round(p * len(idx)))

    frame = pd.DataFrame(
        {
            "application_id": np.arange(1, n + 1, dtype=np.int64),
            "dual_nationality": dual,
            "parent_country_of_birth": categorical(country, COUNTRIES),
            "contact_language": categorical(language, LANGUAGES),
            "region": categorical(region, REGIONS),
            "years_at_address": years,
            "household_income": income.astype(np.float64),
            "single_parent": single,
            "n_children": children.astype(np.int64),
            "childcare_type": categorical(care, CARE_TYPES),
            "childcare_hours_per_month": hours,
            "hourly_price": price.astype(np.float64),
            "allowance_per_year": allowance.astype(np.float64),
            "irregularity": irregular,
            "flagged": flagged,
        }
    )
    return frame, ground_truth()
