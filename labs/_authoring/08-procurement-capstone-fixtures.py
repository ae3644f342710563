"""Write tests/lab_fixtures/08-procurement-capstone.yaml from the reference cells.

The wrong answers are edits of the reference solution, so rerun this after changing it:
    /opt/ai4scale/venv/bin/python labs/_authoring/08-procurement-capstone-fixtures.py
"""

from pathlib import Path

import nbformat
import yaml

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "labs" / "08-procurement-capstone" / "procurement-capstone.ipynb"
nb = nbformat.read(str(SRC), 4)
cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells}


def strip_markers(src):
    return "\n".join(line for line in src.splitlines() if "### " not in line) + "\n"


card = strip_markers(cells["model_card"])
figs = strip_markers(cells["compute_figures"])

cases = [
    {
        "name": "figures by group with the groups swapped (dual and not dual exchanged)",
        "notebook": "procurement-capstone.ipynb",
        "replace": {
            "compute_figures": figs.replace(
                '"dual", "not_dual")\n', '"not_dual", "dual")\n', 1
            ),
        },
        "zero": ["test_compute_figures", "test_card_figures"],
    },
    {
        "name": "error rates measured against the old flag instead of the audit finding",
        "notebook": "procurement-capstone.ipynb",
        "replace": {
            "compute_figures": figs.replace(
                'truth = data["irregularity"]', 'truth = data["flagged"]'
            ),
        },
        "zero": ["test_compute_figures"],
    },
    {
        "name": "false-positive rate computed as the share of selections that are wrong",
        "notebook": "procurement-capstone.ipynb",
        "replace": {
            "compute_figures": figs.replace(
                '"false_positive_rate": false_positive_rate,',
                '"false_positive_rate": lambda y, p: float(np.mean(~y[p])) if p.any() else 0.0,',
            ),
        },
        "zero": ["test_compute_figures", "test_card_figures"],
    },
    {
        "name": "model card without caveats and without the protected group among the factors",
        "notebook": "procurement-capstone.ipynb",
        "replace": {
            "model_card": card.replace(
                '"groups": ["dual_nationality", "single_parent", "household_income"]',
                '"groups": ["nationality", "single_parent", "household_income"]',
            )
            + 'del model_card["caveats_and_recommendations"]\n',
        },
        "zero": ["test_card_schema"],
    },
    {
        "name": "model card figures as text with a percent sign",
        "notebook": "procurement-capstone.ipynb",
        "replace": {
            "model_card": card
            + 'model_card["quantitative_analyses"]["accuracy"] = (\n'
            + '    f"{model_card[\'quantitative_analyses\'][\'accuracy\']:.0%}"\n)\n',
        },
        "zero": ["test_card_schema", "test_card_figures"],
    },
    {
        "name": "model card figures measured only on the applications the old system flagged",
        "notebook": "procurement-capstone.ipynb",
        "replace": {
            "model_card": card.replace(
                "compute_figures(vendor_model, applications)",
                'compute_figures(vendor_model, applications[applications["flagged"]])',
            ),
        },
        "zero": ["test_card_figures"],
    },
]

# sanity: every replacement changed something
for case in cases:
    for gid, text in case["replace"].items():
        base = figs if gid == "compute_figures" else card
        assert text != base, case["name"]

header = (
    "# Wrong but plausible answers for labs/08-procurement-capstone: each must score 0 on the\n"
    "# named items (format: see example-intro.yaml). A wrong compute_figures also makes the\n"
    "# card's figures wrong when the card is filled from it, so some cases name both items.\n"
)


class _Literal(str):
    pass


def _repr_literal(dumper, data):
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")


yaml.add_representer(_Literal, _repr_literal)
for case in cases:
    case["replace"] = {k: _Literal(v) for k, v in case["replace"].items()}
out = REPO / "tests" / "lab_fixtures" / "08-procurement-capstone.yaml"
with open(out, "w") as f:
    f.write(header)
    yaml.dump(cases, f, sort_keys=False, width=100, allow_unicode=True)
print("wrote", out)
