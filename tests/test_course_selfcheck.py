"""The course service grades only where the lab's reference solution gets full marks.

On the live hub (the course service as root, grading in the sandbox):

- a lab whose setup cell fails in the sandbox (it reads a file of the host's
  /tmp, which the sandbox's private /tmp hides, as the checkout under /tmp of
  issue 10 was hidden) is refused at release, and its autograding job ends
  ``failed`` naming the cell with its traceback, with nothing recorded, and
  "Check my work" tells the learner, in plain words, that the lab failed;
- fixed, the same lab grades, and the job and the submission say the sandbox
  graded them;
- the reference solution of a real lab (02, real data) gets every autograded
  point through a learner's fetch, submit, collect and autograde.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import nbformat
import pytest
from ai4scale.grading.autograde import SETUP_FAILED_MESSAGE
from ai4scale.grading.autograde._selfcheck import reference_notebook
from ai4scale.grading.labformat import read_source_notebook
from coursetest import (
    answered,
    api,
    conforms,
    make_lab,
    person,
    put_file,
    read_file,
    wait_job,
)

pytestmark = pytest.mark.hub

NB = "approval-rates.ipynb"


def _labs_dir(hub):
    return Path(hub.settings["course"]["labs_dir"])


@pytest.fixture
def host_tmp_file():
    """A file in the host's /tmp: the course service sees it, the sandbox does not."""
    folder = Path(tempfile.mkdtemp(prefix="ai4scale-selfcheck-"))
    marker = folder / "prepared.txt"
    marker.write_text("prepared\n")
    try:
        yield marker
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _set_setup_line(nb_path, line):
    """Put ``line`` first in the lab's setup cell (``data``); return the original text."""
    original = nb_path.read_text()
    nb = nbformat.reads(original, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "data")
    cell.source = f"{line}\n{cell.source}"
    nbformat.write(nb, nb_path)
    return original


def _submit(hub, learner, lab, nb_name, make):
    """Fetch ``lab`` as ``learner``, write ``make(fetched bytes)`` and submit it."""
    me = api(hub, learner, server=True)
    token = person(hub, learner)
    r = me.post(f"/labs/{lab}/fetch")
    assert r.status_code == 200, r.text
    put_file(
        hub,
        token,
        learner,
        f"{lab}/{nb_name}",
        make(read_file(hub, token, learner, f"{lab}/{nb_name}")),
    )
    r = me.post(f"/labs/{lab}/submit")
    assert r.status_code == 201, r.text
    return r.json()


def test_lab_failing_in_the_sandbox_is_refused_and_nothing_is_recorded(hub, host_tmp_file):
    tina = api(hub, "tina")
    lab = make_lab(hub, "selfcheck-intro")
    source = _labs_dir(hub) / lab / NB
    r = tina.post("/instructor/releases", json={"lab": lab})
    assert r.status_code == 201, r.text  # the reference passes in the sandbox

    _submit(hub, "tom", lab, NB, answered)
    assert tina.post(f"/instructor/labs/{lab}/collect").json()["owners"] == ["tom"]

    # The lab changes: its setup cell now needs a file the sandbox cannot see.
    original = _set_setup_line(source, f"assert open({str(host_tmp_file)!r}).read()")
    try:
        job = wait_job(tina, tina.post(f"/instructor/labs/{lab}/autograde").json()["job"])
        conforms(job, "Job")
        assert job["state"] == "failed" and job["done"] == 0, job
        assert job["executor"] == "sandbox"
        check = job["selfcheck"]
        assert check["passed"] is False and check["executor"] == "sandbox"
        failure = check["failure"]
        assert (failure["notebook"], failure["cell"], failure["grade_id"]) == (NB, 1, "data")
        assert failure["error"].startswith("FileNotFoundError")
        assert str(host_tmp_file) in failure["output"]  # the cell's own traceback
        (error,) = job["errors"]
        assert "grading refused, nothing recorded" in error and "cell 1 (data)" in error
        assert "NameError" not in error.split("\n- ")[0]

        # Nothing recorded: the collected submission is still ungraded.
        sub = conforms(
            tina.get(f"/instructor/labs/{lab}/submissions/tom").json(), "OwnerSubmission"
        )
        assert sub["status"] == "submitted", sub
        assert all(i["auto_score"] is None for i in sub["items"]), sub["items"]

        # "Check my work" tells the learner it is the lab's failure, in plain words.
        r = api(hub, "tom").post(f"/labs/{lab}/check")
        assert r.status_code == 200, r.text
        checked = conforms(r.json(), "CheckResult")
        assert checked["items"] and all(
            i["message"] == SETUP_FAILED_MESSAGE and not i["passed"] for i in checked["items"]
        ), checked
        assert checked["errors"] == [f"{NB}: {SETUP_FAILED_MESSAGE}"]
        assert str(host_tmp_file) not in r.text and "Error" not in r.text
        # ... and the trainer is told, on the lab's page, with the cell and its traceback.
        labs = conforms(tina.get("/instructor/labs").json(), ["InstructorLab"])
        alert = next(x for x in labs if x["id"] == lab)["setup_alert"]
        assert (alert["owner"], alert["cell"], alert["grade_id"]) == ("tom", 1, "data")
        assert alert["executor"] == "sandbox" and str(host_tmp_file) in alert["output"]

        # Releasing it again (its files changed) is refused the same way.
        r = tina.post("/instructor/releases", json={"lab": lab})
        assert r.status_code == 409, r.text
        assert "release refused" in r.json()["error"] and "FileNotFoundError" in r.json()["error"]
        assert str(host_tmp_file) in r.json()["error"]
    finally:
        source.write_text(original)

    # Fixed: graded, in the sandbox.
    job = wait_job(tina, tina.post(f"/instructor/labs/{lab}/autograde").json()["job"])
    assert job["state"] == "done" and job["done"] == 1, job
    assert job["executor"] == "sandbox" and job["selfcheck"]["passed"] is True
    assert job["selfcheck"]["cached"] is False  # the learner's failure made it check again
    labs = tina.get("/instructor/labs").json()
    assert next(x for x in labs if x["id"] == lab)["setup_alert"] is None
    sub = tina.get(f"/instructor/labs/{lab}/submissions/tom").json()
    assert sub["status"] == "graded" and sub["executor"] == "sandbox" and sub["setup_failed"] == {}
    items = {i["grade_id"]: i for i in sub["items"]}
    assert items["test_disparity_ratio"]["auto_score"] == 2.0
    assert items["test_disparity_ratio"]["status"] == "passed"


def test_reference_solution_of_a_real_lab_gets_full_marks_in_the_sandbox(hub):
    lab, nb_name = "02-disaggregated-audit", "disaggregated-audit.ipynb"
    tina = api(hub, "tina")
    r = tina.post("/instructor/releases", json={"lab": lab})
    assert r.status_code == 201, r.text
    source = read_source_notebook(_labs_dir(hub) / lab / nb_name)
    reference = nbformat.writes(reference_notebook(source, name=nb_name)).encode()
    _submit(hub, "theo", lab, nb_name, lambda fetched: reference)
    assert "theo" in tina.post(f"/instructor/labs/{lab}/collect").json()["owners"]
    job = wait_job(tina, tina.post(f"/instructor/labs/{lab}/autograde").json()["job"])
    assert job["state"] == "done" and job["done"] >= 1, job
    assert job["executor"] == "sandbox" and job["selfcheck"]["passed"] is True
    sub = tina.get(f"/instructor/labs/{lab}/submissions/theo").json()
    assert sub["status"] == "graded" and sub["executor"] == "sandbox"
    auto = [i for i in sub["items"] if i["kind"] == "auto"]
    assert auto and all(i["auto_score"] == i["max_points"] for i in auto), auto
    assert sum(i["auto_score"] for i in auto) == 9.0
