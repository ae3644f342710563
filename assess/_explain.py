"""Step "explain": which columns weigh most in the model's decisions (SHAP).

SHAP values are computed on a seeded sample with the estimator of shap's
permutation explainer (:func:`permutation_shap`), vectorised over the rows so
that the model is called a few times on large batches rather than once per
row. Columns are coded as numbers and turned back into the table's own values
before the model sees them, so any model works.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._models import _inputs
from ._plots import new_figure
from ._result import StepResult
from ._roles import normalise_roles

__all__ = ["explain", "permutation_shap"]


class _Coder:
    """Turns a table into numbers for shap and back, keeping every column's type."""

    def __init__(self, frame):
        self.columns = list(frame.columns)
        self.kinds = {}
        for c in self.columns:
            s = frame[c]
            if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
                self.kinds[c] = ("number", s.dtype, None)
            else:
                cats = pd.Index(pd.unique(s.dropna()))
                self.kinds[c] = ("code", s.dtype, cats)

    def encode(self, frame):
        out = np.empty((len(frame), len(self.columns)), dtype=float)
        for j, c in enumerate(self.columns):
            kind, _, cats = self.kinds[c]
            if kind == "number":
                out[:, j] = frame[c].to_numpy(dtype=float, na_value=np.nan)
            else:
                codes = cats.get_indexer(frame[c])
                out[:, j] = np.where(codes < 0, np.nan, codes)
        return out

    def decode(self, values):
        data = {}
        for j, c in enumerate(self.columns):
            kind, dtype, cats = self.kinds[c]
            col = values[:, j]
            if kind == "number":
                data[c] = pd.Series(col).astype(dtype) if not np.isnan(col).any() else col
                continue
            codes = np.where(np.isnan(col), -1, col).astype(np.int64)
            taken = cats.take(codes.clip(0)).to_numpy(dtype=object)
            taken[codes < 0] = None
            keep_type = isinstance(dtype, pd.CategoricalDtype) or codes.min(initial=0) >= 0
            data[c] = pd.Series(taken).astype(dtype if keep_type else object)
        return pd.DataFrame(data, columns=self.columns)


def permutation_shap(f, Z, background, *, n_permutations=1, random_state=0, chunk=250_000):
    """Estimate SHAP values by antithetic permutation sampling, for all rows at once.

    The estimator of ``shap.explainers.Permutation`` with an independent
    masker: along a random order of the columns and its reverse, the columns
    of a row are switched on one by one (the others taken from each background
    row), and each column's SHAP value is the mean change of the output when it
    is switched on. It is vectorised over the rows, so the model is called on
    large batches instead of once per row. For a model whose output is a sum
    of one term per column, the values are exact.

    Parameters
    ----------
    f : callable
        Maps an (n, m) array to n outputs.
    Z : numpy.ndarray of shape (n, m)
        The rows to explain.
    background : numpy.ndarray of shape (b, m)
        Rows that stand for "an average case".
    n_permutations : int, default 1
        Orders drawn (each is also used reversed).
    random_state : int, default 0
        Seed of the orders.
    chunk : int, default 250000
        Model rows per call at most.

    Returns
    -------
    (numpy.ndarray of shape (n, m), float)
        SHAP values, and the base value (mean output over the background).

    Examples
    --------
    >>> Z = np.array([[1.0, 2.0]]); bg = np.zeros((3, 2))
    >>> values, base = permutation_shap(lambda x: x[:, 0] + 2 * x[:, 1], Z, bg)
    >>> values.round(6).tolist(), base
    ([[1.0, 4.0]], 0.0)
    """
    rng = np.random.default_rng(random_state)
    n, m = Z.shape
    b = len(background)
    rows_per_call = max(1, chunk // (b * (m + 1)))
    values = np.zeros((n, m))
    orders = []
    for _ in range(n_permutations):
        order = rng.permutation(m)
        orders += [order, order[::-1]]
    for order in orders:
        for start in range(0, n, rows_per_call):
            z = Z[start : start + rows_per_call]
            k = len(z)
            # masked[i, s, j]: row i with the first s columns of `order` switched on,
            # the others from background row j.
            masked = np.broadcast_to(background, (k, m + 1, b, m)).copy()
            for s in range(1, m + 1):
                col = order[s - 1]
                masked[:, s:, :, col] = z[:, col][:, None, None]
            out = np.asarray(f(masked.reshape(-1, m)), dtype=float).reshape(k, m + 1, b)
            steps = np.diff(out.mean(axis=2), axis=1)  # (k, m): gain of each switched column
            values[start : start + k, order] += steps
    base = float(np.asarray(f(background), dtype=float).mean())
    return values / len(orders), base


def explain(
    df,
    *,
    roles,
    model,
    n_sample=500,
    n_background=50,
    n_permutations=1,
    random_state=0,
    case=None,
    top=15,
):
    """Explain the model with SHAP: the columns that weigh most, and one case.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    roles : dict
        Column roles.
    model : object
        A model with ``predict_proba`` (see :func:`load_model`, :func:`baseline`).
    n_sample : int, default 500
        Rows explained (a seeded sample).
    n_background : int, default 50
        Rows that stand for "an average case".
    n_permutations : int, default 1
        Orders of the columns drawn for the SHAP estimate (each also reversed).
    random_state : int, default 0
        Seed of the sample.
    case : object, optional
        Row label of the single case to explain; by default the first row of the
        sample with a positive decision.
    top : int, default 15
        Columns shown in the figures.

    Returns
    -------
    StepResult
        Tables ``global`` (mean absolute contribution per column) and ``case``
        (each column's contribution to the single case); figures ``global`` and
        ``case``. The case's own values are not in the result, so that the
        results hold no one's data.

    Examples
    --------
    >>> r = explain(df, roles=roles, model=model)  # doctest: +SKIP
    >>> r.tables["global"].head()  # doctest: +SKIP
    """
    roles = normalise_roles(roles, df)
    result = StepResult("explain")
    X = _inputs(model, df, roles)
    sample = X.sample(n=min(n_sample, len(X)), random_state=random_state)
    if case is not None and case not in sample.index:
        sample = pd.concat([X.loc[[case]], sample.drop(sample.index[-1])])
    coder = _Coder(sample)
    Z = coder.encode(sample)
    rng = np.random.default_rng(random_state)
    background = Z[rng.choice(len(Z), size=min(n_background, len(Z)), replace=False)]

    def f(values):
        frame = coder.decode(values)
        if hasattr(model, "predict_proba"):
            return np.asarray(model.predict_proba(frame))[:, -1]
        return np.asarray(model.predict(frame), dtype=float)

    values, base = permutation_shap(
        f, Z, background, n_permutations=n_permutations, random_state=random_state
    )
    importance = pd.DataFrame(
        {"feature": coder.columns, "mean_abs_contribution": np.abs(values).mean(axis=0)}
    ).sort_values("mean_abs_contribution", ascending=False, ignore_index=True)
    result.tables["global"] = importance
    result.captions["global"] = (
        f"How much each column moves the model's score on average ({len(sample)} cases)."
    )
    fig, (ax,) = new_figure(1, width=6, height=0.3 * min(top, len(importance)) + 1.2)
    shown = importance.head(top)[::-1]
    ax.barh(shown["feature"].astype(str), shown["mean_abs_contribution"], color="#4C72B0")
    ax.set_xlabel("average effect on the score (mean |SHAP value|)")
    fig.suptitle("Which columns weigh most in the model's decisions")
    result.figures["global_plot"] = fig
    result.captions["global_plot"] = "The columns that weigh most, on average."

    scores = f(Z)
    if case is not None:
        pos = int(np.flatnonzero(sample.index == case)[0])
    else:
        flagged = np.flatnonzero(scores >= 0.5)
        pos = int(flagged[0]) if len(flagged) else 0
    contrib = pd.DataFrame({"feature": coder.columns, "contribution": values[pos]})
    contrib = contrib.reindex(contrib["contribution"].abs().sort_values(ascending=False).index)
    result.tables["case"] = contrib.reset_index(drop=True)
    result.captions["case"] = (
        f"One case: the average score {base:.2f} plus each column's contribution gives this "
        f"case's score {scores[pos]:.2f}."
    )
    result.figures["case_plot"] = _waterfall(contrib, base, float(scores[pos]), top=min(top, 10))
    result.captions["case_plot"] = result.captions["case"]
    result.notes.append(
        "The single case is shown without its values, so that the saved results hold no one's "
        "personal data; look at the row in the notebook itself."
    )
    if not hasattr(model, "predict_proba"):
        result.notes.append("The model gives decisions only, no scores: contributions are coarse.")
    return result


def _waterfall(contrib, base, final, *, top):
    head = contrib.head(top)
    rest = contrib["contribution"].iloc[top:].sum()
    labels = list(head["feature"].astype(str))
    steps = list(head["contribution"])
    if len(contrib) > top:
        labels.append(f"{len(contrib) - top} other columns")
        steps.append(rest)
    fig, (ax,) = new_figure(1, width=6.5, height=0.35 * len(steps) + 1.4)
    start = base
    for i, step in enumerate(steps):
        y = len(steps) - i
        ax.barh(y, step, left=start, color="#C44E52" if step > 0 else "#4C72B0")
        ax.text(start + step, y, f" {step:+.3f}", va="center", fontsize="small")
        start += step
    ax.set_yticks(range(len(steps), 0, -1), labels)
    ax.margins(x=0.2)
    ax.axvline(base, color="grey", linestyle=":", linewidth=1)
    ax.axvline(final, color="black", linewidth=1)
    ax.set_xlabel(f"score: average case {base:.2f} (dotted) -> this case {final:.2f} (line)")
    fig.suptitle("One case: what pushed its score up (red) or down (blue)")
    return fig
