"""Step "mitigation": what fairlearn's mitigation methods would change, at what cost.

On a seeded sample (half to learn, half to measure), three ways of deciding
are compared with the current decisions: fairlearn's ``ThresholdOptimizer``
(a threshold per group on the current scores) and ``ExponentiatedGradient``
(a simple model retrained under a constraint), beside the same simple model
without constraint.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ._models import _is_number, as_text, predict_scores
from ._performance import prepare
from ._plots import new_figure
from ._profile import MIN_GROUP, group_labels
from ._result import StepResult
from ._roles import AssessError, columns, model_columns, normalise_roles, role_of

__all__ = ["mitigation"]


def _scores_model():
    """Return a fitted "model" whose score is its one input column: the current scores."""
    from sklearn.base import BaseEstimator, ClassifierMixin

    class Scores(ClassifierMixin, BaseEstimator):
        def fit(self, X, y=None):
            self.classes_ = np.array([0, 1])
            return self

        def __sklearn_is_fitted__(self):
            return True

        def predict(self, X):
            return np.asarray(X, dtype=float)[:, 0]

    return Scores().fit(None)


def _measure(name, y, p, groups):
    frame = pd.DataFrame({"y": y, "p": p, "g": groups})
    by = frame.groupby("g", observed=True)
    sel = by["p"].mean()
    fpr = frame[frame.y == 0].groupby("g", observed=True)["p"].mean()
    fnr = 1 - frame[frame.y == 1].groupby("g", observed=True)["p"].mean()
    tpr = frame[frame.y == 1].p.mean()
    tnr = 1 - frame[frame.y == 0].p.mean()
    return {
        "method": name,
        "accuracy": float((frame.y == frame.p).mean()),
        "balanced_accuracy": float((tpr + tnr) / 2),
        "selection_rate": float(frame.p.mean()),
        "selection_rate_difference": float(sel.max() - sel.min()),
        "false_positive_rate_difference": float(fpr.max() - fpr.min()),
        "false_negative_rate_difference": float(fnr.max() - fnr.min()),
    }


def mitigation(
    df,
    *,
    roles,
    predictions,
    model=None,
    attribute=None,
    n_sample=20_000,
    random_state=0,
    min_group=MIN_GROUP,
):
    """Compare fairlearn's mitigation methods with the current decisions.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    roles : dict
        Column roles.
    predictions : array-like
        The current decisions (0/1), one per row.
    model : object, optional
        The model behind the decisions; its scores feed the ThresholdOptimizer
        (else the score column, else the decisions themselves).
    attribute : str, optional
        The protected attribute to equalise; by default the first one.
    n_sample : int, default 20000
        Rows used (a seeded sample), so that this step stays quick.
    random_state : int, default 0
        Seed of the sample and the methods.
    min_group : int, default 50
        Groups with fewer rows in the sample are left out.

    Returns
    -------
    StepResult
        Table ``comparison`` (accuracy and differences between groups for each
        way of deciding, measured on the half of the sample that no method
        learned from); figure ``trade_off``.

    Examples
    --------
    >>> r = mitigation(df, roles=roles, predictions=decisions)  # doctest: +SKIP
    >>> r.tables["comparison"]  # doctest: +SKIP
    """
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    # One BLAS thread: the many small fits of ExponentiatedGradient run 2-3 times
    # faster than with threads that wait on each other on a busy machine.
    with warnings.catch_warnings(), threadpool_limits(1):
        # fairlearn's own deprecation warnings of pandas, not meant for the reader
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)  # small fits with a loose tolerance
        return _mitigation(
            df, roles, predictions, model, attribute, n_sample, random_state, min_group
        )


def _mitigation(df, roles, predictions, model, attribute, n_sample, random_state, min_group):
    from fairlearn.postprocessing import ThresholdOptimizer
    from fairlearn.reductions import DemographicParity, ExponentiatedGradient
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    roles = normalise_roles(roles, df)
    result = StepResult("mitigation")
    protected = columns(roles, "protected")
    if not protected:
        result.notes.append("No protected attribute is declared, so there is nothing to equalise.")
        return result
    attribute = attribute or protected[0]
    if attribute not in protected:
        raise AssessError(f"The column {attribute!r} is not marked as protected.")
    y, p, keep, note = prepare(df, roles=roles, predictions=predictions)
    if note:
        result.notes.append(note)
    groups = group_labels(df[attribute])
    sizes = groups[keep].value_counts()
    big = set(sizes[sizes >= min_group].index)
    keep = keep & groups.isin(big).to_numpy()
    positions = np.flatnonzero(keep)
    both = pd.Series(y[positions]).nunique() == 2 if len(positions) else False
    if len(big) < 2 or len(positions) < 4 * min_group or not both:
        result.notes.append(
            f"Too few rows to compare ways of deciding by '{attribute}': this step needs at "
            f"least two groups of {min_group} rows or more, with both outcomes, and "
            f"{4 * min_group} rows in those groups together (here: {len(big)} group(s), "
            f"{len(positions):,} rows). Bring more rows, or choose another protected attribute."
        )
        return result
    rng = np.random.default_rng(random_state)
    if len(positions) > n_sample:
        positions = np.sort(rng.choice(positions, size=n_sample, replace=False))
    half = rng.permutation(len(positions))
    train, test = positions[half[: len(half) // 2]], positions[half[len(half) // 2 :]]
    if len(np.unique(y[train])) < 2:
        result.notes.append(
            "The rows the methods would learn from all have the same outcome, so no way of "
            "deciding can be learned from them: bring more rows with both outcomes."
        )
        return result
    g_train = groups.iloc[train].astype(str).to_numpy()
    g_test = groups.iloc[test].astype(str).to_numpy()
    result.notes.append(
        f"Measured on {len(test):,} rows (the methods learned from {len(train):,} other rows), "
        f"equalising the share of positive decisions by '{attribute}'."
    )
    rows = [_measure("current decisions", y[test], p[test], g_test)]
    rate = y[train].mean()
    rare = rate < 0.2 or rate > 0.8
    goal = "balanced_accuracy" if rare else "accuracy"
    if rare:
        result.notes.append(
            f"The outcome is positive in {rate:.0%} of the rows. With so uneven an outcome, "
            "deciding 'no' for everyone would already be right most of the time, so the methods "
            "aim at balanced accuracy (right decisions among positive and among negative "
            "outcomes, counted equally), and the plot shows it."
        )

    if model is not None:
        scores = predict_scores(model, df.iloc[positions], roles=roles)
        scores = pd.Series(scores, index=positions)
    elif role_of(roles, "score") and _is_number(df[role_of(roles, "score")]):
        scores = df[role_of(roles, "score")].iloc[positions].set_axis(positions)
        scores = scores.fillna(scores.median())
    else:
        scores = pd.Series(p[positions].astype(float), index=positions)
    try:
        post = ThresholdOptimizer(
            estimator=_scores_model(),
            constraints="demographic_parity",
            objective=f"{goal}_score",
            prefit=True,
            predict_method="predict",
        )
        post.fit(scores.loc[train].to_frame().to_numpy(), y[train], sensitive_features=g_train)
        decided = post.predict(
            scores.loc[test].to_frame().to_numpy(),
            sensitive_features=g_test,
            random_state=random_state,
        )
        rows.append(_measure("threshold per group (ThresholdOptimizer)", y[test], decided, g_test))
    except Exception as error:  # noqa: BLE001 - told to the reader, the other methods go on
        result.notes.append(f"The threshold per group could not be computed: {error}")

    features = model_columns(df, roles)
    if features:
        frame = df.iloc[train][features]
        numeric = [c for c in features if _is_number(frame[c])]
        other = [c for c in features if c not in numeric]
        prep = ColumnTransformer(
            [
                ("numbers", make_pipeline(SimpleImputer(), StandardScaler()), numeric),
                (
                    "categories",
                    make_pipeline(
                        FunctionTransformer(as_text),
                        OneHotEncoder(handle_unknown="ignore", max_categories=20),
                    ),
                    other,
                ),
            ],
            sparse_threshold=0,
        )
        X_train = prep.fit_transform(frame)
        X_test = prep.transform(df.iloc[test][features])
        weight = "balanced" if rare else None
        plain = LogisticRegression(max_iter=100, tol=1e-3, class_weight=weight).fit(
            X_train, y[train]
        )
        rows.append(_measure("simple model, no constraint", y[test], plain.predict(X_test), g_test))
        try:
            reduction = ExponentiatedGradient(
                LogisticRegression(max_iter=100, tol=1e-3, class_weight=weight),
                constraints=DemographicParity(),
                eps=0.02,
                max_iter=12,
            )
            reduction.fit(X_train, y[train], sensitive_features=g_train)
            decided = reduction.predict(X_test, random_state=random_state)
            rows.append(
                _measure(
                    "simple model under a constraint (ExponentiatedGradient)",
                    y[test],
                    decided,
                    g_test,
                )
            )
        except Exception as error:  # noqa: BLE001
            result.notes.append(f"The model under a constraint could not be trained: {error}")
    table = pd.DataFrame(rows)
    result.tables["comparison"] = table
    result.captions["comparison"] = (
        f"Each way of deciding: share of correct decisions, and how far apart the groups of "
        f"'{attribute}' are."
    )
    fig, (ax,) = _figure()
    colours = ["black", "#C44E52", "#8172B2", "#55A868"]
    for i, row in table.iterrows():
        ax.scatter(row["selection_rate_difference"], row[goal], s=60, color=colours[i % 4])
        ax.annotate(
            row["method"],
            (row["selection_rate_difference"], row[goal]),
            textcoords="offset points",
            xytext=(5, 5),
            fontsize="small",
        )
    ax.margins(x=0.5, y=0.2)
    ax.set_xlim(left=0)
    ax.set_xlabel(f"difference in the share of positive decisions by '{attribute}'")
    ax.set_ylabel("balanced accuracy" if rare else "share of correct decisions")
    fig.suptitle("Trade-off: accuracy against difference between groups (left is more equal)")
    result.figures["trade_off_plot"] = fig
    result.captions["trade_off_plot"] = result.captions["comparison"]
    result.notes.append(
        "These methods show what a fairer way of deciding could cost in accuracy; they are not a "
        "ready fix. A threshold per group uses the protected attribute at the moment of the "
        "decision, which the law may forbid: ask your legal unit before using one."
    )
    return result


def _figure():
    return new_figure(1, width=7, height=4.5)
