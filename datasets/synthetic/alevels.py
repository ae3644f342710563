"""Synthetic A-level entries standardised in the style of Ofqual's 2020 algorithm.

In 2020 exams in England were cancelled.  Schools and colleges (centres) submitted a
centre-assessed grade (CAG) and a rank order for every candidate; Ofqual's standardisation
then imposed each centre's historical results (2017-2019) in that subject on the rank order,
except for small cohorts, where the CAG counted fully (5 or fewer candidates) or partly
(6 to 14).  Small cohorts are most common in independent schools, so their candidates were
downgraded least; the results were withdrawn on 17 August 2020 in favour of CAGs.

This module implements a simplified form of that rule (:func:`standardise`), the reference
implementation learners re-implement, and a generator of centres, cohorts, CAGs and ranks.
Simplifications, stated in the card: the cohort size is the 2020 entry count (Ofqual used a
harmonic mean with historical entries); there is no adjustment for prior attainment; the
allocation of grades to ranks uses the midpoint rule below.

The rule, for one cohort (a centre and a subject) of ``n`` candidates:

1. ``w = clip((n - 5) / 10, 0, 1)``: the weight of the centre's history (0 for n <= 5,
   1 for n >= 15, linear between).
2. ``C[g] = w * H[g] + (1 - w) * T[g]`` for each grade ``g``, where ``H[g]`` is the share of
   historical results at grade ``g`` or better and ``T[g]`` the share of the 2020 CAGs at
   ``g`` or better (``C["U"] = 1``).
3. The candidate ranked ``r`` (1 = best) gets the best grade ``g`` with
   ``(r - 0.5) / n < C[g] - 1e-9``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from . import categorical

__all__ = [
    "generate",
    "ground_truth",
    "standardise",
    "standardise_frame",
    "downgrade_rates",
    "GRADES",
    "DEFAULT_SEED",
    "DEFAULT_ROWS",
]

DEFAULT_SEED = 20200813
DEFAULT_ROWS = 30_000

#: Grades from best to worst (the order of the ``hist_share_*`` columns and of ``H``, ``C``).
GRADES = ["A*", "A", "B", "C", "D", "E", "U"]
#: Category order of the grade columns (ordered categoricals compare worst < best).
GRADE_CATEGORIES = GRADES[::-1]
HIST_COLUMNS = [f"hist_share_{g.lower().replace('*', 'star')}" for g in GRADES]
EPS = 1e-9
CAG_ONLY_AT_MOST, HISTORY_ONLY_AT_LEAST = 5, 15

CENTRE_TYPES = [
    "independent",
    "state comprehensive",
    "selective",
    "sixth-form college",
    "FE college",
]
#: per centre type: share of centres, latent mean, mean cohort size, subjects offered, P(FSM)
CENTRE_PARAMS = {
    "independent": (0.22, 0.55, 7.0, 15, 0.01),
    "state comprehensive": (0.60, -0.10, 10.0, 13, 0.15),
    "selective": (0.05, 0.65, 20.0, 15, 0.04),
    "sixth-form college": (0.04, 0.00, 40.0, 16, 0.15),
    "FE college": (0.09, -0.35, 14.0, 12, 0.22),
}
#: subject: (popularity weight, difficulty offset on the latent scale)
SUBJECTS = {
    "Mathematics": (0.12, 0.10),
    "Psychology": (0.08, -0.10),
    "Biology": (0.08, 0.00),
    "Chemistry": (0.07, 0.05),
    "History": (0.06, 0.00),
    "English Literature": (0.06, 0.00),
    "Sociology": (0.05, -0.15),
    "Art and Design": (0.05, 0.10),
    "Physics": (0.05, 0.10),
    "Business Studies": (0.04, -0.15),
    "Geography": (0.04, 0.00),
    "Economics": (0.04, 0.05),
    "Computer Science": (0.02, -0.10),
    "Further Mathematics": (0.02, 0.50),
    "Media Studies": (0.02, -0.20),
    "French": (0.01, 0.20),
}
#: Latent cut points (A*, A, B, C, D, E), calibrated so that historical results resemble the
#: 2019 national A-level distribution (approximately 8% A*, 25% A*-A, 51% A*-B, 76% A*-C).
CUTS = np.array([1.83, 0.85, -0.03, -0.88, -1.70, -2.49])
EXAM_NOISE, TEACHER_NOISE, OPTIMISM, OPTIMISM_SD, YEAR_SD = 0.6, 0.45, 0.45, 0.15, 0.15
#: Expected downgrade rates (share of entries below their CAG) in the population, from one
#: sample of 2,000,000 entries (seed 0).  A sample of a few hundred centres varies around
#: them by several points (centres differ in optimism), so the ground truth also records
#: the rates realised in the generated frame, which an audit must reproduce exactly.
EXPECTED_DOWNGRADE_RATE = {
    "independent": 0.283,
    "state comprehensive": 0.378,
    "selective": 0.412,
    "sixth-form college": 0.472,
    "FE college": 0.437,
    "all": 0.386,
}
TOLERANCE = {"rate": 0.001}


def downgrade_rates(frame: pd.DataFrame) -> dict:
    """Return the share of entries standardised below their CAG, by centre type and overall.

    Parameters
    ----------
    frame : pandas.DataFrame
        An entries frame with ``centre_type`` and ``downgraded``.

    Returns
    -------
    dict
        Centre type (and ``"all"``) -> rate rounded to three decimals.
    """
    rates = frame.groupby("centre_type", observed=False)["downgraded"].mean()
    out = {t: round(float(rates[t]), 3) for t in CENTRE_TYPES}
    return out | {"all": round(float(frame["downgraded"].mean()), 3)}


def ground_truth(frame: pd.DataFrame | None = None) -> dict:
    """Return the rule and the downgrade rates (the card's ``ground_truth``).

    Parameters
    ----------
    frame : pandas.DataFrame, optional
        The generated frame; its realised downgrade rates are recorded as ``downgrade_rate``.

    Returns
    -------
    dict
        ``rule`` (a machine-readable description of :func:`standardise`),
        ``small_cohort_rule`` thresholds, ``downgrade_rate`` (realised, by centre type),
        ``expected_downgrade_rate`` (population) and ``tolerance``.
    """
    realised = downgrade_rates(frame) if frame is not None else None
    return {
        "protected": ["centre_type", "fsm_eligible"],
        "rule": {
            "function": "ai4scale.datasets.synthetic.alevels:standardise",
            "unit": "cohort = (centre_id, subject)",
            "grades_best_to_worst": list(GRADES),
            "n": "cohort_size, the number of 2020 entries in the cohort",
            "history_weight": "w = clip((n - 5) / 10, 0, 1)",
            "history_cumulative": "H[g] = sum of hist_share_* for grades g or better",
            "cag_cumulative": "T[g] = share of the cohort's CAGs at grade g or better",
            "target_cumulative": "C[g] = w * H[g] + (1 - w) * T[g]; C['U'] = 1",
            "allocation": "rank r (1 = best) gets the best g with (r - 0.5) / n < C[g] - 1e-9",
        },
        "small_cohort_rule": {
            "cag_only_if_cohort_at_most": CAG_ONLY_AT_MOST,
            "history_only_if_cohort_at_least": HISTORY_ONLY_AT_LEAST,
            "taper": "linear in n between the two thresholds",
        },
        "downgrade_rate": realised,
        "expected_downgrade_rate": dict(EXPECTED_DOWNGRADE_RATE),
        "finding": "candidates at independent schools, whose cohorts are small, are "
        "downgraded least; large state cohorts absorb the full historical distribution",
        "audit": {"downgrade_rate": "frame.groupby('centre_type').downgraded.mean()"},
        "tolerance": dict(TOLERANCE),
    }


def _grade_index(grades: Sequence) -> np.ndarray:
    """Map grade labels (or best-to-worst positions) to positions in :data:`GRADES`."""
    values = np.asarray(list(grades), dtype=object)
    if len(values) and not isinstance(values[0], str):
        return values.astype(np.int64)
    lookup = {g: i for i, g in enumerate(GRADES)}
    return np.array([lookup[str(g)] for g in values], dtype=np.int64)


def standardise(
    history: Sequence[float],
    cags: Sequence[str],
    ranks: Sequence[int],
    *,
    cohort_size: int | None = None,
) -> np.ndarray:
    """Standardise one cohort's grades: the reference implementation of the 2020-style rule.

    Parameters
    ----------
    history : sequence of float
        The centre's 2017-2019 share of results in this subject at each grade, best to worst
        (A*, A, B, C, D, E, U); normalised to sum to one.
    cags : sequence of str
        The centre-assessed grades of the cohort's candidates (labels from :data:`GRADES`).
    ranks : sequence of int
        The centre's rank order, 1 = best, a permutation of ``1..n`` consistent with `cags`.
    cohort_size : int, optional
        Cohort size ``n`` used for the small-cohort taper; defaults to ``len(cags)``.

    Returns
    -------
    numpy.ndarray
        Standardised grade labels, in the order of `cags`.

    Examples
    --------
    >>> hist = [0.0, 0.0, 0.5, 0.5, 0.0, 0.0, 0.0]
    >>> standardise(hist, ["A", "A", "B"], [1, 2, 3]).tolist()      # n <= 5: CAGs stand
    ['A', 'A', 'B']
    >>> cags = ["A"] * 20
    >>> standardise(hist, cags, range(1, 21)).tolist().count("B")  # n >= 15: history imposed
    10
    """
    cag_idx = _grade_index(cags)
    r = np.asarray(list(ranks), dtype=np.float64)
    n = len(cag_idx) if cohort_size is None else int(cohort_size)
    w = min(max((n - CAG_ONLY_AT_MOST) / (HISTORY_ONLY_AT_LEAST - CAG_ONLY_AT_MOST), 0.0), 1.0)
    h = np.asarray(history, dtype=np.float64)
    h_cum = np.cumsum(h / h.sum())
    t_cum = np.cumsum(np.bincount(cag_idx, minlength=len(GRADES)) / len(cag_idx))
    c = w * h_cum + (1.0 - w) * t_cum
    c[-1] = 1.0
    position = (r - 0.5) / n
    best = np.argmax(position[:, None] < c[None, :] - EPS, axis=1)
    return np.array(GRADES, dtype=object)[best]


def standardise_frame(frame: pd.DataFrame) -> pd.Series:
    """Apply :func:`standardise` to every cohort of an entries frame.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``centre_id``, ``subject``, ``cohort_size``, ``cag``, ``rank`` and the seven
        ``hist_share_*`` columns (constant within a cohort).

    Returns
    -------
    pandas.Series
        Standardised grade labels (object dtype), aligned with `frame`'s index.
    """
    out = pd.Series(index=frame.index, dtype=object)
    cag = frame["cag"].astype(str).to_numpy()
    rank = frame["rank"].to_numpy()
    hist = frame[HIST_COLUMNS].to_numpy()
    size = frame["cohort_size"].to_numpy()
    groups = frame.groupby(["centre_id", "subject"], observed=True, sort=False).indices
    for rows in groups.values():
        first = rows[0]
        out.iloc[rows] = standardise(
            hist[first], cag[rows], rank[rows], cohort_size=int(size[first])
        )
    return out


def _grade_of(score: np.ndarray) -> np.ndarray:
    """Position in :data:`GRADES` (0 = A*) of latent scores, by the national cut points."""
    return (score[:, None] < CUTS[None, :]).sum(axis=1)


def generate(*, seed: int = DEFAULT_SEED, n_rows: int = DEFAULT_ROWS) -> tuple[pd.DataFrame, dict]:
    """Generate A-level entries with CAGs, rank orders, centre histories and standardised grades.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``; same seed and `n_rows`, same bytes.
    n_rows : int
        Number of 2020 entries (candidate x subject); the last cohort is cut to fit.

    Returns
    -------
    frame : pandas.DataFrame
        One row per entry, sorted by centre, subject and rank; see the card
        ``exam-standardisation`` for the columns.
    ground_truth : dict
        The rule and the expected downgrade rates (:func:`ground_truth`).
    """
    rng = np.random.default_rng(seed)
    n = int(n_rows)
    types = list(CENTRE_PARAMS)
    p_type = np.array([CENTRE_PARAMS[t][0] for t in types])
    names = list(SUBJECTS)
    weight = np.array([SUBJECTS[s][0] for s in names])
    difficulty = np.array([SUBJECTS[s][1] for s in names])

    cohorts = []  # (centre_id, type index, subject index, centre mean, optimism, n_2020)
    total, centre = 0, 0
    while total < n:
        centre += 1
        t = int(rng.choice(len(types), p=p_type))
        _, mean, size, k, _ = CENTRE_PARAMS[types[t]]
        mu = mean + rng.normal(0.0, 0.35)
        optimism = OPTIMISM + rng.normal(0.0, OPTIMISM_SD)
        k = int(min(max(rng.poisson(k), 1), len(names)))
        offered = np.sort(rng.choice(len(names), size=k, replace=False, p=weight / weight.sum()))
        for s in offered:
            mean_size = size * weight[s] / weight.mean()
            m = 1 + int(rng.negative_binomial(2, 2 / (2 + mean_size)))
            m = min(m, n - total)
            cohorts.append((centre, t, int(s), mu + difficulty[s], optimism, m, mean_size))
            total += m
            if total >= n:
                break

    cols = {k: [] for k in ("centre", "type", "subject", "size", "fsm", "cag", "rank", "exam")}
    hist_rows = []
    for centre_id, t, s, mu, optimism, m, mean_size in cohorts:
        p_fsm = CENTRE_PARAMS[types[t]][4]
        # History: three years, each with its own cohort size and year-to-year shift.
        years = np.maximum(rng.poisson(mean_size, size=3), 1)
        shift = np.repeat(rng.normal(0.0, YEAR_SD, 3), years)
        hist_fsm = rng.random(years.sum()) < p_fsm
        perf = mu + shift - 0.4 * hist_fsm + rng.normal(0.0, 1.0, years.sum())
        perf += rng.normal(0.0, EXAM_NOISE, years.sum())
        hist_counts = np.bincount(_grade_of(perf), minlength=len(GRADES))
        hist_rows.append((hist_counts / hist_counts.sum(), int(years.sum()), m))
        # 2020: latent attainment, the exam result it would have earned, the teacher's view.
        fsm = rng.random(m) < p_fsm
        ability = mu + rng.normal(0.0, YEAR_SD) - 0.4 * fsm + rng.normal(0.0, 1.0, m)
        exam = _grade_of(ability + rng.normal(0.0, EXAM_NOISE, m))
        teacher = ability + optimism + rng.normal(0.0, TEACHER_NOISE, m)
        order = np.argsort(-teacher, kind="stable")
        rank = np.empty(m, dtype=np.int64)
        rank[order] = np.arange(1, m + 1)
        for key, value in (("fsm", fsm), ("cag", _grade_of(teacher)), ("rank", rank)):
            cols[key].append(value)
        cols["exam"].append(exam)
        cols["centre"].append(np.full(m, centre_id))
        cols["type"].append(np.full(m, t))
        cols["subject"].append(np.full(m, s))
        cols["size"].append(np.full(m, m))
    c = {k: np.concatenate(v) for k, v in cols.items()}
    sizes = np.array([m for _, _, m in hist_rows])
    hist = np.repeat(np.array([h for h, _, _ in hist_rows]), sizes, axis=0)
    hist_n = np.repeat(np.array([e for _, e, _ in hist_rows], dtype=np.int64), sizes)

    frame = pd.DataFrame(
        {
            "entry_id": np.arange(1, n + 1, dtype=np.int64),
            "centre_id": c["centre"].astype(np.int64),
            "centre_type": categorical(c["type"], CENTRE_TYPES),
            "fsm_eligible": c["fsm"].astype(bool),
            "subject": categorical(c["subject"], names),
            "cohort_size": c["size"].astype(np.int64),
            "hist_entries": hist_n,
        }
        | {col: hist[:, i].astype(np.float64) for i, col in enumerate(HIST_COLUMNS)}
        | {
            "cag": categorical(6 - c["cag"], GRADE_CATEGORIES, ordered=True),
            "rank": c["rank"].astype(np.int64),
            "counterfactual_exam_grade": categorical(6 - c["exam"], GRADE_CATEGORIES, ordered=True),
        }
    )
    frame = frame.sort_values(["centre_id", "subject", "rank"], kind="stable")
    frame = frame.reset_index(drop=True)
    std = _grade_index(standardise_frame(frame))
    cag = _grade_index(frame["cag"].astype(str))
    frame["standardised_grade"] = categorical(6 - std, GRADE_CATEGORIES, ordered=True)
    frame["grade_change"] = (cag - std).astype(np.int64)
    frame["downgraded"] = std > cag
    frame["entry_id"] = np.arange(1, n + 1, dtype=np.int64)
    return frame, ground_truth(frame)
