"""Evidence for an AI use case's impact assessment, one function per step.

Each step takes the table first and everything else by keyword, and returns a
:class:`StepResult` (tables, figures and plain-language notes)::

    from ai4scale import assess
    roles = {"granted": {"role": "target", "positive": "yes"},
             "sex": {"role": "protected", "kind": "sex"},
             "income": "legitimate", "household": "feature"}
    model = assess.baseline(df, roles=roles)          # or assess.load_model("m.skops")
    decisions = assess.predict(df, roles=roles, model=model)
    assess.performance(df, roles=roles, predictions=decisions)
    results = assess.run_all(df, roles=roles, model=model)
    assess.save_results(results, usecase="benefit-checks")

Steps: :func:`profile`, :func:`performance`, :func:`disparities`,
:func:`conditional_disparity`, :func:`explain`, :func:`mitigation`,
:func:`stability`. Models: :func:`load_model` (``.skops`` with a check of the
types it holds, ``.onnx``; pickle files are refused), :func:`baseline`, or the
existing system's score column. This package imports nothing from the hub or
the grading side: it runs in the teams' own kernels.
"""

from ._disparity import conditional_disparity, disparities
from ._explain import explain
from ._mitigation import mitigation
from ._models import (
    OnnxModel,
    RefusedModel,
    UntrustedModel,
    baseline,
    default_model,
    load_model,
    predict,
    predict_scores,
)
from ._notebook import notebook
from ._payload import figure_png_base64, notebook_sha256, save_results, to_payload
from ._performance import performance
from ._profile import profile
from ._result import StepResult
from ._roles import KINDS, ROLES, AssessError, normalise_roles
from ._run import run_all
from ._stability import stability
from ._usecase import fetch_model, fetch_roles

__all__ = [
    "KINDS",
    "ROLES",
    "AssessError",
    "OnnxModel",
    "RefusedModel",
    "StepResult",
    "UntrustedModel",
    "baseline",
    "conditional_disparity",
    "default_model",
    "disparities",
    "explain",
    "fetch_model",
    "fetch_roles",
    "figure_png_base64",
    "load_model",
    "mitigation",
    "normalise_roles",
    "notebook",
    "notebook_sha256",
    "performance",
    "predict",
    "predict_scores",
    "profile",
    "run_all",
    "save_results",
    "stability",
    "to_payload",
]
