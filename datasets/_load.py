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

from ._errors import (
    ChecksumError,
    CourseServiceError,
    DataNotReadyError,
    DatasetNotPreparedError,
    NotInTeamError,
    UnknownDatasetError,
    UseCaseReferenceError,
)

__all__ = [
    "Bunch",
    "DEFAULT_DATA_HOME",
    "USECASE_PREFIX",
    "describe",
    "get_data_home",
    "list_datasets",
    "load",
    "load_usecase",
    "parse_usecase_name",
]

#: Prefix of a use case's data in :func:`load`: ``usecase:<use case id>/<dataset name>``.
USECASE_PREFIX = "usecase:"

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

    A use case's table (``"usecase:<use case>/<dataset>"``) is fetched from
    the course service instead, in its team's workspace and its members'
    servers only (see :func:`load_usecase`).

    Parameters
    ----------
    name : str
        Dataset id (see :func:`list_datasets`), e.g. ``"compas-recidivism"``,
        or ``"usecase:<use case>/<dataset>"``.
    data_home : path-like, optional
        Prepared-data directory (default ``$AI4SCALE_DATASETS``, else
        ``/srv/ai4scale/datasets``).
    as_frame : bool
        pandas objects (default) or, when False, numpy arrays.
    return_X_y : bool
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    Bunch or tuple or pandas.DataFrame
        For a use case's data, the table as a DataFrame. Otherwise ``frame``
        (every column), ``data`` (the feature columns), ``target``,
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
    if isinstance(name, str) and name.startswith(USECASE_PREFIX):
        if return_X_y or not as_frame:
            raise ValueError(
                "a use case's data loads as one table: call load() without "
                "return_X_y or as_frame, then pick its columns"
            )
        return load_usecase(name)
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


# -- use cases' data, from the course service ---------------------------------------


def parse_usecase_name(name):
    """Split ``"usecase:<use case>/<dataset>"`` into its two names.

    Parameters
    ----------
    name : str

    Returns
    -------
    tuple of str
        ``(usecase_id, dataset_name)``.

    Raises
    ------
    UseCaseReferenceError
        Not of that form (an empty part, more parts, ``.`` or ``..``,
        control characters).

    Examples
    --------
    >>> parse_usecase_name("usecase:benefit-checks/applications")
    ('benefit-checks', 'applications')
    """
    rest = name[len(USECASE_PREFIX) :] if name.startswith(USECASE_PREFIX) else None
    parts = rest.split("/") if rest else []
    if (
        len(parts) != 2
        or any(p in ("", ".", "..") or p != p.strip() for p in parts)
        or any(ord(ch) < 32 or ch in "\\?#%" for p in parts for ch in p)
    ):
        raise UseCaseReferenceError(name)
    return parts[0], parts[1]


def _names(items, key):
    """Return the names in a service listing (strings, or dicts with ``key``/``name``/``id``)."""
    if isinstance(items, dict):
        items = items.get(key + "s", items.get("items", []))
    names = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict):
            value = item.get("name", item.get("id"))
            if isinstance(value, str):
                names.append(value)
    return names


def _who():
    user = os.environ.get("JUPYTERHUB_USER", "")
    if user.startswith("team-"):
        return f"this notebook runs in the workspace of team {user[len('team-') :]}"
    return f"this notebook runs in {user}'s server" if user else "this notebook runs elsewhere"


def _refused(usecase, error):
    from . import _service

    hint = ""
    try:
        own = _names(_service.get_json("usecases"), "usecase")
    except CourseServiceError:
        own = []
    if own and usecase not in own:
        import difflib

        close = difflib.get_close_matches(usecase, sorted(own), n=3, cutoff=0.4)
        if close:
            hint = " Did you mean " + " or ".join(repr(c) for c in close) + "?"
        else:
            hint = " Your team's use cases: " + ", ".join(sorted(own)) + "."
    said = f" (the service says: {error.detail})" if error.detail else ""
    return NotInTeamError(
        f"Use case {usecase!r}: this use case's data opens only in the workspace of "
        f"the team that owns it and in its members' servers; {_who()}{said}.{hint}",
        status=error.status,
        detail=error.detail,
    )


def _unknown(name, hint):
    error = UnknownDatasetError(name, [])
    error.args = (f"unknown dataset {name!r}: {hint}",)
    return error


def _not_found(usecase, dataset, error):
    from urllib.parse import quote

    from . import _service

    name = f"{USECASE_PREFIX}{usecase}/{dataset}"
    try:
        model = _service.get_json(f"usecases/{quote(usecase, safe='')}")
    except CourseServiceError as e:
        if e.status != 404:
            return e
        try:
            ids = _names(_service.get_json("usecases"), "usecase")
        except CourseServiceError:
            ids = []
        if not ids:
            return _unknown(name, "you see no use case yet: register one on the Use cases page")
        return UnknownDatasetError(f"{USECASE_PREFIX}{usecase}", [USECASE_PREFIX + i for i in ids])
    names = _names(model.get("datasets", []) if isinstance(model, dict) else [], "dataset")
    if dataset in names:  # listed, but its table is not there yet
        return DataNotReadyError(
            f"The data {name!r} is not ready yet: finish its steps on the Use cases page "
            "(format confirmed, column roles, personal data resolved).",
            status=error.status,
            detail=error.detail,
        )
    if not names:
        return _unknown(name, f"use case {usecase!r} has no data yet: add a table on its page")
    return UnknownDatasetError(name, [f"{USECASE_PREFIX}{usecase}/{n}" for n in names])


def load_usecase(name, *, timeout=None):
    """Return a use case's table, fetched from the course service.

    Works in the notebook servers of the team that owns the use case (its
    members' servers and the team workspace) and for instructors: the
    service decides, from the server's own login.

    Parameters
    ----------
    name : str
        ``"usecase:<use case>/<dataset>"``: the use case's id and the name
        its team gave the dataset (both on the use case's page).
    timeout : float, optional
        Seconds to wait for each read (default
        :data:`ai4scale.datasets._service.DEFAULT_TIMEOUT`).

    Returns
    -------
    pandas.DataFrame
        The table as the team prepared it (personal data resolved).

    Raises
    ------
    UseCaseReferenceError
        ``name`` is not of that form.
    NotInTeamError
        The use case belongs to another team (or is not known to you).
    UnknownDatasetError
        The use case has no dataset of that name (the closest are suggested).
    DataNotReadyError
        The dataset is not ready (its personal-data check is unfinished).
    NotLoggedInError
        Not in a server of the sandbox.
    ServiceUnavailableError
        The course service did not answer.

    Examples
    --------
    >>> from ai4scale import datasets
    >>> df = datasets.load("usecase:benefit-checks/applications")  # doctest: +SKIP
    """
    from urllib.parse import quote

    from . import _service

    usecase, dataset = parse_usecase_name(name)
    path = f"usecases/{quote(usecase, safe='')}/datasets/{quote(dataset, safe='')}/table.parquet"
    kwargs = {} if timeout is None else {"timeout": timeout}
    try:
        raw = _service.get_bytes(path, **kwargs)
    except NotInTeamError as e:
        raise _refused(usecase, e) from None
    except CourseServiceError as e:
        if e.status == 404:
            raise _not_found(usecase, dataset, e) from None
        raise
    import pandas as pd

    return pd.read_parquet(io.BytesIO(raw))
