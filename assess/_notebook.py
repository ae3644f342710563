"""The assessment notebook written into a team's workspace: short, in plain words."""

from __future__ import annotations

import json
import pprint

__all__ = ["notebook"]


def _roles_literal(roles):
    text = pprint.pformat(dict(roles), indent=4, width=88, sort_dicts=False)
    return "roles = " + text


def notebook(usecase_id, dataset, *, roles=None, model=None, data=None, trusted=None):
    """Write the assessment notebook of a use case (not graded; teams rerun and extend it).

    Parameters
    ----------
    usecase_id : str
        The use case's id; the table opens as
        ``datasets.load("usecase:<usecase_id>/<dataset>")`` and the last cell
        saves the results to it.
    dataset : str
        The name of the use case's table.
    roles : dict, optional
        Column roles, written into the notebook where the team can read and
        change them; by default the notebook fetches those given on the use
        case's page (:func:`fetch_roles`).
    model : str, optional
        ``"baseline"`` to train a transparent model; the path of a ``.skops``
        or ``.onnx`` file (relative to the notebook); or the name of a model of
        the use case (fetched with :func:`fetch_model`). By default the
        existing system's score column is assessed when there is one, else a
        baseline.
    data : str, optional
        A Parquet file to read instead of the use case's table (a copy of it
        outside the sandbox, or a test).
    trusted : list of str, optional
        Types of a ``.skops`` file that an instructor approved.

    Returns
    -------
    nbformat.NotebookNode
        A valid version-4 notebook.

    Examples
    --------
    >>> nb = notebook("benefits", "applications", roles={"ok": "target"})
    >>> nb.cells[-1].source
    "assess.save_results(results, usecase='benefits')"
    """
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    from ._roles import normalise_roles, role_of

    if data is not None:
        load = f"df = pd.read_parquet({str(data)!r})"
    else:
        load = f"df = datasets.load({f'usecase:{usecase_id}/{dataset}'!r})"
    if roles is not None:
        roles = normalise_roles(roles)
        roles_code = _roles_literal(roles)
    else:
        roles_code = (
            f"roles = assess.fetch_roles({usecase_id!r}, {dataset!r})\n"
            "# To change a role, for example: roles['income'] = {'role': 'legitimate'}\n"
            "roles"
        )
    score = role_of(roles, "score") if roles is not None else None
    is_file = model is not None and (
        "/" in str(model) or str(model).lower().endswith((".skops", ".onnx"))
    )
    if model == "baseline" or (model is None and roles is not None and score is None):
        model_code = "model = assess.baseline(df, roles=roles)"
        model_words = (
            "Your team brought no model and no scores, so the notebook trains a simple, "
            "transparent model on your table (without the protected columns) to show how such a "
            "model would decide."
        )
    elif model is None and roles is not None:
        model_code = "model = None  # the decisions are in the column " + repr(score)
        model_words = (
            f"The decisions assessed are those of your existing system, in the column '{score}'."
        )
    elif model is None:
        model_code = "model = assess.default_model(df, roles=roles)"
        model_words = (
            "The decisions assessed are those of your existing system when the table has its "
            "scores or decisions (a column with the role 'score'); otherwise the notebook trains "
            "a simple, transparent model on your table, without the protected columns."
        )
    elif is_file:
        model_code = f"model = assess.load_model({str(model)!r}, trusted={list(trusted or [])!r})"
        model_words = "The decisions assessed are those of the model your team brought."
    else:
        model_code = f"model = assess.fetch_model({usecase_id!r}, {model!r}, roles=roles, df=df)"
        model_words = (
            f"The decisions assessed are those of the model \u201c{model}\u201d that your team "
            "brought to the use case. If an instructor has not yet approved what it contains, "
            "the next cell says so and lists it."
        )
    md, code = new_markdown_cell, new_code_cell
    cells = [
        md(
            f"# Assessment of the use case \u201c{usecase_id}\u201d\n\n"
            "This notebook checks the decisions behind your use case the way the labs did: "
            "who gets which decision, how often the decisions are wrong for each group, and "
            "why. Run the cells from top to bottom (menu *Run* \u2192 *Run All Cells*). "
            "It is not graded: change it and add to it as you like. The last cell saves the "
            "results to your use case, where you can cite each table and figure (by its id, "
            "such as `performance.metrics`) in the impact assessment."
        ),
        code("import pandas as pd\n\nfrom ai4scale import assess, datasets"),
        md(
            "## The table and its columns\n\n"
            "The table is the one your team brought, after the personal data was removed or "
            "replaced. The roles say what each column is; change them here if they are wrong."
        ),
        code(f"{load}\ndf.shape"),
        code(roles_code),
        md(f"## Whose decisions\n\n{model_words}"),
        code(
            f"{model_code}\ndecisions = assess.predict(df, roles=roles, model=model)\n"
            "results = {}  # each step's tables and figures, saved at the end"
        ),
        md(
            "## 1. What the table holds\n\n"
            "How many rows, what is missing, and how often the outcome is positive in each "
            "group. Small groups are named: numbers about them are uncertain."
        ),
        code('results["profile"] = assess.profile(df, roles=roles)\nresults["profile"]'),
        md(
            "## 2. How the decisions turn out for each group\n\n"
            "For every group: the share of positive decisions, the share of correct decisions, "
            "and the two kinds of mistakes (flagging someone who should not be, missing "
            "someone who should be). The intervals show how much each number could move by "
            "chance."
        ),
        code(
            'results["performance"] = assess.performance(df, roles=roles, predictions=decisions)\n'
            'results["performance"]'
        ),
        md(
            "## 3. How far apart the groups are\n\n"
            "The difference between the highest and the lowest group, and the lower divided by "
            "the higher."
        ),
        code(
            'results["disparities"] = assess.disparities(df, roles=roles, predictions=decisions)\n'
            'results["disparities"]'
        ),
        md(
            "## 4. Among comparable cases\n\n"
            "Some differences come from legitimate factors (for example income). Here the "
            "groups are compared among cases with the same legitimate factors."
        ),
        code(
            'results["conditional_disparity"] = assess.conditional_disparity(\n'
            "    df, roles=roles, predictions=decisions\n)\n"
            'results["conditional_disparity"]'
        ),
        md(
            "## 5. What the model looks at\n\n"
            "Which columns weigh most in the model's decisions, on average and for one case. "
            "This needs a model; with the existing system's scores only, it is skipped."
        ),
        code(
            "if model is not None:\n"
            '    results["explain"] = assess.explain(df, roles=roles, model=model)\n'
            '    display(results["explain"])'
        ),
        md(
            "## 6. What a fairer way of deciding would cost\n\n"
            "Two methods from the labs that make the groups' shares of positive decisions closer, "
            "and what that does to the share of correct decisions."
        ),
        code(
            'results["mitigation"] = assess.mitigation(\n'
            "    df, roles=roles, predictions=decisions, model=model\n)\n"
            'results["mitigation"]'
        ),
        md(
            "## 7. Over time\n\n"
            "Whether the numbers hold from one period to the next (when the table has a date)."
        ),
        code(
            'results["stability"] = assess.stability(df, roles=roles, predictions=decisions)\n'
            'results["stability"]'
        ),
        md(
            "## Save the results to the use case\n\n"
            "This sends the tables and figures above (no rows of the table) to your use case, "
            "with a fingerprint of this notebook, so the impact assessment can cite them."
        ),
        code(f"assess.save_results(results, usecase={usecase_id!r})"),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["ai4scale_assessment"] = {
        "usecase": usecase_id,
        "dataset": dataset,
        "roles": json.loads(json.dumps(roles)) if roles is not None else None,
    }
    nbformat.validate(nb)
    return nb
