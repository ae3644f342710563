"""Step "performance": how well the decisions match the outcome, group by group.

Confidence intervals come from a bootstrap on each group's four counts (true
and false positives and negatives): drawing the counts again from a
multinomial distribution gives the same intervals as drawing the rows again,
at a cost that does not grow with the number of rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._plots import bar_by_group, new_figure
from ._profile import MIN_GROUP, group_labels, rows_left_out
from ._result import StepResult
from ._roles import AssessError, columns, normalise_roles, outcome

__all__ = ["METRICS", "bootstrap_counts", "group_counts", "performance", "prepare"]

#: Metrics by name, with their plain-language labels.
METRICS = {
    "selection_rate": "share of positive decisions",
    "accuracy": "share of correct decisions",
    "false_positive_rate": "wrongly flagged, among those with a negative outcome",
    "false_negative_rate": "wrongly missed, among those with a positive outcome",
}


def _count(y_true, y_pred, sample_weight):
    return float(np.sum(sample_weight))


def _metric_frame(counts, names):
    """Return fairlearn's ``MetricFrame`` of the groups' confusion counts.

    MetricFrame is given one row per group and (outcome, decision) pair,
    weighted by its count: the same figures as on every row, without a pass
    over a million rows per metric and group.
    """
    from fairlearn import metrics
    from sklearn.metrics import accuracy_score

    group, cell = np.nonzero(counts)
    weights = counts[group, cell].astype(float)
    # fairlearn's functions of the same names as METRICS' (accuracy: scikit-learn's)
    funcs = {"count": _count, "accuracy": accuracy_score}
    funcs.update({name: getattr(metrics, name) for name in METRICS if name not in funcs})
    return metrics.MetricFrame(
        metrics=funcs,
        y_true=cell // 2,
        y_pred=cell % 2,
        sensitive_features=np.asarray([str(names[g]) for g in group], dtype=object),
        sample_params={name: {"sample_weight": weights} for name in funcs},
    )


def prepare(df, *, roles, predictions):
    """Return the outcome and the decisions as 0/1 integers, and a note on dropped rows.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    roles : dict
        Column roles.
    predictions : array-like
        Decisions (0/1, NaN where none), one per row of `df`.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray, str or None)
        Outcome, decisions, the mask of rows kept, and the note.

    Examples
    --------
    >>> df = pd.DataFrame({"y": [1, 0, None]})
    >>> y, p, keep, note = prepare(df, roles={"y": "target"}, predictions=[1, 1, 0])
    >>> keep.tolist()
    [True, True, False]
    """
    roles = normalise_roles(roles, df)
    y = outcome(df, roles).to_numpy(dtype=float)
    p = pd.Series(np.asarray(predictions, dtype=float).reshape(-1)).to_numpy()
    if len(p) != len(y):
        raise AssessError(
            f"There are {len(p):,} decisions for {len(y):,} rows; give one decision per row."
        )
    keep = ~(np.isnan(y) | np.isnan(p))
    note = rows_left_out(int((~keep).sum()), len(y), "the outcome or the decision was empty")
    return np.nan_to_num(y).astype(np.int8), np.nan_to_num(p).astype(np.int8), keep, note


def group_counts(y, p, codes, n_groups):
    """Return each group's counts: true and false negatives and positives.

    In the order true negatives, false positives, false negatives, true positives.

    Parameters
    ----------
    y, p : numpy.ndarray
        Outcome and decision, 0/1.
    codes : numpy.ndarray
        Group number of each row (0 to ``n_groups - 1``).
    n_groups : int
        Number of groups.

    Returns
    -------
    numpy.ndarray of shape (n_groups, 4)

    Examples
    --------
    >>> group_counts(np.array([0, 1, 1]), np.array([1, 1, 0]), np.array([0, 0, 1]), 2)
    array([[0, 1, 0, 1],
           [0, 0, 1, 0]])
    """
    cell = codes.astype(np.int64) * 4 + y.astype(np.int64) * 2 + p.astype(np.int64)
    return np.bincount(cell, minlength=n_groups * 4).reshape(n_groups, 4)


def _rates(counts):
    # counts: (..., 4) as tn, fp, fn, tp; returns a dict of arrays of shape (...).
    tn, fp, fn, tp = (counts[..., i].astype(float) for i in range(4))
    n = tn + fp + fn + tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "selection_rate": (fp + tp) / n,
            "accuracy": (tn + tp) / n,
            "false_positive_rate": fp / (fp + tn),
            "false_negative_rate": fn / (fn + tp),
        }


def bootstrap_counts(counts, *, n_boot=200, random_state=0):
    """Draw each group's four counts again, `n_boot` times.

    Parameters
    ----------
    counts : numpy.ndarray of shape (n_groups, 4)
        From :func:`group_counts`.
    n_boot : int, default 200
        Number of draws.
    random_state : int, default 0
        Seed.

    Returns
    -------
    numpy.ndarray of shape (n_boot, n_groups, 4)

    Examples
    --------
    >>> bootstrap_counts(np.array([[5, 1, 1, 3]]), n_boot=3).shape
    (3, 1, 4)
    """
    rng = np.random.default_rng(random_state)
    n = counts.sum(axis=1)
    pvals = counts / np.maximum(n, 1)[:, None]
    pvals[n == 0] = 0.25
    return rng.multinomial(n, pvals, size=(n_boot, len(n)))


def performance(
    df, *, roles, predictions, n_boot=200, random_state=0, min_group=MIN_GROUP, level=0.95
):
    """Measure the decisions against the outcome for every protected group.

    Uses fairlearn's ``MetricFrame`` for the share of correct decisions, the
    share of positive decisions (selection rate), the false positive and false
    negative rates and the number of rows, with bootstrap confidence intervals.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    roles : dict
        Column roles.
    predictions : array-like
        Decisions (0/1), one per row of `df` (see :func:`predict`).
    n_boot : int, default 200
        Bootstrap draws for the confidence intervals.
    random_state : int, default 0
        Seed of the bootstrap.
    min_group : int, default 50
        Groups smaller than this get a warning.
    level : float, default 0.95
        Confidence level of the intervals.

    Returns
    -------
    StepResult
        Table ``metrics`` (one row per attribute and group, each metric with
        ``_low``/``_high`` bounds); figure ``by_group``.

    Examples
    --------
    >>> r = performance(df, roles=roles, predictions=predict(df, roles=roles))  # doctest: +SKIP
    >>> r.tables["metrics"]  # doctest: +SKIP
    """
    roles = normalise_roles(roles, df)
    y, p, keep, note = prepare(df, roles=roles, predictions=predictions)
    result = StepResult("performance")
    if note:
        result.notes.append(note)
    alpha = (1 - level) / 2
    rows = []
    overall = group_counts(y[keep], p[keep], np.zeros(int(keep.sum()), dtype=np.int64), 1)
    rows += _rows("(all rows)", ["(all rows)"], overall, n_boot, random_state, alpha)
    attributes = columns(roles, "protected")
    if not attributes:
        result.notes.append(
            "No column is marked as protected, so groups cannot be compared. Mark the columns "
            "that say who people are (sex, age, nationality, ...) as protected."
        )
    for column in attributes:
        groups = group_labels(df[column])
        have = keep & groups.notna().to_numpy()
        if (keep & ~have).any():
            result.notes.append(
                rows_left_out(
                    int((keep & ~have).sum()), len(df), f"the column '{column}' was empty"
                ).replace("this step", f"the comparison by '{column}'")
            )
        labels = groups[have]
        codes = labels.cat.codes.to_numpy()
        names = list(labels.cat.categories)
        counts = group_counts(y[have], p[have], codes, len(names))
        by_group = _metric_frame(counts, names).by_group
        part = _rows(column, names, counts, n_boot, random_state, alpha)
        for row in part:
            fair = by_group.loc[row["group"]] if row["group"] in by_group.index else None
            if fair is not None:  # MetricFrame's own figures; the counts agree with them
                for metric in METRICS:
                    row[metric] = float(fair[metric])
        rows += part
        small = [f"'{r['group']}' ({r['count']} rows)" for r in part if r["count"] < min_group]
        if small:
            result.notes.append(
                f"By '{column}', these groups have fewer than {min_group} rows, so their numbers "
                "can change a lot by chance (see the wide intervals): " + _some(small) + "."
            )
        same = [f"'{r['group']}'" for r in part if r["positives"] == 0 or r["negatives"] == 0]
        if same:
            result.notes.append(
                f"By '{column}', every outcome is the same in these groups, so one of their error "
                "rates cannot be measured: " + _some(same) + "."
            )
    table = pd.DataFrame(rows)
    result.tables["metrics"] = table
    result.captions["metrics"] = (
        "For each group: share of positive decisions, share of correct decisions, error rates, "
        f"each with a {level:.0%} confidence interval (low - high)."
    )
    groups_only = table[table["attribute"] != "(all rows)"]
    if len(groups_only):
        attrs = list(dict.fromkeys(groups_only["attribute"]))
        fig, axes = new_figure(len(attrs) * len(METRICS), cols=len(METRICS), width=3.4)
        for i, attr in enumerate(attrs):
            part = groups_only[groups_only["attribute"] == attr]
            for j, metric in enumerate(METRICS):
                ax = axes[i * len(METRICS) + j]
                bar_by_group(
                    ax,
                    part["group"],
                    part[metric],
                    low=part[f"{metric}_low"],
                    high=part[f"{metric}_high"],
                    title=metric.replace("_", " ") if i == 0 else None,
                    ylabel=attr if j == 0 else None,
                )
                ax.set_ylim(0, 1)
        fig.suptitle(f"Decisions by group, with {level:.0%} confidence intervals")
        result.figures["by_group_plot"] = fig
        result.captions["by_group_plot"] = result.captions["metrics"]
    return result


def _some(names, shown=8):
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _rows(attribute, names, counts, n_boot, random_state, alpha):
    point = _rates(counts)
    draws = _rates(bootstrap_counts(counts, n_boot=n_boot, random_state=random_state))
    rows = []
    for g, name in enumerate(names):
        n = int(counts[g].sum())
        row = {
            "attribute": attribute,
            "group": str(name),
            "count": n,
            "positives": int(counts[g, 2] + counts[g, 3]),
            "negatives": int(counts[g, 0] + counts[g, 1]),
        }
        for metric in METRICS:
            values = draws[metric][:, g]
            row[metric] = float(point[metric][g])
            finite = values[np.isfinite(values)]
            low, high = np.quantile(finite, [alpha, 1 - alpha]) if len(finite) else (np.nan, np.nan)
            row[f"{metric}_low"], row[f"{metric}_high"] = float(low), float(high)
        rows.append(row)
    return rows
