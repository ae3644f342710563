"""Write labs/08-procurement-capstone/ (source notebook, vendor model, vendor card).

Run from the repository root:
    /opt/ai4scale/venv/bin/python labs/_authoring/08-procurement-capstone.py [--retrain]

The vendor's model is trained here, from seeded synthetic data, and stored as a joblib
file next to the notebook (a resource file the learners get): the learners never see this
training code, so for them the model is as opaque as a real vendor's. It is retrained only
when the file is missing or with --retrain (about 30 s); the pickle needs the pinned
scikit-learn version, so retrain after upgrading scikit-learn.
"""

import io
import json
import pprint
import sys
from pathlib import Path
from textwrap import dedent

import joblib
import nbformat
import numpy as np

LAB = Path(__file__).resolve().parents[1] / "08-procurement-capstone"
MODEL_FILE = "fraudscore-2.1.joblib"
CARD_FILE = "vendor-model-card.md"
SCHEMA_FILE = "model-card.schema.json"
_count = iter(range(1, 100))


# -- cells ---------------------------------------------------------------------------


def _meta(grade_id, *, grade=False, solution=False, locked=False, points=None, task=False):
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
    }
    if points is not None:
        meta["points"] = points
    if task:
        meta["task"] = True
    return {"nbgrader": meta}


def _src(text):
    return dedent(text).strip("\n")


def md(text):
    """A locked instruction cell."""
    gid = f"text_{next(_count):02d}"
    return nbformat.v4.new_markdown_cell(_src(text), metadata=_meta(gid, locked=True))


def code(text, *, locked=True):
    """A read-only code cell, or a free one with locked=False."""
    if not locked:
        return nbformat.v4.new_code_cell(_src(text))
    gid = f"code_{next(_count):02d}"
    return nbformat.v4.new_code_cell(_src(text), metadata=_meta(gid, locked=True))


def solution(text, grade_id, *, guided=None, title=None):
    """A code cell the learner writes (solution region replaced by the placeholder).

    ``guided``: the guided track's version of the cell: the reference code with at
    most three lines left as blanks (``...``) for the learner to complete.
    ``title``: the exercise's name when the heading before it does not say it.
    """
    cell = nbformat.v4.new_code_cell(_src(text), metadata=_meta(grade_id, solution=True))
    extra = {}
    if guided is not None:
        extra["guided"] = _src(guided)
    if title:
        extra["title"] = title
    if extra:
        cell.metadata["ai4scale"] = extra
    return cell


def example(text, *, markdown=False, track="guided"):
    """A cell shown in one track only (a worked example before an exercise); never graded."""
    make = nbformat.v4.new_markdown_cell if markdown else nbformat.v4.new_code_cell
    return make(_src(text), metadata={"ai4scale": {"track": track}})


def test(visible, hidden_body, grade_id, points):
    """An autograded test cell: the visible checks, then the hidden ones."""
    text = _src(visible) + "\n### BEGIN HIDDEN TESTS\n" + _src(hidden_body) + "\n### END HIDDEN TESTS"
    return nbformat.v4.new_code_cell(
        text, metadata=_meta(grade_id, grade=True, locked=True, points=points)
    )


def answer(text, grade_id, points):
    """A Markdown answer graded by a person; the model answer between solution markers."""
    body = "### BEGIN SOLUTION\n" + _src(text) + "\n### END SOLUTION"
    return nbformat.v4.new_markdown_cell(
        body, metadata=_meta(grade_id, grade=True, solution=True, points=points)
    )


def task(text, grade_id, points):
    """A task graded by a person (mark scheme between its markers)."""
    return nbformat.v4.new_markdown_cell(
        _src(text), metadata=_meta(grade_id, locked=True, points=points, task=True)
    )


# -- the vendor's model ----------------------------------------------------------------

CATEGORICAL = ["parent_country_of_birth", "contact_language", "region", "childcare_type"]
NUMERIC = [
    "years_at_address",
    "household_income",
    "single_parent",
    "n_children",
    "childcare_hours_per_month",
    "hourly_price",
    "allowance_per_year",
]


def train_vendor_model():
    """Train FraudScore 2.1 the way a careless vendor would: on past flags, with proxies.

    Returns the fitted model and the vendor's claimed figures (on its own holdout,
    measured against the historical flag).
    """
    from ai4scale.datasets.synthetic import toeslagen
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import FixedThresholdClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    history, _ = toeslagen.generate(seed=20190401, n_rows=24_000)
    train, holdout = history.iloc[:19_200], history.iloc[19_200:]
    columns = CATEGORICAL + NUMERIC
    pipe = make_pipeline(
        make_column_transformer(
            (OrdinalEncoder(), CATEGORICAL), ("passthrough", NUMERIC), verbose_feature_names_out=False
        ),
        HistGradientBoostingClassifier(
            max_iter=60,
            max_leaf_nodes=15,
            categorical_features=list(range(len(CATEGORICAL))),
            random_state=0,
        ),
    )
    pipe.fit(train[columns], train["flagged"])
    # the vendor's threshold: flag the riskiest 10% (the investigators' capacity)
    threshold = round(float(np.quantile(pipe.predict_proba(train[columns])[:, 1], 0.90)), 3)
    model = FixedThresholdClassifier(pipe, threshold=threshold)
    model.fit(train[columns], train["flagged"])
    pred = model.predict(holdout)
    claims = {
        "threshold": threshold,
        "accuracy": float(np.mean(pred == holdout["flagged"].to_numpy())),
        "selection_rate": float(np.mean(pred)),
    }
    return model, claims


def vendor_card(claims):
    """The thin model card the vendor ships with the model."""
    return _src(
        f"""
        # FraudScore 2.1 - model card

        *Supplied by ClearRisk Analytics B.V. (a fictional vendor) with the tender offer.*

        **Model.** FraudScore 2.1, gradient-boosted decision trees (scikit-learn),
        delivered as `{MODEL_FILE}`. Input: one childcare-allowance application.
        Output: `True` = select the application for investigation, `False` = do not.
        Decision threshold {claims["threshold"]} on the internal risk score.

        **Training data.** 19,200 historical childcare-allowance applications, labelled
        with the investigation decision taken at the time (`flagged`).

        **Performance.** Accuracy **{claims["accuracy"]:.0%}** on 4,800 held-out
        historical applications. Selects about {claims["selection_rate"]:.0%} of
        applications, in line with the capacity of a typical investigation team.

        **Fairness.** Nationality is not an input of the model. FraudScore is therefore
        free of discrimination.

        **Intended use.** Selecting childcare-allowance applications for investigation
        by benefit agencies.
        """
    )


# -- the structured model card ---------------------------------------------------------

TEXT = {"type": "string", "minLength": 15, "pattern": "^(?!TODO)"}
WORD = {"type": "string", "minLength": 1, "pattern": "^(?!TODO)"}
RATE = {"type": "number", "minimum": 0, "maximum": 1}
BY_GROUP = {
    "type": "object",
    "required": ["dual", "not_dual"],
    "additionalProperties": False,
    "properties": {"dual": RATE, "not_dual": RATE},
}
SECTIONS = [
    "model_details",
    "intended_use",
    "factors",
    "metrics",
    "evaluation_data",
    "training_data",
    "quantitative_analyses",
    "ethical_considerations",
    "caveats_and_recommendations",
]


def _obj(props):
    return {
        "type": "object",
        "required": list(props),
        "additionalProperties": False,
        "properties": props,
    }


SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Model card, structured part (sections of Mitchell et al. 2019)",
    **_obj(
        {
            "model_details": _obj(
                {
                    "name": WORD,
                    "version": WORD,
                    "developer": WORD,
                    "model_type": TEXT,
                    "inputs": {"type": "array", "items": WORD, "minItems": 1},
                    "output": TEXT,
                }
            ),
            "intended_use": _obj(
                {"primary_uses": TEXT, "primary_users": TEXT, "out_of_scope_uses": TEXT}
            ),
            "factors": _obj(
                {
                    "groups": {
                        "type": "array",
                        "items": WORD,
                        "contains": {"const": "dual_nationality"},
                    },
                    "proxies": {"type": "array", "items": WORD, "minItems": 1},
                }
            ),
            "metrics": _obj(
                {
                    "measures": {
                        "type": "array",
                        "items": {
                            "enum": [
                                "accuracy",
                                "selection_rate",
                                "false_positive_rate",
                                "true_positive_rate",
                            ]
                        },
                        "minItems": 4,
                        "uniqueItems": True,
                    },
                    "reference_label": TEXT,
                    "threshold": TEXT,
                }
            ),
            "evaluation_data": _obj(
                {
                    "description": TEXT,
                    "n_rows": {"type": "integer", "minimum": 1},
                    "sampling": TEXT,
                }
            ),
            "training_data": _obj({"description": TEXT, "label": TEXT, "known_issues": TEXT}),
            "quantitative_analyses": _obj(
                {
                    "n": {"type": "integer", "minimum": 1},
                    "accuracy": RATE,
                    "selection_rate": BY_GROUP,
                    "false_positive_rate": BY_GROUP,
                    "true_positive_rate": BY_GROUP,
                    "selection_rate_ratio": {"type": "number", "minimum": 0},
                    "false_positive_rate_ratio": {"type": "number", "minimum": 0},
                }
            ),
            "ethical_considerations": {"type": "array", "items": TEXT, "minItems": 2},
            "caveats_and_recommendations": {"type": "array", "items": TEXT, "minItems": 2},
        }
    ),
}

TEMPLATE = {
    "model_details": {
        "name": "TODO: the model's name",
        "version": "TODO",
        "developer": "TODO: who built it",
        "model_type": "TODO: what kind of model, as far as you can tell",
        "inputs": ["TODO: the input columns the model reads"],
        "output": "TODO: what the model returns and what it means",
    },
    "intended_use": {
        "primary_uses": "TODO: what the agency would use it for",
        "primary_users": "TODO: who works with its output",
        "out_of_scope_uses": "TODO: uses it must not be put to",
    },
    "factors": {
        "groups": ["TODO: the groups you compared (a column name)"],
        "proxies": ["TODO: inputs that stand in for a protected characteristic"],
    },
    "metrics": {
        "measures": ["TODO: accuracy, selection_rate, false_positive_rate, true_positive_rate"],
        "reference_label": "TODO: what the figures are measured against, and why",
        "threshold": "TODO: the decision threshold and how many applications it selects",
    },
    "evaluation_data": {
        "description": "TODO: which data you evaluated on",
        "n_rows": None,
        "sampling": "TODO: how these applications were chosen",
    },
    "training_data": {
        "description": "TODO: what the vendor says about its training data",
        "label": "TODO: the label the model learned",
        "known_issues": "TODO: what is wrong or unknown about it",
    },
    "quantitative_analyses": None,
    "ethical_considerations": ["TODO: one consideration per item (at least two)"],
    "caveats_and_recommendations": ["TODO: one caveat or recommendation per item (at least two)"],
}


def _literal(obj, indent):
    """Python source of a JSON-like object, indented to sit inside a cell."""
    text = pprint.pformat(obj, indent=1, width=88, sort_dicts=False)
    return text.replace("\n", "\n" + " " * indent)


# The grader's recomputation, shared by the hidden tests (plain numpy, no learner code).
RECOMPUTE = '''
import json as _json
import numpy as _np
import joblib as _joblib
from ai4scale.datasets.synthetic import toeslagen as _toeslagen

_vendor = _joblib.load("fraudscore-2.1.joblib")  # the lab's own file, not the team's variable

def _figures(model, data):
    pred = _np.asarray(model.predict(data)).astype(bool)
    y = data["irregularity"].to_numpy(dtype=bool)
    g = data["dual_nationality"].to_numpy(dtype=bool)
    out = {"n": len(data), "accuracy": float(_np.mean(pred == y))}
    for name, cells in (
        ("selection_rate", lambda m: m),
        ("false_positive_rate", lambda m: m & ~y),
        ("true_positive_rate", lambda m: m & y),
    ):
        out[name] = {"dual": float(pred[cells(g)].mean()), "not_dual": float(pred[cells(~g)].mean())}
    for name in ("selection_rate", "false_positive_rate"):
        out[name + "_ratio"] = out[name]["dual"] / out[name]["not_dual"]
    return out

def _flat(figures):
    """{"selection_rate.dual": 0.3, ...} as plain floats (learner objects converted)."""
    flat = {}
    for key, value in dict(figures).items():
        if isinstance(value, dict) or hasattr(value, "keys"):
            for group in ("dual", "not_dual"):
                flat[f"{key}.{group}"] = float(value[group])
        else:
            flat[key] = float(value)
    return flat
'''.strip("\n")


# -- the notebook ----------------------------------------------------------------------

# The reference answer of section 4 (its guided version is made from it).
MODEL_CARD = """
model_card = copy.deepcopy(MODEL_CARD_TEMPLATE)
### BEGIN SOLUTION
model_card["model_details"] = {
    "name": "FraudScore",
    "version": "2.1",
    "developer": "ClearRisk Analytics B.V.",
    "model_type": "Gradient-boosted decision trees (scikit-learn) behind a fixed "
    "decision threshold; delivered as a joblib file, training code not disclosed",
    "inputs": list(vendor_model.feature_names_in_),
    "output": "True = select the application for investigation (about 10% of "
    "applications), False = no investigation",
}
model_card["intended_use"] = {
    "primary_uses": "Proposed by the vendor: choose which childcare-allowance "
    "applications an investigator examines. Not yet approved by the agency.",
    "primary_users": "Investigation team of the benefits agency, who decide after "
    "their own review; never the applicant's payment system directly",
    "out_of_scope_uses": "Automatic suspension, reduction or reclaiming of "
    "allowances; labelling a parent as a fraudster; any other benefit scheme",
}
model_card["factors"] = {
    "groups": ["dual_nationality", "single_parent", "household_income"],
    "proxies": ["parent_country_of_birth", "contact_language", "region"],
}
model_card["metrics"] = {
    "measures": [
        "accuracy",
        "selection_rate",
        "false_positive_rate",
        "true_positive_rate",
    ],
    "reference_label": "irregularity found by a full audit of a random sample, "
    "not the old system's flag, which was itself biased",
    "threshold": "The vendor's fixed threshold; it selects about 10% of "
    "applications overall",
}
model_card["evaluation_data"] = {
    "description": "The agency's 20,000 randomly drawn, fully audited "
    "childcare-allowance applications of last year (synthetic data)",
    "n_rows": int(len(applications)),
    "sampling": "Random sample of all applications, so not limited to cases the "
    "old system had flagged",
}
model_card["training_data"] = {
    "description": "19,200 historical applications, according to the vendor; not "
    "shared with the agency",
    "label": "flagged: the investigation decision of the old risk system",
    "known_issues": "The old flags over-selected dual nationals; a model trained "
    "on them learns that bias through proxies such as country of birth",
}
model_card["quantitative_analyses"] = compute_figures(vendor_model, applications)
model_card["ethical_considerations"] = [
    "Dual nationals without any irregularity are selected several times as often "
    "as others: indirect discrimination on nationality and ethnic origin "
    "(Art. 21 of the Charter).",
    "Parent's country of birth and contact language act as proxies: changing only "
    "them cuts the selection of dual nationals by more than half.",
    "Investigations can stop payments and lead to reclaims with severe "
    "consequences for families and children, as the toeslagen scandal showed.",
]
model_card["caveats_and_recommendations"] = [
    "The vendor's accuracy is measured against past flags; against the audit, "
    "selecting nobody is more accurate than the model.",
    "Do not deploy as delivered; require retraining on audited outcomes without "
    "proxies and group error rates within agreed bounds before any use.",
    "Monitor selection and false-positive rates by group during any use.",
]
### END SOLUTION
"""


def _guided(reference, blanks):
    """The guided version of a reference cell: markers gone, some lines made blanks.

    ``blanks`` maps a reference line (with its indent and newline) to its guided text.
    """
    lines = _src(reference).split("\n")
    text = "\n".join(line for line in lines if "### BEGIN SOLUTION" not in line
                     and "### END SOLUTION" not in line) + "\n"
    for line, blank in blanks.items():
        assert text.count(line) == 1, line
        text = text.replace(line, blank)
    return text


def cells():
    """Return the cells of the source notebook."""
    return [
        md(
            """
            # Team capstone: procuring a high-risk system

            **The case.** In the Dutch childcare-benefits scandal (*toeslagenaffaire*), the
            tax administration's risk-classification model used the applicant's nationality
            as a risk indicator. Tens of thousands of parents were wrongly treated as
            fraudsters, had allowances stopped and were ordered to pay back large sums; a
            parliamentary inquiry called it "unprecedented injustice" (2020), the government
            resigned (January 2021), and the Dutch data-protection authority fined the tax
            administration for processing nationality unlawfully and discriminatorily.
            Since then, Dutch and other European public bodies have been asked to buy
            algorithmic tools with much more care - and several of the tools that went wrong
            elsewhere (for example Rotterdam's welfare-fraud model) were built with outside
            consultants.

            **Your team's role.** You are the assessment team of a (fictional) national
            benefits agency. A vendor offers **FraudScore 2.1**, a model that selects
            childcare-allowance applications for investigation. The vendor delivered the
            model as a file and a one-page model card; you do not get its training code or
            data. The procurement board meets next week and wants from you:

            | deliverable | section | points |
            |---|---|---|
            | an audit of the model on the agency's own data | 2 | 3 (automatic) |
            | a model card (Mitchell et al., 2019), structured | 4 | 4 (automatic) |
            | a fundamental-rights impact assessment (AI Act Art. 27) | 5 | 6 (trainer) |
            | a go / no-go recommendation with contract conditions | 6 | 4 (trainer) |
            | a 10-minute presentation to the board | 7 | 4 (trainer) |

            **Why it matters under the AI Act.** A system used by a public authority to
            decide on, reduce or reclaim public assistance benefits is high-risk (Annex III,
            point 5(a)). The vendor, as *provider*, owes you data governance (Art. 10),
            technical documentation (Art. 11), logs (Art. 12), instructions for use that
            state accuracy and known risks (Art. 13) and a design that allows human
            oversight (Art. 14). Your agency, as *deployer*, must use it as instructed, with
            competent human oversight, and monitor it (Art. 26); and as a public body it
            must assess the impact on fundamental rights **before first use** (Art. 27) and
            notify the market-surveillance authority of the result.

            **How to work as a team.** This is a team lab: one notebook per team, in your
            team's shared folder, submitted once. Share the work - for instance one data
            auditor (sections 1-3), one model-card editor (section 4), one legal and policy
            lead (section 5), one procurement lead and presenter (sections 6-7) - and read
            each other's parts. Run the cells in order, from the top. Complete the exercises:
            each one says what to fill in (code in sections 2 and 4, your team's own texts
            where it says `YOUR ANSWER HERE`). The automatic checks also run on applications
            you do not see, so let the code calculate the figures; do not type in numbers.
            """
        ),
        md(
            """
            ## 1. What the vendor delivered

            The model arrives as a *joblib* file, Python's usual format for a trained
            scikit-learn model. A word of caution that belongs in your contract: loading such
            a file runs code chosen by whoever wrote it. Load only files you trust, in a
            sandbox like this one; for production, ask for a format that cannot run code
            (for example ONNX) or run the vendor's model in an isolated service.
            """
        ),
        code(
            f"""
            import json
            import joblib
            import numpy as np
            import pandas as pd
            import matplotlib.pyplot as plt
            from IPython.display import Markdown, display

            vendor_model = joblib.load("{MODEL_FILE}")
            display(Markdown(open("{CARD_FILE}", encoding="utf-8").read()))
            print("The model reads these columns:", list(vendor_model.feature_names_in_))
            """
        ),
        md(
            """
            The vendor's card is thin: one accuracy figure, measured against past
            investigation decisions, and a fairness claim based only on the absence of a
            nationality column. Keep it next to you while you audit.

            **The agency's own data.** Last year the agency had 20,000 randomly drawn
            applications fully audited, so for each of them we know whether there was a real
            irregularity (`irregularity`), besides whether the old system flagged it
            (`flagged`) and whether the parent has dual nationality (`dual_nationality`). The
            data are synthetic (dataset `childcare-benefit-fraud`): no real parent is in them.
            """
        ),
        code(
            """
            from ai4scale import datasets

            applications = datasets.load("childcare-benefit-fraud").frame
            print(len(applications), "audited applications;",
                  f"{applications['dual_nationality'].mean():.0%} with dual nationality;",
                  f"{applications['irregularity'].mean():.0%} with a real irregularity")
            applications.head()
            """
        ),
        md(
            """
            ## 2. Audit the model (3 points)

            The audit's figures come from one piece of code, `compute_figures(model, data)`.
            It asks the model for its decision on each application of a table of audited
            applications (`model.predict(data)`: True = selected for investigation),
            compares these decisions with the audit finding `irregularity` (not with the
            old `flagged`) and returns exactly these figures, each under its name:

            | key | value |
            |---|---|
            | `"n"` | number of applications (a whole number, `int`) |
            | `"accuracy"` | share of applications where the selection equals `irregularity` |
            | `"selection_rate"` | `{"dual": ..., "not_dual": ...}`: share selected in each group |
            | `"false_positive_rate"` | same groups: share selected among applications **without** irregularity |
            | `"true_positive_rate"` | same groups: share selected among applications **with** an irregularity |
            | `"selection_rate_ratio"` | selection rate dual / not dual |
            | `"false_positive_rate_ratio"` | false-positive rate dual / not dual |

            "dual" means `dual_nationality` is True. The figures are plain numbers, so that
            they can be saved in the model card (section 4).
            """
        ),
        example(
            """
            **Write it yourself.** In the exercise cell, keep the first lines and write the
            rest of `compute_figures` where it says `YOUR CODE HERE`. Return plain Python
            numbers (`int(...)`, `float(...)`) so that the dictionary can be saved as JSON.
            You may use `fairlearn.metrics.MetricFrame` with `selection_rate`,
            `false_positive_rate` and `true_positive_rate` (imported for you), or plain
            pandas.
            """,
            markdown=True,
            track="analyst",
        ),
        example(
            """
            **Your part.** The code of `compute_figures` is written out in the exercise
            cell, except three lines that end in `...`: choose the two columns the audit
            needs and write one division. The comment above each of these lines says what
            goes there. First, a worked example: the same steps on six made-up
            applications, with other columns. Run it and compare what it prints with its
            table.
            """,
            markdown=True,
        ),
        example(
            """
            # A worked example on 6 made-up applications (not the agency's data).
            # The fairlearn package measures rates in each group.
            from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate

            example_table = pd.DataFrame({
                "chosen_by_model": [True, True, False, True, False, False],  # the model's decision
                "overpaid": [True, False, False, True, False, False],  # what an audit found
                "single_parent": [True, True, True, False, False, False],  # the groups to compare
            })
            example_chosen = example_table["chosen_by_model"].to_numpy(dtype=bool)
            # the truth: the audit's column, chosen by its name in quotes between the brackets
            example_truth = example_table["overpaid"].to_numpy(dtype=bool)
            # the groups: another column; True becomes "single", False becomes "not_single"
            example_group = np.where(
                example_table["single_parent"].to_numpy(dtype=bool), "single", "not_single"
            )
            example_frame = MetricFrame(
                metrics={"selection_rate": selection_rate, "false_positive_rate": false_positive_rate},
                y_true=example_truth,
                y_pred=example_chosen,
                sensitive_features=example_group,
            )
            print(example_frame.by_group)  # one row per group, one column per rate

            example_rates = {g: float(example_frame.by_group.loc[g, "selection_rate"])
                             for g in ("single", "not_single")}
            # a ratio compares the groups: one group's rate divided by the other group's rate
            print("selection rate, single / not single:",
                  example_rates["single"] / example_rates["not_single"])
            """
        ),
        solution(
            """
            from fairlearn.metrics import (
                MetricFrame,
                false_positive_rate,
                selection_rate,
                true_positive_rate,
            )


            def compute_figures(model, data):
                \"\"\"Audit figures of `model` on audited applications, by nationality group.\"\"\"
                ### BEGIN SOLUTION
                selected = np.asarray(model.predict(data)).astype(bool)
                truth = data["irregularity"].to_numpy(dtype=bool)
                group = np.where(data["dual_nationality"].to_numpy(dtype=bool), "dual", "not_dual")
                frame = MetricFrame(
                    metrics={
                        "selection_rate": selection_rate,
                        "false_positive_rate": false_positive_rate,
                        "true_positive_rate": true_positive_rate,
                    },
                    y_true=truth,
                    y_pred=selected,
                    sensitive_features=group,
                )
                by_group = frame.by_group
                figures = {"n": int(len(data)), "accuracy": float(np.mean(selected == truth))}
                for metric in ("selection_rate", "false_positive_rate", "true_positive_rate"):
                    figures[metric] = {g: float(by_group.loc[g, metric]) for g in ("dual", "not_dual")}
                for metric in ("selection_rate", "false_positive_rate"):
                    rates = figures[metric]
                    figures[metric + "_ratio"] = rates["dual"] / rates["not_dual"]
                return figures
                ### END SOLUTION
            """,
            "compute_figures",
            guided="""
            from fairlearn.metrics import (
                MetricFrame,
                false_positive_rate,
                selection_rate,
                true_positive_rate,
            )


            def compute_figures(model, data):
                \"\"\"Audit figures of `model` on audited applications, by nationality group.\"\"\"
                selected = np.asarray(model.predict(data)).astype(bool)
                # Blank 1: the truth. Between the brackets, write in quotes the name of the
                # column with the audit's finding (see the table above: not the old flag).
                truth = data[...].to_numpy(dtype=bool)
                # Blank 2: the groups. Between the brackets, write in quotes the name of the
                # column that says whether the parent has dual nationality.
                group = np.where(data[...].to_numpy(dtype=bool), "dual", "not_dual")
                frame = MetricFrame(
                    metrics={
                        "selection_rate": selection_rate,
                        "false_positive_rate": false_positive_rate,
                        "true_positive_rate": true_positive_rate,
                    },
                    y_true=truth,
                    y_pred=selected,
                    sensitive_features=group,
                )
                by_group = frame.by_group
                figures = {"n": int(len(data)), "accuracy": float(np.mean(selected == truth))}
                for metric in ("selection_rate", "false_positive_rate", "true_positive_rate"):
                    figures[metric] = {g: float(by_group.loc[g, metric]) for g in ("dual", "not_dual")}
                for metric in ("selection_rate", "false_positive_rate"):
                    rates = figures[metric]
                    # Blank 3: the ratio. Divide the rate of the "dual" group by the rate of the
                    # "not_dual" group, as the worked example divides its two groups' rates.
                    figures[metric + "_ratio"] = ...
                return figures
            """,
        ),
        code(
            """
            figures = compute_figures(vendor_model, applications)
            print(json.dumps(figures, indent=1))
            """,
            locked=False,
        ),
        test(
            """
            \"\"\"Check compute_figures on the agency's data (and on applications you cannot see).\"\"\"
            f = compute_figures(vendor_model, applications)
            assert set(f) == {"n", "accuracy", "selection_rate", "false_positive_rate",
                              "true_positive_rate", "selection_rate_ratio",
                              "false_positive_rate_ratio"}, sorted(f)
            assert f["n"] == 20000
            assert abs(float(f["selection_rate"]["dual"]) - 0.334) < 0.002
            assert abs(float(f["false_positive_rate"]["not_dual"]) - 0.067) < 0.002
            json.dumps(f)  # plain numbers, ready for the model card
            """,
            RECOMPUTE
            + "\n\n"
            + _src(
                """
                class _Rule:
                    \"\"\"Another 'model': select large families in childminder care.\"\"\"

                    def predict(self, data):
                        return ((data["n_children"] >= 2)
                                & (data["childcare_type"] == "childminder")).to_numpy()

                for seed, rows, model in ((101, 4000, _vendor), (102, 6000, _Rule())):
                    hid, _ = _toeslagen.generate(seed=seed, n_rows=rows)
                    got, want = compute_figures(model, hid), _figures(model, hid)
                    assert int(got["n"]) == rows and type(got["n"]) is int
                    got, want = _flat(got), _flat(want)
                    assert set(got) == set(want), sorted(got)
                    for key in want:
                        assert abs(got[key] - want[key]) < 1e-6, (seed, key, got[key], want[key])
                    _json.dumps(compute_figures(model, hid))
                """
            ),
            "test_compute_figures",
            3,
        ),
        code(
            """
            # What the figures look like
            fig, axes = plt.subplots(1, 3, figsize=(10, 3), sharey=True)
            for ax, metric in zip(axes, ["selection_rate", "false_positive_rate", "true_positive_rate"]):
                pd.Series(figures[metric]).plot.bar(ax=ax, color=["tab:orange", "tab:blue"], rot=0)
                ax.set_title(metric.replace("_", " "))
            axes[0].set_ylabel("share of applications")
            plt.tight_layout()
            plt.show()
            nobody = 1 - applications["irregularity"].mean()
            print(f"accuracy of FraudScore against the audit: {figures['accuracy']:.1%}")
            print(f"accuracy of selecting nobody at all:      {nobody:.1%}")
            """
        ),
        md(
            """
            ## 3. Probe the black box

            "Nationality is not an input" - but other inputs may stand in for it. Without
            opening the model, you can ask it a counterfactual question: for the same
            dual-national applicants, what would it decide if the parent had been born in
            the Netherlands and the applicant wrote to the agency in Dutch? Nothing about
            the childcare changes; only the two proxies do.
            """
        ),
        code(
            """
            dual = applications[applications["dual_nationality"]].copy()
            before = vendor_model.predict(dual).mean()
            dual.loc[:, "parent_country_of_birth"] = "Netherlands"
            dual.loc[:, "contact_language"] = "Dutch"
            after = vendor_model.predict(dual).mean()
            not_dual = vendor_model.predict(applications[~applications["dual_nationality"]]).mean()

            ax = pd.Series(
                {"dual, as they are": before, "dual, proxies changed": after, "not dual": not_dual}
            ).plot.barh(color=["tab:orange", "tab:gray", "tab:blue"], figsize=(6, 2.5))
            ax.set_xlabel("share selected for investigation")
            plt.show()
            print(f"selected: {before:.1%} -> {after:.1%} when only country of birth and language change")
            """
        ),
        md(
            """
            ## 4. Write the model card (4 points)

            Mitchell et al. (2019, *Model Cards for Model Reporting*) proposed nine sections
            for documenting a model: model details, intended use, factors, metrics,
            evaluation data, training data, quantitative analyses, ethical considerations,
            caveats and recommendations. Write the card the vendor should have written,
            from what **you** found. Its structured part is written in Python, as a list of
            named sections (a *dictionary*), and must follow a fixed format (a *schema*,
            in the file `model-card.schema.json` next to this notebook). The code below
            loads the format and a template with every section to fill in; the `jsonschema`
            package then checks your card against the format:

            - every text is at least 15 characters and no longer starts with `TODO`;
            - `factors.groups` names the column `dual_nationality`;
            - `quantitative_analyses` holds your audit figures: call `compute_figures` on the
              agency's audited applications (do not type numbers in);
            - `evaluation_data.n_rows` is a whole number.
            """
        ),
        code(
            f"""
            import copy
            import jsonschema

            # the schema is in the file next to this notebook (open it to read the rules)
            with open("{SCHEMA_FILE}", encoding="utf-8") as f:
                MODEL_CARD_SCHEMA = json.load(f)

            # the template: every TODO (and both None) is filled in in the exercise cell below
            MODEL_CARD_TEMPLATE = {_literal(TEMPLATE, 12)}
            """
        ),
        example(
            """
            **Write it yourself.** Start from the template above and replace every `TODO`
            and `None`: in the exercise cell, keep the first line, delete
            `raise NotImplementedError()` and fill in each section, for example
            `model_card["model_details"]["name"] = "FraudScore"` or a whole section at once,
            `model_card["factors"] = {"groups": [...], "proxies": [...]}`.
            """,
            markdown=True,
            track="analyst",
        ),
        example(
            """
            **Your part.** In the exercise cell, the card is written out from the audit,
            except three lines that end in `...`: the groups you compared, the proxies your
            probe found in section 3, and the audit figures. Read every text of the card:
            it is what your team will hand to the board, so change any wording your team
            would put differently (each text at least 15 characters). Then complete the
            three lines. First, a worked example on a practice card.
            """,
            markdown=True,
        ),
        example(
            """
            # A worked example: two sections of a practice card, for a quick trial of
            # FraudScore on the first 1,000 applications only (example values, not your
            # team's findings). Each section is set with  card["name of the section"] = ...
            practice_card = {"factors": None, "quantitative_analyses": None}

            # a list of column names: square brackets, each name in quotes, commas between
            practice_card["factors"] = {"groups": ["single_parent"], "proxies": ["household_income"]}

            # figures are calculated, never typed in: here by the function of section 2,
            # for FraudScore on a smaller table (your card uses all audited applications)
            practice_card["quantitative_analyses"] = compute_figures(vendor_model, applications.head(1000))

            print(json.dumps(practice_card, indent=1))
            """
        ),
        solution(
            MODEL_CARD,
            "model_card",
            guided=_guided(
                MODEL_CARD,
                {
                    """    "groups": ["dual_nationality", "single_parent", "household_income"],\n""": (
                        "    # Blank 1: the groups you compared, as a list of column names (see the\n"
                        "    # worked example); the first is the column of dual nationality.\n"
                        '    "groups": ...,\n'
                    ),
                    """    "proxies": ["parent_country_of_birth", "contact_language", "region"],\n""": (
                        "    # Blank 2: the proxies, as a list of column names: the inputs that\n"
                        "    # section 3's probe changed, and any other you suspect.\n"
                        '    "proxies": ...,\n'
                    ),
                    """model_card["quantitative_analyses"] = compute_figures(vendor_model, applications)\n""": (
                        "# Blank 3: the audit figures, calculated (not typed in) by the function of\n"
                        "# section 2, for the vendor's model on all the agency's audited applications.\n"
                        'model_card["quantitative_analyses"] = ...\n'
                    ),
                },
            ),
        ),
        code(
            """
            # Save the card next to the notebook, for the board and for the vendor
            with open("model-card.json", "w", encoding="utf-8") as f:
                json.dump(model_card, f, indent=1)
            jsonschema.validate(model_card, MODEL_CARD_SCHEMA)
            print("model-card.json written; it follows the schema")
            """,
            locked=False,
        ),
        test(
            """
            \"\"\"Check that the model card follows the schema.\"\"\"
            jsonschema.validate(json.loads(json.dumps(model_card)), MODEL_CARD_SCHEMA)
            """,
            f"""
            import json as _json
            import jsonschema as _jsonschema

            # the grader's own copy of the schema (a changed MODEL_CARD_SCHEMA does not count)
            _SCHEMA = {_literal(SCHEMA, 12)}
            _card = _json.loads(_json.dumps(model_card))
            _jsonschema.Draft202012Validator.check_schema(_SCHEMA)
            _jsonschema.validate(_card, _SCHEMA, cls=_jsonschema.Draft202012Validator)
            """,
            "test_card_schema",
            2,
        ),
        test(
            """
            \"\"\"Check the card's figures against a recomputation (also on applications you cannot see).\"\"\"
            qa = model_card["quantitative_analyses"]
            assert qa is not None, "fill in quantitative_analyses with compute_figures(...)"
            assert float(qa["selection_rate"]["dual"]) > float(qa["selection_rate"]["not_dual"])
            """,
            RECOMPUTE
            + "\n\n"
            + _src(
                """
                # The card's figures, measured on the agency's 20,000 applications, must agree
                # with the grader's recomputation on 20,000 other applications up to sampling
                # noise: rates within 0.05 (true-positive rates, from few cases, within 0.2),
                # ratios within 25%.
                _card = _flat(_json.loads(_json.dumps(model_card["quantitative_analyses"])))
                _hid, _ = _toeslagen.generate(seed=777, n_rows=20_000)
                _want = _flat(_figures(_vendor, _hid))
                for _key, _value in _want.items():
                    if _key == "n":
                        continue
                    _got = _card[_key]
                    if _key.endswith("_ratio"):
                        assert abs(_got / _value - 1) < 0.25, (_key, _got, _value)
                    elif _key.startswith("true_positive"):
                        assert abs(_got - _value) < 0.2, (_key, _got, _value)
                    else:
                        assert abs(_got - _value) < 0.05, (_key, _got, _value)
                """
            ),
            "test_card_figures",
            2,
        ),
        md(
            """
            ## 5. Fundamental-rights impact assessment (6 points)

            Before a public body first uses a high-risk system like this one, Art. 27(1)
            of the AI Act requires an assessment consisting of:

            - **(a)** a description of the deployer's processes in which the system would
              be used, in line with its intended purpose;
            - **(b)** the period of time within which, and the frequency with which, it is
              intended to be used;
            - **(c)** the categories of people and groups likely to be affected in this
              context;
            - **(d)** the specific risks of harm likely to affect those categories, taking
              into account the provider's information (Art. 13);
            - **(e)** a description of the human-oversight measures, according to the
              instructions for use;
            - **(f)** the measures to be taken if those risks materialise, including internal
              governance and complaint mechanisms.

            Write your team's assessment for FraudScore 2.1 in the agency, with one heading
            per point (a) to (f). Use your audit figures and the probe in (d). About one
            page.
            """
        ),
        answer(
            """
            **(a) Process.** Each childcare-allowance application (new, changed, and at the
            annual reconciliation) would be scored when received; the selected applications
            (about 10%) go to the investigation team, who may request documents, suspend
            advance payments and propose a reclaim. The score would be one input to the
            decision to investigate; the decision on the allowance remains a human decision
            under the benefit rules.

            **(b) Period and frequency.** Planned for three years from the contract start,
            every working day, about 40,000 applications a year; reviewed after a six-month
            pilot.

            **(c) Affected people.** All applicants and their partners and children; in
            particular parents with dual nationality, parents born abroad and people who
            contact the agency in another language than Dutch, and groups the proxies
            may reach (residents of the four big cities, single parents, low incomes,
            users of childminders).

            **(d) Risks of harm.** Discrimination on nationality and ethnic origin (Charter
            Art. 21): on our audit sample FraudScore selects 33% of dual nationals against 7%
            of others (ratio 4.8); among parents with no irregularity the false-positive
            rate is 33% versus 7% (ratio 4.9), so one in three honest dual-national parents
            would be investigated. Changing only country of birth and contact language cuts
            their selection from 33% to 14%: the model uses proxies. Its accuracy against
            the audit (87%) is below selecting nobody (95%); the vendor's claim is measured
            against biased past flags. Consequences: stopped payments, reclaims and debt,
            stress for families and risks to children's well-being (Art. 24), loss of trust,
            infringement of good administration (Art. 41) and data protection (Art. 8); a
            feedback loop, as investigated cases become the next training labels;
            automation bias of investigators.

            **(e) Human oversight.** Investigators trained on the model's limits; the
            selection only opens a review and never triggers a suspension; each adverse
            step needs a documented reason independent of the score and a second
            reviewer; investigators can overrule and their overrides are recorded and
            analysed (Art. 14, Art. 26(2)).

            **(f) Measures if risks materialise.** Monthly monitoring of selection and
            false-positive rates by group on a random audit sample, with a stop rule
            (suspend use if the false-positive ratio exceeds 1.25); an accountable owner
            and the data-protection officer in an algorithm board; information to affected
            parents that a model was used and the right to an explanation (Art. 26(11),
            Art. 86); a complaint and redress procedure with review by staff not involved;
            compensation for wrongly investigated parents; notification of the
            market-surveillance authority (Art. 27(3)) and registration in the EU database.
            """,
            "fria",
            6,
        ),
        md(
            """
            ## 6. Recommendation to the procurement board (4 points)

            Go or no-go? State your recommendation in one sentence, the three findings that
            carry it (with figures), and the **contract conditions** you would require - as
            conditions for a go, or for the vendor to return with a new offer. Think of
            data and labels, documentation, access for audits, thresholds, monitoring,
            liability and exit. (The EU's model contractual clauses for the public
            procurement of AI, MCC-AI, are a good checklist.)
            """
        ),
        answer(
            """
            **No-go for FraudScore 2.1 as delivered.** (1) It selects dual nationals 4.8 times
            as often as others and wrongly selects one in three honest dual-national parents
            (false-positive rate 33% vs 7%). (2) It reaches this through proxies (country of
            birth, contact language): changing only those halves the selection of dual
            nationals, so "nationality is not an input" does not make it non-discriminatory.
            (3) It learned the old system's biased flags; against real audit findings it is
            less accurate than selecting nobody, and the vendor's 87% accuracy claim is
            measured against those flags.

            Conditions for a new offer: retrain on outcomes of random audits, not past flags,
            and document the label and data governance (Art. 10(2)); no country of birth,
            language or other demonstrated proxies as inputs; selection-rate and
            false-positive-rate ratios between 0.8 and 1.25 on the agency's audit sample
            before acceptance and in every quarter of use, with the right to suspend and
            terminate without cost if exceeded; full technical documentation (Annex IV) and
            instructions for use with group-wise performance (Art. 13); conformity
            assessment, CE marking and EU-database registration; access for the agency and
            independent auditors to the model and its logs in a format that cannot run code;
            support for explanations to parents; vendor liability for damages from defects;
            data and model escrow and an exit plan. Use the MCC-AI high-risk clauses as the
            base of the contract.
            """,
            "recommendation",
            4,
        ),
        task(
            """
            ## 7. Present to the board (4 points, graded by your trainer)

            Present your recommendation to the procurement board (your trainer and the other
            teams) in 10 minutes, followed by 5 minutes of questions: the case, what you
            measured and why, the impact assessment's main risks, your recommendation and
            its conditions. Every team member speaks. Bring `model-card.json` and one or two
            of the plots above; no other slides are needed.
            ### BEGIN MARK SCHEME
            Evidence first (figures by group, the proxy probe, accuracy versus selecting
            nobody); a clear go / no-go; conditions that are verifiable in a contract; the
            team answers questions on label bias and on Art. 27; all members contribute.
            ### END MARK SCHEME
            """,
            "presentation",
            4,
        ),
    ]


def main():
    """Write the vendor files (if needed) and the source notebook."""
    LAB.mkdir(parents=True, exist_ok=True)
    model_path = LAB / MODEL_FILE
    if "--retrain" in sys.argv or not model_path.is_file():
        # the card quotes the vendor's figures for this very model: written together
        model, claims = train_vendor_model()
        buf = io.BytesIO()
        joblib.dump(model, buf)
        model_path.write_bytes(buf.getvalue())
        (LAB / CARD_FILE).write_text(vendor_card(claims) + "\n", encoding="utf-8")
        print("trained", model_path, claims)

    (LAB / SCHEMA_FILE).write_text(json.dumps(SCHEMA, indent=2) + "\n", encoding="utf-8")
    nb = nbformat.v4.new_notebook(cells=cells())
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for i, cell in enumerate(nb.cells):
        cell.id = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell-{i:02d}"
    nbformat.validate(nb)
    out = LAB / "procurement-capstone.ipynb"
    nbformat.write(nb, str(out))
    print("wrote", out)


if __name__ == "__main__":
    main()
