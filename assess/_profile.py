"""Step "profile": what the table holds, what is missing, and the outcome by group."""

from __future__ import annotations

import pandas as pd

from ._plots import bar_by_group, new_figure
from ._result import StepResult
from ._roles import columns, normalise_roles, outcome, role_of

__all__ = ["MAX_GROUPS", "MIN_GROUP", "group_labels", "profile", "rows_left_out"]

#: Groups with fewer rows than this get a warning: their numbers are too uncertain.
MIN_GROUP = 50

#: A numeric protected attribute with more values than this is cut into bands.
MAX_GROUPS = 10


def group_labels(series):
    """Return `series` as text labels for grouping (missing values stay missing).

    Parameters
    ----------
    series : pandas.Series
        A protected attribute or a stratum.

    Returns
    -------
    pandas.Series
        A categorical of strings with the observed values only; numbers with
        more than :data:`MAX_GROUPS` values (an age) in five bands.

    Examples
    --------
    >>> group_labels(pd.Series([1, 2, None])).tolist()
    ['1.0', '2.0', <NA>]
    >>> group_labels(pd.Series(range(100))).cat.categories[0]
    '0 to 19.8'

    """
    s = series
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.cat.remove_unused_categories()
        return s.cat.rename_categories([str(c) for c in s.cat.categories])
    numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
    if numeric and s.nunique() > MAX_GROUPS:
        # A number such as an age: five bands of about equal size.
        bands = pd.qcut(s, q=5, duplicates="drop")
        lowest = s.min()
        return bands.cat.rename_categories(
            [
                f"{lowest if i == 0 else c.left:g} to {c.right:g}"
                for i, c in enumerate(bands.cat.categories)
            ]
        )
    return s.astype("string").astype("category")


def rows_left_out(n, total, why):
    """Return a plain note saying how many rows a step left out, or None when none.

    Parameters
    ----------
    n : int
        Rows left out.
    total : int
        Rows in the table.
    why : str
        Which values were empty, in plain words.

    Returns
    -------
    str or None

    Examples
    --------
    >>> rows_left_out(5, 100, "the outcome was empty")
    '5 of 100 rows (5.0%) were left out of this step because the outcome was empty.'
    """
    if not n:
        return None
    return f"{n:,} of {total:,} rows ({n / total:.1%}) were left out of this step because {why}."


def profile(df, *, roles, min_group=MIN_GROUP):
    """Describe the table: columns, missing values, and the outcome in each group.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    roles : dict
        Column roles (see the roles vocabulary).
    min_group : int, default 50
        Groups smaller than this are named in a note.

    Returns
    -------
    StepResult
        Tables ``columns`` (role, type, missing, distinct values per column) and
        ``outcome_by_group`` (rows, share and outcome rate per protected group);
        figure ``outcome_by_group``.

    Examples
    --------
    >>> df = pd.DataFrame({"ok": [1, 0, 1, 1], "sex": ["f", "m", "f", "m"]})
    >>> r = profile(df, roles={"ok": "target", "sex": {"role": "protected", "kind": "sex"}})
    >>> r.tables["outcome_by_group"]["outcome_rate"].tolist()
    [1.0, 0.5]
    """
    roles = normalise_roles(roles, df)
    n = len(df)
    result = StepResult("profile")
    missing = df.isna().sum()
    table = pd.DataFrame(
        {
            "column": df.columns,
            "role": [roles.get(c, {}).get("role", "(none)") for c in df.columns],
            "kind": [roles.get(c, {}).get("kind", "") for c in df.columns],
            "type": [_kind_of(df[c]) for c in df.columns],
            "missing": missing.to_numpy(),
            "missing_share": (missing / max(n, 1)).to_numpy(),
            "distinct_values": [df[c].nunique(dropna=True) for c in df.columns],
        }
    )
    result.tables["columns"] = table
    result.captions["columns"] = "Each column: its role, its type, how often it is empty."
    result.notes.append(f"The table has {n:,} rows and {df.shape[1]} columns.")
    for row in table.itertuples():
        if row.missing_share > 0.2:
            result.notes.append(
                f"The column '{row.column}' is empty in {row.missing_share:.0%} of the rows."
            )
    unused = [c for c in df.columns if c not in roles]
    if unused:
        result.notes.append(
            "These columns have no role and are not used: " + ", ".join(map(str, unused)) + "."
        )

    y = outcome(df, roles)
    target = role_of(roles, "target")
    base = y.mean()
    result.notes.append(f"The outcome '{target}' is positive in {base:.1%} of the rows.")
    rows = []
    for column in columns(roles, "protected"):
        groups = group_labels(df[column])
        stats = (
            pd.DataFrame({"g": groups, "y": y})
            .groupby("g", observed=True)["y"]
            .agg(rows="size", outcome_rate="mean")
        )
        stats["share"] = stats["rows"] / n
        stats["missing_outcome"] = (
            pd.DataFrame({"g": groups, "m": y.isna()}).groupby("g", observed=True)["m"].sum()
        )
        small = []
        for group, s in stats.iterrows():
            rows.append(
                {
                    "attribute": column,
                    "kind": roles[column].get("kind", "other"),
                    "group": group,
                    "rows": int(s["rows"]),
                    "share": s["share"],
                    "outcome_rate": s["outcome_rate"],
                    "missing_outcome": int(s["missing_outcome"]),
                }
            )
            if s["rows"] < min_group:
                small.append(f"'{group}' ({int(s['rows'])} rows)")
        if small:
            result.notes.append(
                f"By '{column}', these groups have fewer than {min_group} rows: "
                + ", ".join(small[:8])
                + (f" and {len(small) - 8} more" if len(small) > 8 else "")
                + ". Numbers about them are very uncertain; do not draw conclusions from them "
                "alone."
            )
        empty = int(groups.isna().sum())
        if empty:
            result.notes.append(
                f"The protected column '{column}' is empty in {empty:,} rows; those rows are "
                "not in any group when groups are compared."
            )
    by_group = pd.DataFrame(
        rows,
        columns=["attribute", "kind", "group", "rows", "share", "outcome_rate", "missing_outcome"],
    )
    result.tables["outcome_by_group"] = by_group
    result.captions["outcome_by_group"] = (
        "For each protected group: how many rows, and how often the outcome is positive."
    )
    if len(by_group):
        fig, axes = new_figure(by_group["attribute"].nunique())
        for ax, (attr, part) in zip(axes, by_group.groupby("attribute", sort=False), strict=False):
            bar_by_group(ax, part["group"], part["outcome_rate"], title=attr)
            ax.axhline(base, color="grey", linestyle=":", linewidth=1)
        fig.suptitle(f"How often '{target}' is positive, by group (dotted: all rows)")
        result.figures["outcome_by_group_plot"] = fig
        result.captions["outcome_by_group_plot"] = "Share of positive outcomes by group."
    return result


def _kind_of(s):
    if pd.api.types.is_bool_dtype(s):
        return "yes/no"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "date"
    if pd.api.types.is_numeric_dtype(s):
        return "number"
    if isinstance(s.dtype, pd.CategoricalDtype):
        return "category"
    return "text"
