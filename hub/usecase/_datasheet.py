"""Draft a datasheet for a use-case table, in the card schema of the prepared datasets.

The draft follows ``datasets/card.schema.yaml`` (kind ``usecase``): Gebru et
al.'s sections as prose the team completes, the columns with their roles,
and two sections computed from the data: ``statistics`` (profile,
missingness, base rates of the target by protected group, small groups) and
``personal_data`` (the scan's findings, masked, with what the team did about
each one and, for a confirmed finding, its reason).
"""

from __future__ import annotations

import re

__all__ = ["SMALL_GROUP", "draft_datasheet", "positive_value"]

#: Groups with fewer rows than this give unreliable rates (warned in the datasheet).
SMALL_GROUP = 30
#: Columns with at most this many values list their most frequent values.
FEW_VALUES = 20
_CARD_ROLE = {"identifier": "id"}
_POSITIVE = ("1", "true", "yes", "ja", "oui", "si", "sí", "tak", "granted", "toegekend", "approved")


def _slug(text):
    slug = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")
    return slug or "table"


def _dtype(series):
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_integer_dtype(series):
        return "int64"
    if pd.api.types.is_float_dtype(series):
        return "float64"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime64[ns]"
    if isinstance(series.dtype, pd.CategoricalDtype):
        return "category"
    return "string"


def _plain(value):
    """Return a JSON/YAML-safe scalar."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return None if value != value else round(value, 6)
    if isinstance(value, (int, bool, str)):
        return value
    return str(value)


def positive_value(series):
    """Return the value of a two-valued target that counts as the positive outcome."""
    values = list(series.dropna().unique())
    for v in values:
        if str(v).strip().lower() in _POSITIVE:
            return _plain(v)
    counts = series.value_counts()
    return _plain(counts.index[-1]) if len(counts) else None


def _profile(df, flagged):
    import pandas as pd

    out = []
    for c in df.columns:
        s = df[c]
        entry = {
            "column": str(c),
            "type": _dtype(s),
            "missing": int(s.isna().sum()),
            "distinct": int(s.nunique(dropna=True)),
        }
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            present = s.dropna()
            if len(present):
                entry.update(
                    min=_plain(present.min()),
                    median=_plain(present.median()),
                    max=_plain(present.max()),
                )
        elif entry["distinct"] <= FEW_VALUES and c not in flagged:
            top = s.value_counts().head(FEW_VALUES)
            entry["values"] = {str(k): int(v) for k, v in top.items()}
        out.append(entry)
    return out


def _groups(series):
    """Group a protected attribute: its values, or quartiles of a many-valued number."""
    import pandas as pd

    if (
        pd.api.types.is_numeric_dtype(series)
        and not pd.api.types.is_bool_dtype(series)
        and series.nunique() > FEW_VALUES
    ):
        return pd.qcut(series, 4, duplicates="drop").astype("string")
    return series.astype("string")


def _base_rates(df, target, positive, protected):
    rates, small = {}, []
    if target is None or target not in df.columns:
        return rates, small
    hit = df[target].astype("string") == str(positive)
    overall = float(hit.mean()) if len(df) else 0.0
    for p in protected:
        if p not in df.columns:
            continue
        groups = _groups(df[p]).fillna("(missing)")
        table = hit.groupby(groups, observed=True).agg(["size", "mean"])
        rates[str(p)] = {
            str(g): {"rows": int(row["size"]), "rate": round(float(row["mean"]), 4)}
            for g, row in table.iterrows()
        }
        for g, row in table.iterrows():
            if row["size"] < SMALL_GROUP:
                small.append({"column": str(p), "group": str(g), "rows": int(row["size"])})
    rates["(all rows)"] = {"all": {"rows": int(len(df)), "rate": round(overall, 4)}}
    return rates, small


def _resolution_line(f):
    r = f.get("resolution") or {}
    what = {
        "drop": "removed",
        "pseudonymise": "pseudonymised with a keyed hash",
        "coarsen": "made coarser",
        "confirm": "kept on purpose",
    }.get(r.get("action"), "not resolved")
    line = f"{f['column']} ({f['kind']}): {what}"
    if r.get("reason"):
        line += f", because: {r['reason']}"
    return line


def draft_datasheet(df, *, name, roles, findings, source, k=5):
    """Draft the datasheet card of a use-case table.

    Parameters
    ----------
    df : pandas.DataFrame
        The table as it will be shared (treatments applied).
    name : str
        The dataset's name (its id is the slug of it).
    roles : dict
        Column -> ``{"role": ..., "kind": ...}`` (normalised by the intake).
    findings : list of dict
        The personal-data findings, with their resolutions.
    source : dict
        Where the table came from: ``filename``, ``format``, ``sha256``, ...
    k : int
        The smallest group size of the quasi-identifier check.

    Returns
    -------
    dict
        A card valid against ``datasets/card.schema.yaml``.
    """
    findings = list(findings or [])
    role_of = {c: (roles.get(c) or {}).get("role", "feature") for c in map(str, df.columns)}
    target = next((c for c, r in role_of.items() if r == "target"), None)
    protected = [c for c, r in role_of.items() if r == "protected"]
    positive = positive_value(df[target]) if target else None
    flagged = {f["column"] for f in findings}
    profile = _profile(df, flagged)
    missing = {p["column"]: p["missing"] for p in profile if p["missing"]}
    rows_missing = int(df.isna().any(axis=1).sum())
    rates, small = _base_rates(df, target, positive, protected)
    dropped = sorted(
        {
            f["column"]
            for f in findings
            if (f.get("resolution") or {}).get("action") == "drop" and f["column"] not in df.columns
        }
        | {
            c
            for f in findings
            for c in [(f.get("resolution") or {}).get("dropped")]
            if c and c not in df.columns
        }
    )
    columns = []
    for p in profile:
        role = role_of[p["column"]]
        kind = (roles.get(p["column"]) or {}).get("kind")
        desc = f"{p['type']} column, {p['distinct']} different values"
        if kind:
            desc += f", protected attribute ({kind})"
        if p["missing"]:
            desc += f", {p['missing']} missing"
        desc += " (drafted from the data: say what it records)"
        columns.append(
            {
                "name": p["column"],
                "dtype": p["type"],
                "role": _CARD_ROLE.get(role, role),
                "description": desc,
            }
        )
    n, m = len(df), len(df.columns)
    if missing:
        worst = ", ".join(
            f"{c} ({v})" for c, v in sorted(missing.items(), key=lambda kv: -kv[1])[:5]
        )
        missing_text = (
            f"{rows_missing} of {n} rows miss at least one value. Columns with missing values "
            f"(count): {worst}. Nothing was imputed; say why values are missing."
        )
    else:
        missing_text = f"No value is missing in the {n} rows and {m} columns; nothing was imputed."
    handled = [_resolution_line(f) for f in findings]
    rate = rates.get("(all rows)", {}).get("all", {}).get("rate")
    caveats = [
        "This datasheet was drafted automatically from the uploaded table; the team must "
        "review and complete every section before relying on it."
    ]
    if small:
        caveats.append(
            f"{len(small)} protected groups have fewer than {SMALL_GROUP} rows: rates for them "
            "are unreliable (" + ", ".join(f"{s['column']}={s['group']}" for s in small[:5]) + ")."
        )
    confirmed = [f for f in findings if (f.get("resolution") or {}).get("action") == "confirm"]
    if confirmed:
        caveats.append(
            "Personal data was kept on purpose, with a reason, in: "
            + ", ".join(sorted({f["column"] for f in confirmed}))
            + "."
        )
    target_text = (
        f"The outcome is '{target}' (positive value {positive!r}, {rate:.1%} of rows)."
        if target and rate is not None
        else "No outcome column was declared."
    )
    return {
        "id": _slug(name),
        "title": f"Use-case table {name}",
        "kind": "usecase",
        "domain": "to be described by the team",
        "decision": "To be described by the team: the decision this table records.",
        "source": {k_: v for k_, v in source.items() if v is not None},
        "licence": {
            "name": "Owned by the administration that brought it",
            "stated_by": "the team that uploaded it (to confirm)",
            "training_use": (
                "Used only inside the sandbox by the owning team and its instructors to assess "
                "the team's own decision system; not shared with other teams."
            ),
        },
        "target": {
            "column": target or "",
            "positive": positive if positive is not None else "",
            "meaning": f"{target} = {positive} (drafted: say what it means)",
        },
        "protected": protected,
        "columns": columns,
        "missing_values": missing_text,
        "personal_data_removed": dropped,
        "caveats": caveats,
        "datasheet": {
            "motivation": (
                "Drafted: why this table was made, by whom, and which decision of the "
                "administration it supports. To be completed by the team."
            ),
            "composition": (
                f"Each of the {n} rows is one case; the table has {m} columns. {target_text} "
                f"Protected attributes: {', '.join(protected) or 'none'}. Say what a row stands "
                "for and whether the rows are all cases or a sample."
            ),
            "collection": (
                "Drafted: how and when the data were recorded, by which system, over which "
                f"period. Received as {source.get('filename', 'a file')} "
                f"({source.get('format', '?')})."
            ),
            "preprocessing": (
                "Personal data found by the scan and what was done: "
                + ("; ".join(handled) if handled else "nothing was found")
                + ". Say what else was cleaned or changed before upload."
            ),
            "uses": (
                "Assessing this decision system for fairness, errors and stability in the "
                "sandbox. Not for deciding about any individual case."
            ),
            "distribution": (
                "Kept by the course service, readable only by the owning team's members, its "
                "workspace and instructors; the exported dossier holds no row-level data."
            ),
            "maintenance": (
                "Drafted: who answers questions about this table and when it will be updated "
                "or deleted. To be completed by the team."
            ),
        },
        "shape": {"rows": max(n, 1), "columns": max(m, 1)},
        "statistics": {
            "profile": profile,
            "missingness": {"rows_with_missing": rows_missing, "by_column": missing},
            "base_rates": rates,
            "small_groups": small,
            "small_group_rows": SMALL_GROUP,
        },
        "personal_data": {
            "k": k,
            "findings": [{key: f[key] for key in f if key != "position"} for f in findings],
        },
    }
