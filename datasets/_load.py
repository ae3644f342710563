"""sklearn-style loaders for prepared datasets, light enough for a learner's kernel.

Only the standard library is imported with this module; pandas is imported
by :func:`load`. The card is read from the prepared ``card.json`` (no YAML,
no jsonschema), and every file read is checked against the manifest's sha256.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

from ._errors import ChecksumError, DatasetNotPreparedError, UnknownDatasetError

__all__ = ["Bunch", "DEFAULT_DATA_HOME", "describe", "get_data_home", "list_datasets", "load"]

#: Where prepared datasets live unless ``$AI4SCALE_DATASETS`` or ``data_home`` says otherwise.
DEFAULT_DATA_HOME = "/srv/ai4scale/datasets"


class Bunch(dict):
    """A dict whose keys are also attributes, like ``sklearn.utils.Bunch``.

    Defined here so that loading a dataset does not import scikit-learn
    (about a second in a fresh kernel).
    """

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key, value):
        self[key] = value

    def __dir__(self):
        return list(self.keys())


def get_data_home(data_home=None):
    """Return the prepared-data directory: argument, else ``$AI4SCALE_DATASETS``, else default."""
    return Path(data_home or os.environ.get("AI4SCALE_DATASETS") or DEFAULT_DATA_HOME)


def _manifest(folder):
    try:
        return json.loads((folder / "manifest.json").read_text())
    except FileNotFoundError:
        return {"format": 1, "datasets": {}}


def _known(manifest):
    from ._cards import card_ids

    return set(card_ids()) | set(manifest.get("datasets", {}))


def _entry(name, folder):
    manifest = _manifest(folder)
    entry = manifest.get("datasets", {}).get(name)
    if entry is None:
        if name not in _known(manifest):
            raise UnknownDatasetError(name, _known(manifest))
        raise DatasetNotPreparedError(name, folder)
    return entry


def _read_verified(path, expected):
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ChecksumError(path, expected, actual)
    return data


def list_datasets(*, data_home=None, prepared_only=False):
    """Return the ids of the known datasets, sorted.

    Parameters
    ----------
    data_home : path-like, optional
        Prepared-data directory (see :func:`get_data_home`).
    prepared_only : bool
        Only the datasets prepared in that directory.
    """
    manifest = _manifest(get_data_home(data_home))
    if prepared_only:
        return sorted(manifest.get("datasets", {}))
    return sorted(_known(manifest))


def describe(name, *, data_home=None):
    """Return the Markdown datasheet of dataset ``name`` (prepared copy, else packaged card)."""
    folder = get_data_home(data_home)
    entry = _manifest(folder).get("datasets", {}).get(name)
    if entry is not None:
        path = folder / name / "card.md"
        return _read_verified(path, entry["files"]["card.md"]).decode()
    from ._cards import load_card, render_markdown

    return render_markdown(load_card(name))


def load(name, *, data_home=None, as_frame=True, return_X_y=False):
    """Load a prepared dataset, checking its files against the manifest.

    Parameters
    ----------
    name : str
        Dataset id (see :func:`list_datasets`), e.g. ``"compas-recidivism"``.
    data_home : path-like, optional
        Prepared-data directory (default ``$AI4SCALE_DATASETS``, else
        ``/srv/ai4scale/datasets``).
    as_frame : bool
        pandas objects (default) or, when False, numpy arrays.
    return_X_y : bool
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    Bunch or tuple
        ``frame`` (every column), ``data`` (the feature columns), ``target``,
        ``sensitive`` (the protected attributes), ``card`` (dict),
        ``feature_names``, ``target_names``, ``DESCR`` (Markdown datasheet).

    Raises
    ------
    UnknownDatasetError
        No such dataset (the message suggests the closest names).
    DatasetNotPreparedError
        Known but not prepared here (the message names the command to run).
    ChecksumError
        A prepared file differs from the manifest (the message names it).

    Examples
    --------
    >>> from ai4scale.datasets import load
    >>> b = load("compas-recidivism")  # doctest: +SKIP
    >>> b.frame.groupby("race")["two_year_recid"].mean()  # doctest: +SKIP
    """
    import pandas as pd

    folder = get_data_home(data_home)
    entry = _entry(name, folder)
    files = entry["files"]
    card = json.loads(_read_verified(folder / name / "card.json", files["card.json"]))
    raw = _read_verified(folder / name / "data.parquet", files["data.parquet"])
    frame = pd.read_parquet(io.BytesIO(raw))
    roles = {c["name"]: c["role"] for c in card["columns"]}
    features = [n for n, r in roles.items() if r == "feature"]
    target_col = card["target"]["column"]
    data, target, sensitive = frame[features], frame[target_col], frame[card["protected"]]
    if not as_frame:
        data, target, sensitive = data.to_numpy(), target.to_numpy(), sensitive.to_numpy()
    if return_X_y:
        return data, target
    descr = _read_verified(folder / name / "card.md", files["card.md"])
    return Bunch(
        frame=frame if as_frame else None,
        data=data,
        target=target,
        sensitive=sensitive,
        card=card,
        feature_names=features,
        target_names=[target_col],
        DESCR=descr.decode(),
    )
