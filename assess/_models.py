"""Models a team brings (skops, ONNX), a transparent baseline, and decisions from them.

A user's file is never unpickled: ``.skops`` files are loaded with skops'
trusted-type check, ``.onnx`` files run in onnxruntime, and pickle files are
refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ._roles import (
    AssessError,
    binary,
    model_columns,
    normalise_roles,
    outcome,
    role_of,
    score_decisions,
)

__all__ = [
    "OnnxModel",
    "RefusedModel",
    "UntrustedModel",
    "baseline",
    "default_model",
    "load_model",
    "predict",
    "predict_scores",
]

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")


class RefusedModel(AssessError):
    """A model file that the sandbox will not open."""


class UntrustedModel(AssessError):
    """A ``.skops`` file holds types that nobody approved yet.

    Attributes
    ----------
    types : list of str
        The untrusted types, for an instructor to read and approve.
    """

    def __init__(self, path, types):
        self.path = str(path)
        self.types = list(types)
        super().__init__(
            f"The model file {Path(path).name} uses parts that are not on the list of known safe "
            "ones: " + ", ".join(self.types) + ". An instructor must look at them and approve "
            "them before the model can be opened."
        )


def load_model(path, *, trusted=None, features=None):
    """Open a model file a team brought: ``.skops`` or ``.onnx``.

    Parameters
    ----------
    path : str or pathlib.Path
        The model file.
    trusted : list of str, optional
        Types of a ``.skops`` file that an instructor approved (as listed by
        :class:`UntrustedModel`). Types skops trusts by default need no approval.
    features : list of str, optional
        For an ONNX model that takes one table of numbers: its columns, in
        order (else read from the model's ``feature_names`` metadata).

    Returns
    -------
    object
        A scikit-learn estimator (``.skops``) or an :class:`OnnxModel`; both have
        ``predict`` and ``predict_proba`` on a DataFrame of the feature columns.

    Raises
    ------
    UntrustedModel
        A ``.skops`` file with types neither trusted by skops nor in `trusted`.
    RefusedModel
        A pickle file (``.pkl``, ``.pickle``, ``.joblib``) or another format.

    Examples
    --------
    >>> load_model("model.pkl")  # doctest: +SKIP
    Traceback (most recent call last):
    RefusedModel: ...
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise RefusedModel(
            f"The model file {path.name} is a pickle file. Opening a pickle file runs whatever "
            "program is hidden in it, so the sandbox never opens one. Save the model with skops "
            "(skops.io.dump(model, 'model.skops')) or export it to ONNX, and bring that file."
        )
    if suffix == ".skops":
        import skops.io as sio

        untrusted = sio.get_untrusted_types(file=path)
        approved = set(trusted or ())
        remaining = [t for t in untrusted if t not in approved]
        if remaining:
            raise UntrustedModel(path, remaining)
        return sio.load(path, trusted=[t for t in untrusted if t in approved])
    if suffix == ".onnx":
        return OnnxModel(path, feature_names=features)
    raise RefusedModel(
        f"The model file {path.name} is not a format the sandbox opens. Bring a scikit-learn "
        "model saved with skops (.skops) or a model exported to ONNX (.onnx)."
    )


class OnnxModel:
    """An ONNX model run by onnxruntime, with ``predict``/``predict_proba`` on a DataFrame.

    The model either has one input (a matrix of numbers: the columns
    `feature_names`, or those of its ``feature_names`` metadata, a JSON list)
    or one input per column, named like it.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.onnx`` file.
    feature_names : list of str, optional
        Column order of a one-matrix model; by default the DataFrame's columns.

    Examples
    --------
    >>> m = OnnxModel("model.onnx")  # doctest: +SKIP
    >>> m.predict_proba(df[features])[:, 1]  # doctest: +SKIP
    """

    _TYPES = {
        "tensor(float)": np.float32,
        "tensor(double)": np.float64,
        "tensor(int64)": np.int64,
        "tensor(int32)": np.int32,
        "tensor(string)": object,
        "tensor(bool)": np.bool_,
    }

    def __init__(self, path, feature_names=None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        self.path = str(path)
        self.session_ = ort.InferenceSession(
            self.path, sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.inputs_ = self.session_.get_inputs()
        self.outputs_ = [o.name for o in self.session_.get_outputs()]
        if feature_names is None and len(self.inputs_) == 1:
            meta = self.session_.get_modelmeta().custom_metadata_map.get("feature_names")
            feature_names = json.loads(meta) if meta else None
        if len(self.inputs_) > 1:
            feature_names = [i.name for i in self.inputs_]
        self.feature_names_in_ = (
            np.array(feature_names, dtype=object) if feature_names is not None else None
        )
        self.classes_ = np.array([0, 1])

    def __sklearn_is_fitted__(self):
        return True

    def _feed(self, X):
        X = pd.DataFrame(X)
        if len(self.inputs_) == 1:
            cols = list(self.feature_names_in_) if self.feature_names_in_ is not None else X.columns
            width = self.inputs_[0].shape[-1] if self.inputs_[0].shape else None
            if isinstance(width, int) and width != len(cols):
                raise AssessError(
                    f"The ONNX model takes {width} numbers per row, but {len(cols)} columns were "
                    "given. Say which columns it takes, in order: "
                    "assess.load_model(path, features=[...])."
                )
            dtype = self._TYPES.get(self.inputs_[0].type, np.float32)
            return {self.inputs_[0].name: X[list(cols)].to_numpy(dtype=dtype)}
        feed = {}
        for inp in self.inputs_:
            dtype = self._TYPES.get(inp.type, np.float32)
            col = X[inp.name]
            values = col.astype(str) if dtype is object else col
            feed[inp.name] = values.to_numpy(dtype=dtype).reshape(-1, 1)
        return feed

    def _run(self, X):
        return self.session_.run(None, self._feed(X))

    def predict_proba(self, X):
        """Return the probabilities of 0 and 1, one row per row of `X`.

        Parameters
        ----------
        X : pandas.DataFrame
            The feature columns.

        Returns
        -------
        numpy.ndarray of shape (n, 2)
        """
        out = self._run(X)
        proba = out[1] if len(out) > 1 else None
        if proba is None:
            labels = np.asarray(out[0]).reshape(-1).astype(float)
            return np.column_stack([1 - labels, labels])
        if isinstance(proba, list):  # ZipMap output: a list of {class: probability}
            keys = list(proba[0])
            frame = pd.DataFrame(proba, columns=keys)
            positive = 1 if 1 in keys else keys[-1]
            p1 = frame[positive].to_numpy(dtype=float)
        else:
            proba = np.asarray(proba, dtype=float)
            p1 = proba[:, -1] if proba.ndim == 2 else proba
        return np.column_stack([1 - p1, p1])

    def predict(self, X):
        """Return the decisions (0/1), one per row of `X`.

        Parameters
        ----------
        X : pandas.DataFrame
            The feature columns.

        Returns
        -------
        numpy.ndarray
        """
        labels = np.asarray(self._run(X)[0]).reshape(-1)
        if labels.dtype.kind in "biuf":
            return labels.astype(int)
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def _inputs(model, df, roles):
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        missing = [c for c in names if c not in df.columns]
        if missing:
            raise AssessError(
                "The model needs these columns, which are not in the table: "
                + ", ".join(map(str, missing))
                + "."
            )
        return df[list(names)]
    return df[model_columns(df, roles)]


def _positive_index(model, roles):
    """Return the position, in the model's classes, of the positive outcome."""
    classes = list(getattr(model, "classes_", [0, 1]))
    if len(classes) != 2:
        raise AssessError(
            f"The model decides between {len(classes)} outcomes; the assessment compares two."
        )
    target = role_of(roles, "target")
    named = pd.Series(classes, dtype=object)
    column = f"{target} (as the model names its outcomes)"
    try:  # 0/1, true/false, yes/no: whatever the table's own labels are
        coded = binary(named, column=column)
    except AssessError:
        coded = binary(named, column=column, positive=roles[target].get("positive"))
    return int(np.flatnonzero(coded.to_numpy() == 1)[0])


def predict_scores(model, df, *, roles, batch_size=200_000):
    """Return the model's probability of a positive decision for every row.

    Parameters
    ----------
    model : object
        Anything with ``predict_proba`` (or only ``predict``) on a DataFrame.
    df : pandas.DataFrame
        The table.
    roles : dict
        Column roles; the model sees its own ``feature_names_in_`` or else the
        features and legitimate factors.
    batch_size : int, default 200000
        Rows per call, to keep memory flat on big tables.

    Returns
    -------
    numpy.ndarray of float

    Examples
    --------
    >>> m = baseline(df, roles=roles)  # doctest: +SKIP
    >>> predict_scores(m, df, roles=roles)[:3]  # doctest: +SKIP
    """
    roles = normalise_roles(roles)
    X = _inputs(model, df, roles)
    column = _positive_index(model, roles)
    parts = []
    for start in range(0, len(X), batch_size):
        chunk = X.iloc[start : start + batch_size]
        if hasattr(model, "predict_proba"):
            parts.append(np.asarray(model.predict_proba(chunk))[:, column])
        else:
            parts.append(np.asarray(model.predict(chunk), dtype=float))
    return np.concatenate(parts) if parts else np.zeros(0)


def predict(df, *, roles, model=None, threshold=None):
    """Return the decisions to assess, as a 0/1 Series aligned with `df`.

    From the model when there is one (its own ``predict``, or its probability
    at or above `threshold` when given), else from the score column of the
    existing system.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    roles : dict
        Column roles.
    model : object, optional
        A loaded model (see :func:`load_model`, :func:`baseline`).
    threshold : float, optional
        Probability from which the model's decision is positive; by default the
        model decides as it was built to.

    Returns
    -------
    pandas.Series
        Float 0/1, NaN where no decision could be made.

    Raises
    ------
    AssessError
        Neither a model nor a score column.

    Examples
    --------
    >>> df = pd.DataFrame({"y": [0, 1], "risk": [0.1, 0.7]})
    >>> predict(df, roles={"y": "target", "risk": "score"}).tolist()
    [0.0, 1.0]
    """
    roles = normalise_roles(roles, df)
    if model is not None:
        if threshold is not None:
            scores = predict_scores(model, df, roles=roles)
            return pd.Series((scores >= threshold).astype(float), index=df.index, name="decision")
        X = _inputs(model, df, roles)
        positive = list(getattr(model, "classes_", [0, 1]))[_positive_index(model, roles)]
        parts = [
            np.asarray(model.predict(X.iloc[i : i + 200_000])) == positive
            for i in range(0, len(X), 200_000)
        ]
        decided = np.concatenate(parts) if parts else np.zeros(0, dtype=bool)
        return pd.Series(decided.astype(float), index=df.index, name="decision")
    decisions = score_decisions(df, roles)
    if decisions is None:
        raise AssessError(
            "There is nothing to assess yet: bring a model, mark the column with the existing "
            "system's decisions or scores (role 'score'), or train a baseline with "
            "assess.baseline(df, roles=roles)."
        )
    return decisions.rename("decision")


def default_model(df, *, roles, random_state=0):
    """Return None when the table has the existing system's scores, else a baseline.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    roles : dict
        Column roles.
    random_state : int, default 0
        Seed of the baseline.

    Returns
    -------
    object or None
        None (the score column is assessed) or :func:`baseline`'s model.

    Examples
    --------
    >>> df = pd.DataFrame({"y": [0, 1], "risk": [0.1, 0.7]})
    >>> default_model(df, roles={"y": "target", "risk": "score"}) is None
    True
    """
    roles = normalise_roles(roles, df)
    if any(s["role"] == "score" for s in roles.values()):
        return None
    return baseline(df, roles=roles, random_state=random_state)


def baseline(df, *, roles, random_state=0, max_rows=100_000, kind="logistic"):
    """Train a transparent model on the features when the team brings none.

    A logistic regression on scaled numbers and one-hot categories (or a tree
    of depth 3 with ``kind="tree"``), trained on a seeded sample of at most
    `max_rows` rows. Protected attributes are not given to it.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    roles : dict
        Column roles; the model uses the features and legitimate factors.
    random_state : int, default 0
        Seed of the sample and the model.
    max_rows : int, default 100000
        Rows it learns from at most.
    kind : {"logistic", "tree"}, default "logistic"
        The kind of transparent model.

    Returns
    -------
    sklearn.model_selection.FixedThresholdClassifier
        The fitted pipeline (``.estimator``), deciding "yes" for as many rows as
        the outcome is positive in the sample (``.threshold``); ``predict`` and
        ``predict_proba`` take a DataFrame of the table's columns.

    Examples
    --------
    >>> model = baseline(df, roles=roles)  # doctest: +SKIP
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import FixedThresholdClassifier
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    roles = normalise_roles(roles, df)
    features = model_columns(df, roles)
    if not features:
        raise AssessError(
            "No column is marked as a feature or a legitimate factor, so no model can be trained."
        )
    y = outcome(df, roles)
    keep = y.notna()
    sample = df.loc[keep, features]
    y = y[keep]
    if len(sample) > max_rows:
        sample = sample.sample(n=max_rows, random_state=random_state)
        y = y.loc[sample.index]
    numeric = [c for c in features if _is_number(sample[c])]
    other = [c for c in features if c not in numeric]
    prep = ColumnTransformer(
        [
            ("numbers", make_pipeline(SimpleImputer(), StandardScaler()), numeric),
            (
                "categories",
                make_pipeline(
                    FunctionTransformer(as_text, feature_names_out="one-to-one"),
                    OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=20),
                ),
                other,
            ),
        ]
    )
    if kind == "tree":
        learner = DecisionTreeClassifier(max_depth=3, random_state=random_state)
    else:
        learner = LogisticRegression(max_iter=500)
    model = Pipeline([("prepare", prep), ("model", learner)])
    model.fit(sample, y.astype(int))
    # Flag as many cases as the outcome is positive, rather than at a probability of 0.5
    # (which, for a rare outcome, flags nobody).
    threshold = float(np.quantile(model.predict_proba(sample)[:, 1], 1 - y.mean()))
    return FixedThresholdClassifier(model, threshold=threshold, response_method="predict_proba")


def _is_number(s):
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def as_text(frame):
    """Return the columns of `frame` as text, missing values as ``"(missing)"``.

    Categories and booleans become plain words, so that the one-hot encoder
    sees the same values when it learns and when it predicts.

    Parameters
    ----------
    frame : pandas.DataFrame
        Categorical, boolean or text columns.

    Returns
    -------
    numpy.ndarray of object

    Examples
    --------
    >>> as_text(pd.DataFrame({"a": [True, None]})).tolist()
    [['True'], ['(missing)']]
    """
    frame = pd.DataFrame(frame)
    out = np.empty(frame.shape, dtype=object)
    for j, c in enumerate(frame.columns):
        col = frame[c]
        out[:, j] = col.astype(str).to_numpy(dtype=object)
        out[col.isna().to_numpy(), j] = "(missing)"
    return out
