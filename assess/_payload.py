"""Results as JSON for the use case's record, and saving them to the course service."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from urllib.parse import quote

__all__ = ["figure_png_base64", "notebook_sha256", "save_results", "to_payload"]

#: Packages whose versions are recorded with the results.
PACKAGES = (
    "ai4scale-sandbox",
    "pandas",
    "numpy",
    "scikit-learn",
    "fairlearn",
    "shap",
    "matplotlib",
    "skops",
    "onnxruntime",
)


def figure_png_base64(fig, *, dpi=100):
    """Return a matplotlib figure as a base64-encoded PNG.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    dpi : int, default 100
        Resolution.

    Returns
    -------
    str

    Examples
    --------
    >>> from ai4scale.assess._plots import new_figure
    >>> fig, _ = new_figure()
    >>> figure_png_base64(fig)[:8]
    'iVBORw0K'
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _versions():
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def to_payload(results):
    """Turn the steps' results into a JSON-able dict, every table and figure with an id.

    Parameters
    ----------
    results : dict of str to StepResult
        As :func:`run_all` returns them (or any steps' results).

    Returns
    -------
    dict
        ``{"format": 1, "created_at", "packages", "steps": [{"name", "notes",
        "items"}], "items": [{"id": "<step>.<name>", "step", "kind": "table" |
        "figure", "caption", "columns", "records" | "png_base64"}]}``.

    Raises
    ------
    ValueError
        Two items with the same id.

    Examples
    --------
    >>> import pandas as pd
    >>> from ai4scale.assess import StepResult
    >>> p = to_payload({"profile": StepResult("profile", tables={"t": pd.DataFrame({"a": [1]})})})
    >>> p["items"][0]["id"], p["items"][0]["records"]
    ('profile.t', [{'a': 1}])
    >>> json.dumps(p) and True
    True
    """
    steps, items, seen = [], [], set()
    for result in results.values():
        ids = []
        for name, table in result.tables.items():
            item_id = f"{result.name}.{name}"
            frame = table.copy()
            frame.columns = [str(c) for c in frame.columns]
            items.append(
                {
                    "id": item_id,
                    "step": result.name,
                    "kind": "table",
                    "caption": result.captions.get(name, ""),
                    "columns": list(frame.columns),
                    "records": json.loads(
                        frame.to_json(orient="records", date_format="iso", default_handler=str)
                    ),
                }
            )
            ids.append(item_id)
        for name, fig in result.figures.items():
            item_id = f"{result.name}.{name}"
            items.append(
                {
                    "id": item_id,
                    "step": result.name,
                    "kind": "figure",
                    "caption": result.captions.get(name, ""),
                    "png_base64": figure_png_base64(fig),
                }
            )
            ids.append(item_id)
        for item_id in ids:
            if item_id in seen:
                raise ValueError(f"two results have the id {item_id!r}")
            seen.add(item_id)
        steps.append({"name": result.name, "notes": [str(n) for n in result.notes], "items": ids})
    return {
        "format": 1,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "packages": _versions(),
        "steps": steps,
        "items": items,
    }


def notebook_sha256(path=None):
    """Return the sha256 of the running notebook's file, or None when it is not known.

    Parameters
    ----------
    path : str, optional
        The notebook; by default the kernel's ``JPY_SESSION_NAME`` (set by
        Jupyter for a notebook's kernel), relative to the working directory
        when it is not absolute.

    Returns
    -------
    str or None

    Examples
    --------
    >>> notebook_sha256("/no/such/notebook.ipynb") is None
    True
    """
    path = path or os.environ.get("JPY_SESSION_NAME")
    if not path:
        return None
    candidates = [Path(path)]
    if not candidates[0].is_absolute():
        candidates.append(Path.home() / path)
    for candidate in candidates:
        if candidate.is_file():
            return hashlib.sha256(candidate.read_bytes()).hexdigest()
    return None


def save_results(results, *, usecase, notebook=None):
    """Save the results to the use case, with the sha256 of this notebook.

    Parameters
    ----------
    results : dict of str to StepResult
        As :func:`run_all` returns them.
    usecase : str
        The use case's id.
    notebook : str, optional
        The notebook's path, when ``JPY_SESSION_NAME`` does not give it.

    Returns
    -------
    dict
        The course service's answer. The request's body is ``{"payload":
        to_payload(results), "notebook_sha256": ...}``.

    Examples
    --------
    >>> save_results(results, usecase="benefit-checks")  # doctest: +SKIP
    """
    from ai4scale.datasets import _service  # part "transport"; imported when used

    body = {"payload": to_payload(results), "notebook_sha256": notebook_sha256(notebook)}
    answer = _service.post_json(f"usecases/{quote(usecase, safe='')}/results", body)
    print(f"The results are saved to the use case {usecase!r}.")
    return answer
