"""A use case's roles and model, fetched from the course service in the team's kernels."""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import quote

from ._models import baseline, load_model
from ._roles import AssessError, normalise_roles

__all__ = ["fetch_model", "fetch_roles"]


def _usecase(usecase):
    from ai4scale.datasets import _service  # part "transport"; imported when used

    return _service, _service.get_json(f"usecases/{quote(usecase, safe='')}")


def fetch_roles(usecase, dataset):
    """Return the column roles the team gave a use case's table on its page.

    Parameters
    ----------
    usecase : str
        The use case's id.
    dataset : str
        The table's name.

    Returns
    -------
    dict
        Normalised roles (see :func:`normalise_roles`).

    Raises
    ------
    AssessError
        No table of that name, or no roles given yet.

    Examples
    --------
    >>> roles = fetch_roles("benefit-checks", "applications")  # doctest: +SKIP
    """
    _, uc = _usecase(usecase)
    for d in uc.get("datasets", []):
        if d.get("name") == dataset:
            roles = (d.get("state") or {}).get("roles")
            if not roles:
                raise AssessError(
                    f"The table {dataset!r} has no column roles yet: give them on the use "
                    "case's page first."
                )
            return normalise_roles(roles)
    raise AssessError(f"The use case {usecase!r} has no table named {dataset!r}.")


def fetch_model(usecase, name, *, roles=None, df=None, folder=None):
    """Fetch and open a model the team brought to a use case.

    Parameters
    ----------
    usecase : str
        The use case's id.
    name : str
        The model's name on the use case's page.
    roles : dict, optional
        For a model that is only a score column: that column is marked as the
        score in this dict.
    df : pandas.DataFrame, optional
        The table, to train the baseline when the use case's model is one.
    folder : str, optional
        Where the model file is saved (default: a new temporary folder).

    Returns
    -------
    object or None
        The model (see :func:`load_model`, :func:`baseline`); None for a score
        column (the decisions are then read from it).

    Raises
    ------
    UntrustedModel
        The model holds types that no instructor approved yet.

    Examples
    --------
    >>> model = fetch_model("benefit-checks", "risk-model")  # doctest: +SKIP
    """
    service, uc = _usecase(usecase)
    found = [m for m in uc.get("models", []) if m.get("name") == name]
    if not found:
        raise AssessError(f"The use case {usecase!r} has no model named {name!r}.")
    m = found[0]
    if m["kind"] == "scores":
        if roles is not None and m.get("column"):
            roles[m["column"]] = {**roles.get(m["column"], {}), "role": "score"}
        return None
    if m["kind"] == "baseline":
        if df is None or roles is None:
            raise AssessError("To train the baseline, give the table and the roles (df=, roles=).")
        return baseline(df, roles=roles)
    raw = service.get_bytes(
        f"usecases/{quote(usecase, safe='')}/models/{quote(name, safe='')}/file"
    )
    path = Path(folder or tempfile.mkdtemp(prefix="ai4scale-model-")) / f"{name}.{m['kind']}"
    path.write_bytes(raw)
    trusted = m.get("untrusted_types") if m.get("approved_by") else None
    return load_model(path, trusted=trusted)
