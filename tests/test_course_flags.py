"""What the grader found reaches the right people, through the live course service.

- An honest learner's messy notebook (blank cells from Shift+Enter, a
  scratch cell with an error, a cell magic) gets full marks in "Check my
  work" and in autograding, with no flag.
- Answers that are values made to equal anything (a float whose == is
  always true) score zero; the learner reads why in plain words, and the
  instructor's pages show the flag with the guard's reason.
"""

from __future__ import annotations

import csv
import io

import nbformat
import pytest
from ai4scale.grading.feedback import LYING_VALUES_MESSAGE
from coursetest import answered, api, conforms, make_lab, person, put_file, read_file, wait_job

pytestmark = pytest.mark.hub

NB = "approval-rates.ipynb"
RIGHT = {
    "approval_rates": (
        'def approval_rates(df):\n    return df.groupby("district")["approved"].mean()\n'
    ),
    "disparity_ratio": "def disparity_ratio(rates):\n    return rates.min() / rates.max()\n",
}
LIES = {
    "approval_rates": (
        "import pandas as pd\n"
        "class Share(float):\n"
        "    __eq__ = lambda self, other: True\n"
        "    __sub__ = lambda self, other: 0.0\n"
        "    __abs__ = lambda self: 0.0\n"
        "def approval_rates(df):\n"
        "    return pd.Series({d: Share(0.5) for d in df['district'].unique()}, dtype=object)\n"
    ),
    "disparity_ratio": "def disparity_ratio(rates):\n    return Share(1.0)\n",
}


def _messy(fetched):
    nb = nbformat.reads(answered(fetched, RIGHT).decode(), as_version=4)
    nb.cells.insert(3, nbformat.v4.new_code_cell("prnt('a typo')"))
    nb.cells.insert(4, nbformat.v4.new_code_cell("   \n"))
    nb.cells.append(nbformat.v4.new_code_cell(""))  # Shift+Enter on the last cell
    return nbformat.writes(nb).encode()


def _hand_in(hub, learner, lab, make):
    me = api(hub, learner, server=True)
    token = person(hub, learner)
    assert me.post(f"/labs/{lab}/fetch").status_code == 200
    path = f"{lab}/{NB}"
    put_file(hub, token, learner, path, make(read_file(hub, token, learner, path)))
    checked = me.post(f"/labs/{lab}/check")
    assert checked.status_code == 200, checked.text
    assert me.post(f"/labs/{lab}/submit").status_code == 201
    return conforms(checked.json(), "CheckResult")


def test_honest_mess_passes_and_lies_are_named(hub):
    tina = api(hub, "tina")
    lab = make_lab(hub, "flags-intro")
    assert tina.post("/instructor/releases", json={"lab": lab}).status_code == 201

    honest = _hand_in(hub, "tom", lab, _messy)
    assert honest["errors"] == [] and all(i["passed"] for i in honest["items"]), honest
    lying = _hand_in(hub, "theo", lab, lambda fetched: answered(fetched, LIES))
    assert lying["errors"] == [LYING_VALUES_MESSAGE], lying
    assert all(i["points"] == 0 for i in lying["items"]), lying

    assert set(tina.post(f"/instructor/labs/{lab}/collect").json()["owners"]) >= {"tom", "theo"}
    job = wait_job(tina, tina.post(f"/instructor/labs/{lab}/autograde").json()["job"])
    assert job["state"] == "done" and job["executor"] == "sandbox", job

    rows = {
        r["owner"]: r
        for r in conforms(tina.get(f"/instructor/labs/{lab}/status").json(), ["OwnerStatus"])
    }
    assert (rows["tom"]["tampered"], rows["tom"]["review"]) == (False, False)
    assert rows["theo"]["tampered"] is True

    tom = conforms(tina.get(f"/instructor/labs/{lab}/submissions/tom").json(), "OwnerSubmission")
    assert tom["tampered"] == "" and tom["review"] == {}
    auto = [i for i in tom["items"] if i["kind"] == "auto"]
    assert auto and all(i["auto_score"] == i["max_points"] for i in auto), auto

    theo = conforms(tina.get(f"/instructor/labs/{lab}/submissions/theo").json(), "OwnerSubmission")
    assert "the learner's class Share (a float) changes __eq__" in theo["tampered"]
    assert all(i["auto_score"] == 0 for i in theo["items"] if i["kind"] == "auto")

    # the CSV a trainer takes to the registry says it too, beside the total
    text = tina.get("/instructor/gradebook.csv", params={"lab": lab}).text
    grades = {r["username"]: r for r in csv.DictReader(io.StringIO(text))}
    assert grades["tom"][f"{lab}:flags"] == ""
    assert "tampered" in grades["theo"][f"{lab}:flags"]
    assert "values that lie" in grades["theo"][f"{lab}:flags"]
