"""The demo course's finished use case (``ai4scale up`` seeds it): every step really taken."""

from __future__ import annotations

import json
import re
import zipfile

import pytest
from ai4scale.hub.course import Course, CourseConfig
from ai4scale.hub.course._people import Person
from ai4scale.hub.usecase._demo import DEMO_TEAM, DEMO_USECASE, demo_table, seed_demo_usecase
from ai4scale.hub.usecase._scan import scan_text
from ai4scale.hub.usecase._store import UseCaseStore
from stdnum.nl import bsn

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


@pytest.fixture
def course(tmp_path):
    config = CourseConfig(course_dir=str(tmp_path / "course"), labs_dir=str(tmp_path / "labs"))
    c = Course(config)
    yield c
    c.close()


def test_the_demo_table_carries_personal_data_to_catch():
    df = demo_table(n_rows=50)
    assert all(bsn.is_valid(v) for v in df["bsn"])
    assert df["email"].str.contains("@").all()


def test_the_demo_use_case_is_finished_and_seeded_once(course):
    summary = seed_demo_usecase(course)
    assert DEMO_USECASE in summary and "dossier" in summary
    store = UseCaseStore(course)
    anna = Person("anna", frozenset({"learners", f"team-{DEMO_TEAM}"}))
    case = store.get(anna, DEMO_USECASE)
    assert case["team"] == DEMO_TEAM and case["fields"]["ai_act_area"] == "5a"
    (table,) = case["datasets"]
    assert table["status"] == "ready"
    findings = {f["column"]: f["resolution"]["action"] for f in table["state"]["findings"]}
    assert findings["bsn"] == "pseudonymise" and findings["email"] == "drop"
    assert case["results"]["notebook_sha256"]
    answers = store.answers(anna, DEMO_USECASE)
    assert answers["what.bias"][0]["cites"], answers["what.bias"]
    # the dossier is in the use case's folder and holds no identifier
    folder = course.path("usecases", DEMO_USECASE, "dossier")
    (archive,) = folder.glob("*.zip")
    with zipfile.ZipFile(archive) as z:
        for name in z.namelist():
            text = z.read(name).decode("utf-8", "replace")
            assert not scan_text(text), name
            assert "@example.nl" not in text, name
            assert not re.search(r"parent\d+@", text), name
        results = json.loads(z.read(next(n for n in z.namelist() if n.endswith(".json"))))
    assert results
    # run again: found and left as it is
    assert "present" in seed_demo_usecase(course)
    assert len(store.versions(anna, DEMO_USECASE)) == 1
