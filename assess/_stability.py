"""Step "stability": whether the groups' numbers hold from one period to the next."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ._performance import prepare
from ._plots import new_figure
from ._profile import MIN_GROUP, group_labels
from ._result import StepResult
from ._roles import columns, normalise_roles, role_of

__all__ = ["stability"]


def _parse_dates(values):
    """Return `values` as dates: ISO (2024-03-31) or day first (31-03-2024, 31/03/2024)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pandas' note on inferring a format
        iso = pd.to_datetime(values, errors="coerce", format="ISO8601")
        if iso.notna().sum() >= 0.5 * values.notna().sum():
            return iso
        return pd.to_datetime(values, errors="coerce", dayfirst=True)


def _periods(dates):
    span = (dates.max() - dates.min()).days if dates.notna().any() else 0
    if span > 3 * 366:
        return dates.dt.year.astype("Int64").astype(str), "year"
    if span > 366:
        return dates.dt.to_period("Q").astype(str), "quarter"
    return dates.dt.to_period("M").astype(str), "month"


def stability(df, *, roles, predictions, min_group=MIN_GROUP):
    """Follow each group's decisions and errors period by period (of the date column).

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    roles : dict
        Column roles; the column with role ``date`` gives the periods (years,
        quarters or months, whichever gives a few periods).
    predictions : array-like
        Decisions (0/1), one per row.
    min_group : int, default 50
        Periods and groups with fewer rows are marked.

    Returns
    -------
    StepResult
        Table ``by_period`` (rows, share of positive decisions, share of
        correct decisions, outcome rate per period and group); figure
        ``by_period``. Without a date column: a note only.

    Examples
    --------
    >>> r = stability(df, roles=roles, predictions=decisions)  # doctest: +SKIP
    """
    roles = normalise_roles(roles, df)
    result = StepResult("stability")
    date = role_of(roles, "date")
    if date is None:
        result.notes.append(
            "No date column is declared, so changes over time cannot be followed. Mark the "
            "column with the date of each decision as 'date' to see them."
        )
        return result
    y, p, keep, note = prepare(df, roles=roles, predictions=predictions)
    dates = _parse_dates(df[date])
    bad = keep & dates.isna().to_numpy()
    if note:
        result.notes.append(note)
    if bad.any():
        result.notes.append(
            f"{int(bad.sum()):,} rows have no readable date in '{date}' and are left out."
        )
    keep = keep & ~bad
    period, unit = _periods(dates[keep])
    frame = pd.DataFrame(
        {"period": period.to_numpy(), "y": y[keep], "p": p[keep], "ok": y[keep] == p[keep]}
    )
    rows = []
    attrs = ["(all rows)", *columns(roles, "protected")]
    for attr in attrs:
        g = (
            np.full(len(frame), "(all rows)", dtype=object)
            if attr == "(all rows)"
            else group_labels(df[attr])[keep].astype(object).to_numpy()
        )
        stats = (
            frame.assign(group=g)
            .dropna(subset=["group"])
            .groupby(["period", "group"], observed=True)
            .agg(
                rows=("y", "size"),
                selection_rate=("p", "mean"),
                accuracy=("ok", "mean"),
                outcome_rate=("y", "mean"),
            )
            .reset_index()
        )
        stats.insert(0, "attribute", attr)
        rows.append(stats)
    table = pd.concat(rows, ignore_index=True)
    table["few_rows"] = table["rows"] < min_group
    result.tables["by_period"] = table
    result.captions["by_period"] = (
        f"For each {unit} and group: rows, share of positive decisions, share of correct "
        "decisions, and how often the outcome was positive."
    )
    n_periods = table["period"].nunique()
    result.notes.append(f"The rows cover {n_periods} {unit}s of '{date}'.")
    if table["few_rows"].any():
        result.notes.append(
            f"Some {unit}s have fewer than {min_group} rows for a group (marked few_rows): "
            "their numbers move a lot by chance."
        )
    fig, axes = new_figure(len(attrs))
    for ax, attr in zip(axes, attrs, strict=True):
        part = table[table["attribute"] == attr]
        for group, line in part.groupby("group", sort=False):
            ax.plot(line["period"], line["selection_rate"], marker="o", label=str(group))
        ax.set_title(attr)
        ax.set_ylim(0, 1)
        ax.tick_params(axis="x", rotation=45)
        ax.legend(fontsize="small")
    fig.suptitle(f"Share of positive decisions per {unit}")
    result.figures["by_period_plot"] = fig
    result.captions["by_period_plot"] = (
        f"Share of positive decisions per {unit}, one line per group."
    )
    return result
