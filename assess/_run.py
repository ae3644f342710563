"""The whole assessment in one call."""

from __future__ import annotations

from ._disparity import conditional_disparity, disparities
from ._explain import explain
from ._mitigation import mitigation
from ._models import baseline, predict
from ._performance import performance
from ._profile import profile
from ._result import StepResult
from ._roles import AssessError, normalise_roles, role_of
from ._stability import stability

__all__ = ["run_all"]


def run_all(df, *, roles, model=None, n_boot=200, random_state=0):
    """Run every step of the assessment and return their results by step name.

    The decisions assessed come from `model` when given, else from the score
    column of the existing system, else from a transparent baseline model
    trained here.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    roles : dict
        Column roles.
    model : object or "baseline", optional
        A loaded model (see :func:`load_model`); ``"baseline"`` trains one even
        when there is a score column.
    n_boot : int, default 200
        Bootstrap draws for the confidence intervals.
    random_state : int, default 0
        Seed of every random choice.

    Returns
    -------
    dict of str to StepResult
        ``profile``, ``performance``, ``disparities``, ``conditional_disparity``,
        ``explain`` (with a model only), ``mitigation``, ``stability``. A step
        that cannot run with this data holds a note saying why.

    Examples
    --------
    >>> results = run_all(df, roles=roles)  # doctest: +SKIP
    >>> results["disparities"].tables["differences"]  # doctest: +SKIP
    """
    roles = normalise_roles(roles, df)
    results = {"profile": profile(df, roles=roles)}
    source = None
    if (
        isinstance(model, str)
        and model == "baseline"
        or (model is None and role_of(roles, "score") is None)
    ):
        model = baseline(df, roles=roles, random_state=random_state)
        source = (
            "No model and no score column were given: the decisions assessed come from a simple, "
            "transparent model (logistic regression) trained here on this table, without the "
            "protected columns. It learned from part of these rows, so its numbers may look a "
            "little better than on new cases."
        )
    elif model is None:
        score = role_of(roles, "score")
        threshold = roles[score].get("threshold")
        source = f"The decisions assessed are those of the existing system (column '{score}'" + (
            f", positive from {threshold:g} on)." if threshold is not None else ")."
        )
    else:
        source = "The decisions assessed are those of the model the team brought."
    decisions = predict(df, roles=roles, model=model)
    steps = {
        "performance": lambda: performance(
            df, roles=roles, predictions=decisions, n_boot=n_boot, random_state=random_state
        ),
        "disparities": lambda: disparities(
            df, roles=roles, predictions=decisions, n_boot=n_boot, random_state=random_state
        ),
        "conditional_disparity": lambda: conditional_disparity(
            df, roles=roles, predictions=decisions, n_boot=n_boot, random_state=random_state
        ),
        "explain": lambda: explain(df, roles=roles, model=model, random_state=random_state),
        "mitigation": lambda: mitigation(
            df, roles=roles, predictions=decisions, model=model, random_state=random_state
        ),
        "stability": lambda: stability(df, roles=roles, predictions=decisions),
    }
    if model is None:
        del steps["explain"]
    for name, step in steps.items():
        try:
            results[name] = step()
        except AssessError as error:
            results[name] = StepResult(name, notes=[f"This step could not run: {error}"])
    results["performance"].notes.insert(0, source)
    return results
