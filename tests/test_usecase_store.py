"""The use-case store without a hub: the gradebook migration, versions, who may act, models.

The live-hub API tests are in test_usecase_api.py; here the library layer
runs on a real SQLite gradebook and a real service directory.
"""

from __future__ import annotations

import hashlib
import os
import stat

import pytest
from ai4scale.grading.gradebook import Gradebook
from ai4scale.hub.course import BadRequest, Conflict, Course, CourseConfig, Forbidden, NotFound
from ai4scale.hub.course._people import Person
from ai4scale.hub.usecase._store import UseCaseStore, may_access
from sqlalchemy import inspect, text

TOM = Person("tom", frozenset({"learners", "team-t1"}))
TARA = Person("tara", frozenset({"learners", "team-t1"}))
UMA = Person("uma", frozenset({"learners", "team-t2"}))
THEO = Person("theo", frozenset({"learners"}))
TINA = Person("tina", frozenset({"instructors"}))
WORKSPACE = Person("team-t1", frozenset({"team-workspaces"}))
#: A 1x1 PNG, base64: the form figures travel in.
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGA"
    "hKmMIQAAAABJRU5ErkJggg=="
)
FIELDS = {
    "title": "Benefit check",
    "administration": "Municipality of Example",
    "decision": "Which applications get a second look",
    "affected": "Applicants for housing benefit",
    "legal_basis": "Social Support Act, art. 3",
    "ai_act_area": "5a",
}


@pytest.fixture
def course(tmp_path):
    config = CourseConfig(course_dir=str(tmp_path / "course"), labs_dir=str(tmp_path / "labs"))
    c = Course(config)
    yield c
    c.close()


@pytest.fixture
def store(course):
    return UseCaseStore(course)


#: A course's rows as an older schema holds them, written in SQL (the models are newer).
OLD_ROWS = [
    "INSERT INTO courses (id, code, title) VALUES (1, 'default', '')",
    "INSERT INTO labs (id, slug, course_id, title) VALUES (1, 'lab-1', 1, 'Lab one')",
    "INSERT INTO notebooks (id, lab_id, name, position) VALUES (1, 1, 'lab.ipynb', 0)",
    "INSERT INTO items (id, notebook_id, grade_id, points, kind, task, position)"
    " VALUES (1, 1, 'q1', 2, 'auto', 0, 0)",
    "INSERT INTO learners (id, username, full_name) VALUES (1, 'tom', 'Tom Tester')",
    "INSERT INTO teams (id, name) VALUES (1, 't1')",
    "INSERT INTO team_members (team_id, learner_id) VALUES (1, 1)",
    "INSERT INTO releases (id, lab_id, group_name, released_at, released_by)"
    " VALUES (1, 1, 'learners', '2026-01-05 09:00:00+00:00', 'tina')",
]


@pytest.mark.parametrize("old", ["0002", "0003"])
def test_an_existing_gradebook_migrates_to_use_cases_with_nothing_lost(tmp_path, old):
    url = f"sqlite:///{tmp_path / 'gb.sqlite'}"
    with Gradebook(url) as gb:
        gb.upgrade(old)
        with gb.engine.begin() as conn:
            for statement in OLD_ROWS:
                conn.execute(text(statement))
        assert ("usecases" in inspect(gb.engine).get_table_names()) == (old == "0003")
    with Gradebook(url) as gb:
        gb.upgrade()
        assert gb.current_revision() == "0004"
        tables = set(inspect(gb.engine).get_table_names())
        assert {
            "usecases",
            "usecase_versions",
            "usecase_datasets",
            "usecase_models",
            "usecase_results",
            "usecase_answers",
            "usecase_comments",
        } <= tables
        with gb.engine.connect() as conn:
            assert conn.execute(text("SELECT slug FROM labs")).scalars().all() == ["lab-1"]
            assert conn.execute(text("SELECT grade_id FROM items")).scalars().all() == ["q1"]
            assert conn.execute(text("SELECT name FROM teams")).scalars().all() == ["t1"]
            assert conn.execute(text("SELECT username FROM learners")).scalars().all() == ["tom"]
        # 0004: the old release is a guided one, nothing is archived.
        assert [r.track for r in gb.releases("lab-1")] == ["guided"]
        assert gb.archived() == {"labs": [], "learners": []}
        # And back: going down to 0003 keeps every row too.
        from ai4scale.grading.gradebook import alembic_config
        from alembic import command

        command.downgrade(alembic_config(gb.engine), "0003")
        with gb.engine.connect() as conn:
            assert conn.execute(text("SELECT grade_id FROM items")).scalars().all() == ["q1"]
            assert conn.execute(text("SELECT count(*) FROM releases")).scalar() == 1


def test_create_update_versions_and_list(store):
    uc = store.create(TOM, FIELDS)
    assert uc["id"] == "benefit-check" and uc["team"] == "t1" and uc["version"] == 1
    assert uc["fields"]["ai_act_area"] == "5a" and uc["created_by"] == "tom"
    # The same title again gets a free id; an id given and taken is refused.
    assert store.create(TARA, FIELDS)["id"] == "benefit-check-2"
    with pytest.raises(Conflict):
        store.create(TARA, FIELDS | {"id": "benefit-check"})
    # Every change is a new version; the old fields stay readable.
    uc = store.update(TARA, "benefit-check", {"decision": "Which applications are checked"})
    assert uc["version"] == 2 and uc["fields"]["title"] == "Benefit check"
    assert (
        store.update(TARA, "benefit-check", {"decision": uc["fields"]["decision"]})["version"] == 2
    )  # nothing changed: no new version
    versions = store.versions(TOM, "benefit-check")
    assert [(v["version"], v["author"]) for v in versions] == [(1, "tom"), (2, "tara")]
    assert versions[0]["fields"]["decision"] == FIELDS["decision"]
    # Lists: the team sees its own, another team nothing, the instructor all.
    assert [u["id"] for u in store.list(TOM)] == ["benefit-check", "benefit-check-2"]
    assert [u["id"] for u in store.list(WORKSPACE)] == ["benefit-check", "benefit-check-2"]
    assert store.list(UMA) == [] and store.list(THEO) == []
    assert len(store.list(TINA)) == 2


def test_bad_fields_are_refused_with_a_reason(store):
    with pytest.raises(BadRequest, match="title"):
        store.create(TOM, FIELDS | {"title": ""})
    with pytest.raises(BadRequest, match="Annex III"):
        store.create(TOM, FIELDS | {"ai_act_area": "9z"})
    with pytest.raises(BadRequest, match="not high-risk"):
        store.create(TOM, FIELDS | {"ai_act_area": "not-high-risk"})
    with pytest.raises(BadRequest, match="unknown field"):
        store.create(TOM, FIELDS | {"owner": "x"})
    with pytest.raises(BadRequest, match="use case id"):
        store.create(TOM, FIELDS | {"id": "../x"})
    with pytest.raises(BadRequest, match="only members of a team"):
        store.create(THEO, FIELDS)
    with pytest.raises(Forbidden):
        store.create(TOM, FIELDS | {"team": "t2"})
    uc = store.create(TINA, FIELDS | {"team": "t2", "id": "questionnaire-x"})
    assert uc["team"] == "t2" and uc["created_by"] == "tina"
    assert store.create(TINA, FIELDS | {"team": "t2", "title": "Questionnaire"})["id"] == (
        "questionnaire-2"
    )


def test_only_the_team_its_workspace_and_instructors_reach_a_use_case(store):
    uc = store.create(TOM, FIELDS)["id"]
    assert may_access(WORKSPACE, "t1") and not may_access(WORKSPACE, "t2")
    for person in (TOM, TARA, WORKSPACE, TINA):
        assert store.get(person, uc)["id"] == uc
    for person in (UMA, THEO):
        for call in (
            lambda p: store.get(p, uc),
            lambda p: store.versions(p, uc),
            lambda p: store.update(p, uc, {"title": "stolen"}),
            lambda p: store.answer(p, uc, "why.problem", "x"),
            lambda p: store.answers(p, uc),
            lambda p: store.save_results(p, uc, {}, "0" * 64),
            lambda p: store.model_file(p, uc, "m"),
        ):
            with pytest.raises(Forbidden):
                call(person)
    assert store.get(TINA, uc)["fields"]["title"] == "Benefit check"  # nothing changed
    # An unknown id: 404 for an instructor, 403 for others (ids are not probed).
    with pytest.raises(NotFound):
        store.get(TINA, "no-such-case")
    with pytest.raises(Forbidden):
        store.get(TOM, "no-such-case")


def test_key_file_is_root_only_and_never_in_a_snapshot(store, course):
    uc = store.create(TOM, FIELDS)["id"]
    key_file = course.path("usecases", uc, "pseudonym.key")
    key = key_file.read_bytes()
    assert len(key) == 32 and store.key(uc) == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(course.path("usecases").stat().st_mode) == 0o700
    snap = store.snapshot(uc)
    assert snap["id"] == uc and snap["team"] == "t1" and snap["version"] == 1
    assert key.hex() not in repr(snap) and repr(key) not in repr(snap)


def test_a_pickled_model_is_refused_with_the_reason(store, tmp_path):
    uc = store.create(TOM, FIELDS)["id"]
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(b"\x80\x04K\x01.")
    for name in ("model.pkl", "model.joblib", "model.pickle"):
        with pytest.raises(BadRequest, match="can run any program"):
            store.receive_model(TOM, uc, "m", pkl, name)
    with pytest.raises(BadRequest, match="skops"):
        store.receive_model(TOM, uc, "m", pkl, "model.bin")
    # Renamed to .skops, the pickle is not a skops file: refused, nothing stored.
    with pytest.raises(BadRequest, match="not a model saved with skops"):
        store.receive_model(TOM, uc, "m", pkl, "model.skops")
    assert store.get(TOM, uc)["models"] == []
    with pytest.raises(NotFound):
        store.model_file(TOM, uc, "m")


def _double(x):
    """A function of the test's own: skops cannot know it, so it is an untrusted type."""
    return 2 * x


def test_skops_model_untrusted_types_recorded_and_approved_by_an_instructor(store, tmp_path):
    import numpy as np
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    model = make_pipeline(FunctionTransformer(_double), StandardScaler(), LogisticRegression()).fit(
        X, [0, 1, 1, 0]
    )
    path = tmp_path / "model.skops"
    sio.dump(model, path)
    uc = store.create(TOM, FIELDS)["id"]
    m = store.receive_model(TARA, uc, "pipeline", path, "model.skops")
    assert m["kind"] == "skops" and m["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert m["untrusted_types"] == sorted(sio.get_untrusted_types(file=path))
    assert m["untrusted_types"] and m["needs_approval"] and m["approved_by"] is None
    with pytest.raises(Forbidden):
        store.approve_model(TOM, uc, "pipeline")
    m = store.approve_model(TINA, uc, "pipeline")
    assert m["approved_by"] == "tina" and not m["needs_approval"]
    kept, filename = store.model_file(WORKSPACE, uc, "pipeline")
    assert kept.read_bytes() == path.read_bytes() and filename == "model.skops"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    snap = store.snapshot(uc)
    assert snap["models"][0]["untrusted_types"] == m["untrusted_types"]
    assert snap["models"][0]["approved_by"] == "tina"


def test_onnx_model_checked_by_running_it_and_scores_without_a_file(store, tmp_path):
    import numpy as np
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]], dtype=np.float32)
    onx = to_onnx(LogisticRegression().fit(X, [0, 1, 1, 0]), X[:1])
    path = tmp_path / "model.onnx"
    path.write_bytes(onx.SerializeToString())
    uc = store.create(TOM, FIELDS)["id"]
    m = store.receive_model(TOM, uc, "onnx", path, "model.onnx")
    assert m["kind"] == "onnx" and m["untrusted_types"] == [] and not m["needs_approval"]
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx model")
    with pytest.raises(BadRequest, match="cannot be run"):
        store.receive_model(TOM, uc, "broken", broken, "broken.onnx")
    s = store.register_model(TOM, uc, "system", "scores", column="risk_score")
    assert s["kind"] == "scores" and s["column"] == "risk_score"
    with pytest.raises(BadRequest, match="column"):
        store.register_model(TOM, uc, "system2", "scores")
    assert [x["name"] for x in store.get(TOM, uc)["models"]] == ["onnx", "system"]


def test_answers_every_save_a_row_with_checked_citations_and_instructor_comments(store):
    uc = store.create(TOM, FIELDS)["id"]
    payload = {
        "tables": {"performance.by_group": [{"group": "F", "accuracy": 0.8}]},
        "figures": {"disparities.figure": PNG},
    }
    r = store.save_results(WORKSPACE, uc, payload, "a" * 64)
    assert r["author"] == "team-t1"
    with pytest.raises(BadRequest, match="64"):
        store.save_results(TOM, uc, payload, "not-a-digest")
    with pytest.raises(BadRequest, match="not a PNG"):
        store.save_results(TOM, uc, {"figures": {"x.figure": "aGVsbG8="}}, "b" * 64)
    store.answer(TOM, uc, "why.problem", "First try", [])
    store.answer(TARA, uc, "why.problem", "Better", ["disparities.figure"])
    with pytest.raises(BadRequest, match="explain.figure"):
        store.answer(TARA, uc, "why.problem", "x", ["explain.figure"])
    with pytest.raises(BadRequest, match="empty"):
        store.answer(TARA, uc, "why.problem", "  ", [])
    with pytest.raises(NotFound):
        store.answer(TARA, uc, "why.no_such_question", "x")
    answers = store.answers(TOM, uc)["why.problem"]
    assert [(a["text"], a["author"], a["cites"]) for a in answers] == [
        ("First try", "tom", []),
        ("Better", "tara", ["disparities.figure"]),
    ]
    with pytest.raises(Forbidden):
        store.comment(TOM, uc, "why.problem", "self-praise")
    store.comment(TINA, uc, "why.problem", "Say who checks the flagged cases.")
    snap = store.snapshot(uc)
    assert snap["answers"]["why.problem"][-1]["text"] == "Better"
    assert snap["comments"]["why.problem"][0]["author"] == "tina"
    assert snap["results"]["notebook_sha256"] == "a" * 64
    assert snap["results"]["payload"] == payload


def test_dataset_and_model_names_with_dot_dot_are_refused(store, tmp_path):
    uc = store.create(TOM, FIELDS)["id"]
    f = tmp_path / "t.csv"
    f.write_text("a;b\n1;2\n")
    for name in ("../evil", "..", "a/b", ".hidden", ""):
        with pytest.raises(BadRequest, match="invalid"):
            store.receive_dataset(TOM, uc, name, f, "t.csv")
        with pytest.raises(BadRequest, match="invalid"):
            store.receive_model(TOM, uc, name, f, "m.onnx")
    assert not any(p.name.startswith("evil") for p in store.folder(uc).rglob("*"))
    assert os.listdir(store.folder(uc)) == ["pseudonym.key"] or set(
        os.listdir(store.folder(uc))
    ) <= {"pseudonym.key", "datasets", "models"}


def test_cli_lists_use_cases_and_exports_the_dossier(tmp_path, capsys):
    import zipfile

    from ai4scale.hub import load_settings

    from ai4scale.cli import main

    config = tmp_path / "ai4scale.toml"
    config.write_text(
        f'[paths]\nstate_dir = "{tmp_path / "state"}"\ndatasets_dir = "{tmp_path}"\n'
        f'[course]\nlabs_dir = "{tmp_path / "labs"}"\nsandbox = "none"\n'
    )
    course = Course.from_settings(load_settings(config))
    try:
        store = UseCaseStore(course)
        uc = store.create(TOM, FIELDS)["id"]
        store.save_results(TOM, uc, {"figures": {"disparities.figure": PNG}}, "c" * 64)
        store.answer(TARA, uc, "why.problem", "Too many files wait.", ["disparities.figure"])
        key = store.key(uc)
    finally:
        course.close()
    assert main(["--config", str(config), "usecase", "list"]) == 0
    assert capsys.readouterr().out.split("\t") == [uc, "t1", "v1", "Benefit check\n"]
    out = tmp_path / "out"
    assert main(["--config", str(config), "usecase", "export", uc, "--out", str(out)]) == 0
    html, zipped = capsys.readouterr().out.split()
    assert "Too many files wait." in open(html, encoding="utf-8").read()
    with zipfile.ZipFile(zipped) as z:
        blob = b"".join(z.read(n) for n in z.namelist())
    assert key not in blob and key.hex().encode() not in blob
    assert main(["--config", str(config), "usecase", "export", "no-such-case"]) == 2


#: A table as a municipality exports it: ';' separators, decimal commas, e-mails.
CSV = "aanvraag;geslacht;leeftijd;inkomen;email;toegekend\n" + "".join(
    f"{i};{'MV'[i % 2]};{20 + i % 40};{1000 + i},{i % 10}0;p{i}@example.org;{i % 3 == 0:d}\n"
    for i in range(60)
)
ROLES = {
    "aanvraag": "identifier",
    "geslacht": {"role": "protected", "kind": "sex"},
    "leeftijd": {"role": "protected", "kind": "age"},
    "inkomen": "feature",
    "email": "feature",
    "toegekend": "target",
}


def test_dataset_through_the_intake_blocked_until_resolved(store, tmp_path):
    import pandas as pd

    uc = store.create(TOM, FIELDS)["id"]
    src = tmp_path / "upload"
    src.write_text(CSV, encoding="utf-8")
    d = store.receive_dataset(TOM, uc, "cases", src, "aanvragen.csv")
    # Before the scan, the page shows the first rows; a snapshot never holds them.
    assert "p1@example.org" in repr(d["state"]["detected"]["preview"])
    assert "p1@example.org" not in repr(store.snapshot(uc))
    assert store.snapshot(uc)["datasets"][0]["format"]["separator"] == ";"
    assert d["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert d["state"]["detected"]["separator"] == ";" and d["status"] == "received"
    d = store.confirm_format(TARA, uc, "cases", {"separator": ";", "decimal": ","})
    with pytest.raises(Conflict, match="not ready"):
        store.table_path(TOM, uc, "cases")
    d = store.set_roles(TOM, uc, "cases", ROLES)
    assert "email" in {f["column"] for f in d["state"]["findings"]}
    assert d["status"] != "ready" and d["state"]["blocking"]
    with pytest.raises(Conflict, match="not ready"):
        store.table_path(TOM, uc, "cases")
    d = store.resolve(TOM, uc, "cases", "email", "drop")
    for f in d["state"]["findings"]:
        if not f.get("resolution"):  # small groups of sex and age: kept, with the reason
            reason = "Needed to measure disparities; the table stays in the service."
            d = store.resolve(TOM, uc, "cases", f["column"], "confirm", reason)
    assert d["status"] == "ready" and d["state"]["ready"]
    table = pd.read_parquet(store.table_path(WORKSPACE, uc, "cases"))
    assert "email" not in table.columns and len(table) == 60
    assert table["inkomen"].dtype.kind == "f"
    sheet = store.datasheet(TARA, uc, "cases")
    assert sheet["edited"] is False and sheet["datasheet"]
    store.save_datasheet(TARA, uc, "cases", {"motivation": "Checked by the team."})
    sheet = store.datasheet(TOM, uc, "cases")
    assert sheet["edited"] and sheet["datasheet"]["motivation"] == "Checked by the team."
    snap = store.snapshot(uc)
    assert snap["datasets"][0]["datasheet"]["motivation"] == "Checked by the team."
    assert snap["datasets"][0]["roles"] and "p1@example.org" not in repr(snap)
    # A file that is not a table: refused, the ready table of that name stays as it was.
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    with pytest.raises(BadRequest):
        store.receive_dataset(TOM, uc, "cases", bad, "cases.csv")
    assert store.get(TOM, uc)["datasets"][0]["status"] == "ready"
    assert store.table_path(TOM, uc, "cases").is_file()
    with pytest.raises(BadRequest):
        store.receive_dataset(TOM, uc, "other", bad, "other.csv")
    assert [x["name"] for x in store.get(TOM, uc)["datasets"]] == ["cases"]
    assert sorted(os.listdir(store.folder(uc, "datasets"))) == ["cases"]


def test_upload_limit_from_the_settings_file(tmp_path):
    from ai4scale.hub import load_settings
    from ai4scale.hub._settings import SettingsError

    config = tmp_path / "ai4scale.toml"
    config.write_text(f'[paths]\nstate_dir = "{tmp_path}"\n')
    assert CourseConfig.from_settings(load_settings(config)).usecase_max_upload_bytes == (
        200_000_000
    )
    config.write_text(f'[paths]\nstate_dir = "{tmp_path}"\n[course]\nusecase_max_upload_mb = 5\n')
    assert CourseConfig.from_settings(load_settings(config)).usecase_max_upload_bytes == 5_000_000
    config.write_text(f'[paths]\nstate_dir = "{tmp_path}"\n[course]\nusecase_max_upload_mb = 0\n')
    with pytest.raises(SettingsError, match="usecase_max_upload_mb"):
        load_settings(config)


def test_rates_in_results_are_not_taken_for_identity_numbers():
    """A results file's rates (0.3912439614: 11 digits, a valid PESEL check) pass the scan."""
    from ai4scale.hub.usecase._scan import scan_text
    from stdnum.pl import pesel

    assert pesel.is_valid("03912439614")  # the digits of the rate
    text = '{"false_positive_rate": 0.3912439614, "selection_rate_difference": 0.0120910384}'
    assert scan_text(text) == []
    # A PESEL written as such is still found, also beside a rate.
    hits = scan_text('{"rate": 0.3912439614, "note": "applicant 03912439614"}')
    assert [h["kind"] for h in hits] == ["national_id:pl"]
