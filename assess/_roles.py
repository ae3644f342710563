"""Column roles (one vocabulary with the use-case service) and the outcome coded as 0/1."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "KINDS",
    "ROLES",
    "AssessError",
    "binary",
    "columns",
    "model_columns",
    "normalise_roles",
    "outcome",
    "role_of",
    "score_decisions",
]

#: Every role a column may have.
ROLES = (
    "target",
    "score",
    "feature",
    "protected",
    "legitimate",
    "identifier",
    "excluded",
    "date",
)

#: Kinds of protected attribute.
KINDS = ("sex", "age", "nationality", "ethnicity_proxy", "disability", "religion", "other")


#: Two-word answers read as 1/0 without a declared positive value (several languages).
_YES_NO = (
    ("true", "false"),
    ("1", "0"),
    ("1.0", "0.0"),
    ("yes", "no"),
    ("y", "n"),
    ("ja", "nee"),
    ("j", "n"),
    ("ja", "nein"),
    ("oui", "non"),
    ("si", "no"),
    ("sí", "no"),
    ("tak", "nie"),
)


class AssessError(ValueError):
    """A problem with the data or the roles, told in plain words with what to do."""


def normalise_roles(roles, df=None):
    """Return roles as ``{column: {"role": ..., ...}}``, checked.

    Parameters
    ----------
    roles : dict
        ``{"column": {"role": "protected", "kind": "sex"}, "other": "feature"}``;
        a bare string is the role of a column without further settings.
    df : pandas.DataFrame, optional
        When given, every column named in `roles` must exist in it.

    Returns
    -------
    dict
        A new dict; every value is a dict with at least ``"role"``.

    Raises
    ------
    AssessError
        On an unknown role, a missing column, or not exactly one target.

    Examples
    --------
    >>> normalise_roles({"ok": "target", "sex": {"role": "protected", "kind": "sex"}})
    {'ok': {'role': 'target'}, 'sex': {'role': 'protected', 'kind': 'sex'}}
    """
    out = {}
    for column, spec in dict(roles or {}).items():
        spec = {"role": spec} if isinstance(spec, str) else dict(spec)
        role = spec.get("role")
        if role not in ROLES:
            raise AssessError(
                f"The column {column!r} has the role {role!r}, which is not one of: "
                + ", ".join(ROLES)
                + "."
            )
        if role == "protected" and spec.get("kind", "other") not in KINDS:
            raise AssessError(
                f"The protected column {column!r} has the kind {spec.get('kind')!r}; "
                "use one of: " + ", ".join(KINDS) + "."
            )
        out[str(column)] = spec
    targets = [c for c, s in out.items() if s["role"] == "target"]
    if len(targets) != 1:
        raise AssessError(
            "Mark exactly one column as the outcome (role 'target'); "
            f"found {len(targets)}: {', '.join(targets) or 'none'}."
        )
    if df is not None:
        missing = [c for c in out if c not in df.columns]
        if missing:
            raise AssessError(
                "These columns are named in the roles but are not in the table: "
                + ", ".join(missing)
                + "."
            )
    return out


def columns(roles, role):
    """Return the columns that have `role`, in the order the roles list them.

    Parameters
    ----------
    roles : dict
        Normalised roles (see :func:`normalise_roles`).
    role : str
        One of :data:`ROLES`.

    Returns
    -------
    list of str

    Examples
    --------
    >>> columns({"a": {"role": "feature"}, "b": {"role": "target"}}, "feature")
    ['a']
    """
    return [c for c, s in roles.items() if s["role"] == role]


def role_of(roles, role):
    """Return the single column with `role`, or None.

    Parameters
    ----------
    roles : dict
        Normalised roles.
    role : str
        ``"target"``, ``"score"`` or ``"date"``.

    Returns
    -------
    str or None

    Examples
    --------
    >>> role_of({"y": {"role": "target"}}, "target")
    'y'
    """
    found = columns(roles, role)
    return found[0] if found else None


def model_columns(df, roles):
    """Return the columns a model may use: features and legitimate factors.

    Protected attributes, identifiers, excluded columns, the outcome, the
    score and the date are left out.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    roles : dict
        Normalised roles.

    Returns
    -------
    list of str

    Examples
    --------
    >>> df = pd.DataFrame({"x": [1], "y": [0], "s": ["f"]})
    >>> model_columns(df, {"x": {"role": "feature"}, "y": {"role": "target"}})
    ['x']
    """
    return [c for c in df.columns if roles.get(c, {}).get("role") in ("feature", "legitimate")]


def binary(values, *, column, positive=None, role="target"):
    """Code a two-valued column as 0/1 (missing values stay missing).

    Parameters
    ----------
    values : pandas.Series
        0/1 numbers, booleans, or two labels.
    column : str
        Its name, for the message.
    positive : object, optional
        The value that counts as 1 (needed for two labels other than 0/1,
        true/false, or yes/no in one of several languages: ja/nee, oui/non, ...).
    role : str, default "target"
        The column's role, for the message.

    Returns
    -------
    pandas.Series
        Float 0.0/1.0 with NaN where the value is missing.

    Raises
    ------
    AssessError
        With three or more values, or two labels and no `positive`.

    Examples
    --------
    >>> binary(pd.Series(["granted", "refused"]), column="d", positive="granted").tolist()
    [1.0, 0.0]
    """
    s = pd.Series(values)
    present = s.dropna()
    kept = pd.unique(present)
    if positive is not None:
        if positive not in set(kept.tolist()) and str(positive) not in {str(v) for v in kept}:
            raise AssessError(
                f"The value {positive!r} given as the positive outcome of {column!r} does not "
                f"occur in it; its values are: {', '.join(map(repr, kept[:5].tolist()))}."
            )
        if len(kept) > 2:
            raise _three(column, kept)
        hit = present.astype(str) == str(positive)
        return pd.Series(np.where(hit, 1.0, 0.0), index=present.index).reindex(s.index)
    if len(kept) > 2:
        raise _three(column, kept)
    if pd.api.types.is_bool_dtype(present) or pd.api.types.is_numeric_dtype(present):
        numbers = present.astype(float)
        if set(numbers.unique()) <= {0.0, 1.0}:
            return numbers.reindex(s.index)
    words = {str(v).strip().lower() for v in kept}
    for yes, no in _YES_NO:
        if words <= {yes, no}:
            hit = present.astype(str).str.strip().str.lower() == yes
            return pd.Series(np.where(hit, 1.0, 0.0), index=present.index).reindex(s.index)
    values = kept.tolist()
    raise AssessError(
        f"The column {column!r} has the values {', '.join(map(repr, values))}. "
        "Say which one is the outcome the decision looks for, for example "
        f"roles[{column!r}] = {{'role': {role!r}, 'positive': {values[0]!r}}}."
    )


def _three(column, kept):
    shown = ", ".join(map(repr, kept[:6].tolist())) + (" ..." if len(kept) > 6 else "")
    return AssessError(
        f"The column {column!r} has {len(kept)} different values ({shown}); the assessment "
        "compares two outcomes. Make a column with two values (for example 'refused' "
        "against everything else) and mark that one as the outcome."
    )


def outcome(df, roles):
    """Return the outcome column coded 0/1 (NaN where missing).

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    roles : dict
        Normalised roles; the target's ``"positive"`` names its positive value.

    Returns
    -------
    pandas.Series

    Examples
    --------
    >>> df = pd.DataFrame({"ok": [True, False]})
    >>> outcome(df, {"ok": {"role": "target"}}).tolist()
    [1.0, 0.0]
    """
    column = role_of(roles, "target")
    return binary(df[column], column=column, positive=roles[column].get("positive"))


def score_decisions(df, roles):
    """Return the existing system's decisions as 0/1 from its score column, or None.

    A score with two values is taken as the decision itself; a numeric score is
    compared with the column's ``"threshold"`` (default 0.5 when every score is
    between 0 and 1): at or above the threshold is a positive decision.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    roles : dict
        Normalised roles.

    Returns
    -------
    pandas.Series or None
        Float 0/1 with NaN where the score is missing; None without a score column.

    Raises
    ------
    AssessError
        A numeric score outside 0-1 with no threshold.

    Examples
    --------
    >>> df = pd.DataFrame({"risk": [0.2, 0.9]})
    >>> score_decisions(df, {"risk": {"role": "score", "threshold": 0.5}}).tolist()
    [0.0, 1.0]
    """
    column = role_of(roles, "score")
    if column is None:
        return None
    spec = roles[column]
    s = df[column]
    numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
    zero_one = numeric and set(pd.unique(s.dropna()).tolist()) <= {0, 1}
    if not numeric or (zero_one and "threshold" not in spec):
        return binary(s, column=column, positive=spec.get("positive"), role="score")
    threshold = spec.get("threshold")
    if threshold is None:
        if s.min() < 0 or s.max() > 1:
            raise AssessError(
                f"The score column {column!r} goes from {s.min():g} to {s.max():g}. Say from "
                "which score on the system decides 'yes', for example "
                f"roles[{column!r}] = {{'role': 'score', 'threshold': 60}}."
            )
        threshold = 0.5
    return pd.Series(np.where(s >= threshold, 1.0, 0.0), index=s.index).where(s.notna())
