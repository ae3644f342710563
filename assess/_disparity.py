"""Steps "disparities" and "conditional_disparity": how far apart the groups are.

``disparities`` compares the groups as they are; ``conditional_disparity``
compares them among comparable cases only (within strata of the declared
legitimate factors, numeric ones cut into bins), weighted by stratum size.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._performance import _rates, bootstrap_counts, group_counts, prepare
from ._plots import new_figure
from ._profile import MIN_GROUP, group_labels
from ._result import StepResult
from ._roles import columns, normalise_roles

__all__ = ["conditional_disparity", "disparities"]


def disparities(
    df, *, roles, predictions, n_boot=200, random_state=0, min_group=MIN_GROUP, level=0.95
):
    """Compare the groups of each protected attribute: differences and ratios.

    For the share of positive decisions (selection rate), the false positive
    rate and the false negative rate: the highest and lowest group, their
    difference (with a bootstrap confidence interval) and the lower divided by
    the higher.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    roles : dict
        Column roles.
    predictions : array-like
        Decisions (0/1), one per row of `df`.
    n_boot : int, default 200
        Bootstrap draws.
    random_state : int, default 0
        Seed.
    min_group : int, default 50
        Groups smaller than this are left out of the comparison (with a note).
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    StepResult
        Table ``differences`` (attribute, measure, highest and lowest group,
        difference with bounds, ratio); figure ``differences``.

    Examples
    --------
    >>> r = disparities(df, roles=roles, predictions=decisions)  # doctest: +SKIP
    >>> r.tables["differences"]  # doctest: +SKIP
    """
    roles = normalise_roles(roles, df)
    y, p, keep, note = prepare(df, roles=roles, predictions=predictions)
    result = StepResult("disparities")
    if note:
        result.notes.append(note)
    alpha = (1 - level) / 2
    rows = []
    for column in columns(roles, "protected"):
        groups = group_labels(df[column])
        have = keep & groups.notna().to_numpy()
        labels = groups[have]
        names = list(labels.cat.categories)
        counts = group_counts(y[have], p[have], labels.cat.codes.to_numpy(), len(names))
        big = counts.sum(axis=1) >= min_group
        small = [str(n) for n, b in zip(names, big, strict=True) if not b]
        if small:
            result.notes.append(
                f"By '{column}', these groups are too small to compare (fewer than {min_group} "
                "rows) and are left out: " + ", ".join(small) + "."
            )
        if big.sum() < 2:
            result.notes.append(f"By '{column}', fewer than two groups are big enough to compare.")
            continue
        names = [n for n, b in zip(names, big, strict=True) if b]
        counts = counts[big]
        point = _rates(counts)
        draws = _rates(bootstrap_counts(counts, n_boot=n_boot, random_state=random_state))
        for metric in ("selection_rate", "false_positive_rate", "false_negative_rate"):
            values = point[metric]
            if np.isnan(values).all():
                continue
            hi, lo = int(np.nanargmax(values)), int(np.nanargmin(values))
            # The interval of the difference between these two groups (it may go below 0:
            # then the order of the groups could be chance).
            spread = draws[metric][:, hi] - draws[metric][:, lo]
            low, high = np.nanquantile(spread, [alpha, 1 - alpha])
            row = {
                "attribute": column,
                "measure": metric,
                "highest_group": str(names[hi]),
                "highest": float(values[hi]),
                "lowest_group": str(names[lo]),
                "lowest": float(values[lo]),
                "difference": float(values[hi] - values[lo]),
                "difference_low": float(low),
                "difference_high": float(high),
                "ratio": float(values[lo] / values[hi]) if values[hi] > 0 else np.nan,
            }
            rows.append(row)
            if metric == "selection_rate":
                result.notes.append(_say(row, level))
    table = pd.DataFrame(
        rows,
        columns=[
            "attribute",
            "measure",
            "highest_group",
            "highest",
            "lowest_group",
            "lowest",
            "difference",
            "difference_low",
            "difference_high",
            "ratio",
        ],
    )
    result.tables["differences"] = table
    result.captions["differences"] = (
        "For each protected attribute: the groups with the highest and lowest rate, the "
        f"difference (with a {level:.0%} interval) and the lower rate divided by the higher."
    )
    if len(table):
        attrs = list(dict.fromkeys(table["attribute"]))
        fig, axes = new_figure(len(attrs))
        for ax, attr in zip(axes, attrs, strict=True):
            part = table[table["attribute"] == attr]
            x = np.arange(len(part))
            err = np.vstack(
                [
                    part["difference"] - part["difference_low"],
                    part["difference_high"] - part["difference"],
                ]
            )
            ax.bar(x, part["difference"], yerr=np.clip(err, 0, None), capsize=3, color="#C44E52")
            ax.set_xticks(x, [m.replace("_", " ") for m in part["measure"]], rotation=20)
            ax.set_title(f"{attr}: highest minus lowest group")
            ax.axhline(0, color="black", linewidth=0.8)
        fig.suptitle("Differences between groups (with confidence intervals)")
        result.figures["differences_plot"] = fig
        result.captions["differences_plot"] = result.captions["differences"]
    return result


def _say(row, level):
    text = (
        f"By '{row['attribute']}', the share of positive decisions is {row['highest']:.1%} for "
        f"'{row['highest_group']}' and {row['lowest']:.1%} for '{row['lowest_group']}': "
        f"{100 * row['difference']:.1f} percentage points apart ({level:.0%} interval "
        f"{100 * row['difference_low']:.1f} to {100 * row['difference_high']:.1f})."
    )
    if row["difference_low"] <= 0:
        text += " The interval reaches 0, so this difference could be chance."
    if np.isfinite(row["ratio"]) and row["ratio"] < 0.8:
        text += (
            f" The lower is {row['ratio']:.2f} times the higher; a common rule of thumb (the "
            "four-fifths rule) asks for a closer look below 0.8."
        )
    return text


def _strata(df, factors, bins):
    """Return stratum codes and labels from the legitimate factors."""
    keys = []
    for column in factors:
        s = df[column]
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        if numeric and s.nunique() > bins:
            s = pd.qcut(s, q=bins, duplicates="drop")
            s = s.cat.rename_categories([f"{c.left:g} to {c.right:g}" for c in s.cat.categories])
        else:
            s = group_labels(s)
            top = s.value_counts().index[:10]
            if len(s.cat.categories) > 10:
                s = s.cat.add_categories(["(other)"]).where(s.isin(top) | s.isna(), "(other)")
                s = s.cat.remove_unused_categories()
        keys.append(s.astype("category"))
    codes = np.zeros(len(df), dtype=np.int64)
    missing = np.zeros(len(df), dtype=bool)
    for s in keys:
        c = s.cat.codes.to_numpy().astype(np.int64)
        missing |= c < 0
        codes = codes * (len(s.cat.categories) + 1) + np.maximum(c, 0)
    uniq, codes = np.unique(codes, return_inverse=True)
    first = pd.Series(np.arange(len(df))).groupby(codes).first().to_numpy()
    labels = [
        ", ".join(f"{f}={k.iloc[i]}" for f, k in zip(factors, keys, strict=True)) for i in first
    ]
    return codes, labels, missing


def conditional_disparity(
    df,
    *,
    roles,
    predictions,
    bins=4,
    n_boot=200,
    random_state=0,
    min_group=MIN_GROUP,
    min_cell=10,
    level=0.95,
):
    """Compare the groups among comparable cases: within strata of the legitimate factors.

    Every combination of the legitimate factors (numbers cut into `bins` bins
    of equal size) is a stratum. Each group's share of positive decisions is
    taken within every stratum, then averaged with the strata's sizes as
    weights (direct standardisation), so that groups are compared as if they
    had the same mix of legitimate factors. The same is done for the outcome.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    roles : dict
        Column roles; the columns with role ``legitimate`` make the strata.
    predictions : array-like
        Decisions (0/1), one per row of `df`.
    bins : int, default 4
        Bins for numeric legitimate factors.
    n_boot : int, default 200
        Bootstrap draws (each stratum and group drawn again).
    random_state : int, default 0
        Seed.
    min_group : int, default 50
        Groups smaller than this are left out.
    min_cell : int, default 10
        Strata rows with fewer rows than this are not shown one by one.
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    StepResult
        Tables ``summary`` (raw and conditional difference per attribute),
        ``by_group`` (raw and standardised rates) and ``by_stratum``; figure
        ``raw_and_conditional``.

    Examples
    --------
    >>> r = conditional_disparity(df, roles=roles, predictions=decisions)  # doctest: +SKIP
    >>> r.tables["summary"]  # doctest: +SKIP
    """
    roles = normalise_roles(roles, df)
    result = StepResult("conditional_disparity")
    factors = columns(roles, "legitimate")
    if not factors:
        result.notes.append(
            "No legitimate factor is declared, so this step has nothing to control for. Mark the "
            "columns that may rightly change the decision (for example income for a benefit) as "
            "legitimate factors."
        )
        return result
    y, p, keep, note = prepare(df, roles=roles, predictions=predictions)
    if note:
        result.notes.append(note)
    codes, labels, missing = _strata(df, factors, bins)
    if missing.any():
        result.notes.append(
            f"{int((missing & keep).sum()):,} rows have an empty legitimate factor and are left "
            "out of this step."
        )
    keep = keep & ~missing
    n_strata = len(labels)
    rng = np.random.default_rng(random_state)
    alpha = (1 - level) / 2
    summary, by_group, by_stratum = [], [], []
    for column in columns(roles, "protected"):
        groups = group_labels(df[column])
        have = keep & groups.notna().to_numpy()
        g = groups.cat.codes.to_numpy()[have].astype(np.int64)
        names = list(groups.cat.categories)
        s = codes[have]
        cell = s * len(names) + g
        size = len(names) * n_strata
        n = np.bincount(cell, minlength=size).reshape(n_strata, len(names)).astype(float)
        k_dec = np.bincount(cell, weights=p[have], minlength=size).reshape(n.shape)
        k_out = np.bincount(cell, weights=y[have], minlength=size).reshape(n.shape)
        big = n.sum(axis=0) >= min_group
        if big.sum() < 2:
            result.notes.append(f"By '{column}', fewer than two groups are big enough to compare.")
            continue
        n, k_dec, k_out = n[:, big], k_dec[:, big], k_out[:, big]
        names = [x for x, b in zip(names, big, strict=True) if b]
        usable = (n > 0).all(axis=1)
        if not usable.any():
            result.notes.append(
                f"By '{column}', no stratum holds every group, so the groups cannot be compared "
                "among comparable cases. Use fewer legitimate factors or fewer bins."
            )
            continue
        weights = n[usable].sum(axis=1) / n[usable].sum()
        share_used = n[usable].sum() / n.sum()
        if share_used < 0.9:
            result.notes.append(
                f"By '{column}', only {share_used:.0%} of the rows are in strata where every "
                "group occurs; the comparison among comparable cases covers those rows only."
            )
        with np.errstate(invalid="ignore", divide="ignore"):
            std_dec = (weights[:, None] * k_dec[usable] / n[usable]).sum(axis=0)
            std_out = (weights[:, None] * k_out[usable] / n[usable]).sum(axis=0)
            draws = rng.binomial(
                n[usable].astype(np.int64),
                k_dec[usable] / n[usable],
                size=(n_boot, *n[usable].shape),
            )
            boot = (weights[None, :, None] * draws / n[usable][None]).sum(axis=1)
        raw_dec = k_dec.sum(axis=0) / n.sum(axis=0)
        raw_out = k_out.sum(axis=0) / n.sum(axis=0)
        hi, lo = int(std_dec.argmax()), int(std_dec.argmin())
        low, high = np.quantile(boot[:, hi] - boot[:, lo], [alpha, 1 - alpha])
        row = {
            "attribute": column,
            "raw_difference": float(raw_dec.max() - raw_dec.min()),
            "conditional_difference": float(std_dec.max() - std_dec.min()),
            "conditional_low": float(low),
            "conditional_high": float(high),
            "highest_group": str(names[hi]),
            "lowest_group": str(names[lo]),
            "strata_used": int(usable.sum()),
            "strata": int(n_strata),
            "rows_used_share": float(share_used),
        }
        summary.append(row)
        result.notes.append(
            f"By '{column}', the share of positive decisions differs by "
            f"{100 * row['raw_difference']:.1f} percentage points overall and by "
            f"{100 * row['conditional_difference']:.1f} points among comparable cases "
            f"(same {', '.join(factors)}; {level:.0%} interval {100 * low:.1f} to "
            f"{100 * high:.1f})."
            + (" The interval reaches 0, so this difference could be chance." if low <= 0 else "")
        )
        for j, name in enumerate(names):
            by_group.append(
                {
                    "attribute": column,
                    "group": str(name),
                    "rows": int(n[:, j].sum()),
                    "selection_rate": float(raw_dec[j]),
                    "selection_rate_comparable": float(std_dec[j]),
                    "outcome_rate": float(raw_out[j]),
                    "outcome_rate_comparable": float(std_out[j]),
                }
            )
        order = np.argsort(-n.sum(axis=1))[:100]
        for i in order:
            for j, name in enumerate(names):
                if n[i, j] >= min_cell:
                    by_stratum.append(
                        {
                            "attribute": column,
                            "stratum": labels[i],
                            "group": str(name),
                            "rows": int(n[i, j]),
                            "selection_rate": float(k_dec[i, j] / n[i, j]),
                            "outcome_rate": float(k_out[i, j] / n[i, j]),
                        }
                    )
    result.tables["summary"] = pd.DataFrame(summary)
    result.captions["summary"] = (
        "Difference in the share of positive decisions between the highest and lowest group: "
        "overall, and among comparable cases (same legitimate factors)."
    )
    result.tables["by_group"] = pd.DataFrame(by_group)
    result.captions["by_group"] = (
        "Each group's share of positive decisions and of positive outcomes: overall, and as if "
        "every group had the same mix of legitimate factors."
    )
    result.tables["by_stratum"] = pd.DataFrame(by_stratum)
    result.captions["by_stratum"] = (
        f"Within each stratum (the 100 biggest; cells under {min_cell} rows not shown)."
    )
    if by_group:
        table = result.tables["by_group"]
        attrs = list(dict.fromkeys(table["attribute"]))
        fig, axes = new_figure(len(attrs))
        for ax, attr in zip(axes, attrs, strict=True):
            part = table[table["attribute"] == attr]
            x = np.arange(len(part))
            ax.bar(x - 0.2, part["selection_rate"], width=0.4, label="all cases")
            ax.bar(x + 0.2, part["selection_rate_comparable"], width=0.4, label="comparable cases")
            ax.set_xticks(x, part["group"].astype(str), rotation=20)
            ax.set_title(attr)
            ax.set_ylim(0, 1)
            ax.legend(fontsize="small")
        fig.suptitle("Share of positive decisions: all cases and comparable cases")
        result.figures["raw_and_conditional_plot"] = fig
        result.captions["raw_and_conditional_plot"] = result.captions["by_group"]
    return result
