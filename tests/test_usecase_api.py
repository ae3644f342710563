"""The use-case REST API on a live hub: who may act, versions, uploads and their limits.

Team ``t1`` (tom, tara) owns the use cases; ``theo`` is put in a second team
``t2`` for this module (hub group ``team-t2``, removed afterwards), ``tread``
is in no team, ``tina`` is the instructor.
"""

from __future__ import annotations

import io
import socket
from pathlib import Path

import pytest
import yaml
from coursetest import api, conforms, person
from hubtest import wait_until

pytestmark = pytest.mark.hub

OPENAPI = Path(__file__).parents[1] / "hub" / "course" / "openapi.yaml"
FIELDS = {
    "title": "Housing benefit second look",
    "administration": "Municipality of Example",
    "decision": "Which applications get a second look",
    "affected": "Applicants for housing benefit",
    "legal_basis": "Social Support Act, art. 3",
    "ai_act_area": "5a",
}
#: ';' separators, decimal commas, an e-mail column: as a municipality exports it.
CSV = "aanvraag;geslacht;inkomen;email;toegekend\n" + "".join(
    f"{i};{'MV'[i % 2]};{1000 + i},{i % 10}0;p{i}@example.org;{i % 3 == 0:d}\n" for i in range(80)
)
ROLES = {
    "aanvraag": "identifier",
    "geslacht": {"role": "protected", "kind": "sex"},
    "inkomen": "feature",
    "email": "feature",
    "toegekend": "target",
}


def uploads_dir(hub):
    return Path(hub.settings["paths"]["state_dir"]) / "course" / "usecases" / ".uploads"


def uploads(hub):
    """The files of uploads being received (none once every request has ended)."""
    folder = uploads_dir(hub)
    return sorted(folder.iterdir()) if folder.exists() else []


def usecase_dir(hub, usecase_id):
    return Path(hub.settings["paths"]["state_dir"]) / "course" / "usecases" / usecase_id


@pytest.fixture(scope="module")
def other_team(hub):
    """theo in team ``t2`` (a hub group made for this module), until the module ends."""
    r = hub.admin("POST", "/groups/team-t2", json={"users": ["theo"]})
    assert r.status_code in (200, 201), r.text
    theo = api(hub, "theo")
    try:
        # The service trusts a person's groups for a few seconds: wait until it sees t2.
        assert wait_until(lambda: theo.get("/me").json()["teams"] == ["team-t2"], timeout=30)
        yield theo
    finally:
        hub.admin("DELETE", "/groups/team-t2")
        wait_until(lambda: theo.get("/me").json()["teams"] == [], timeout=30)


@pytest.fixture(scope="module")
def usecase(hub):
    """A use case of team t1, registered by tom."""
    r = api(hub, "tom").post("/usecases", json=FIELDS)
    assert r.status_code == 201, r.text
    return conforms(r.json(), "UseCase")["id"]


def documented(usecase_id):
    """(method, path) of every documented route of one use case, parameters filled."""
    doc = yaml.safe_load(OPENAPI.read_text())
    values = {"{id}": usecase_id, "{name}": "cases", "{qid}": "why.problem"}
    out = []
    for path, ops in doc["paths"].items():
        if not path.startswith("/usecases/{id}"):
            continue
        for method in ops:
            if method in ("get", "post", "put", "delete", "patch"):
                for key, value in values.items():
                    path = path.replace(key, value)
                out.append((method.upper(), path))
    return out


def test_create_list_get_update_with_versions(hub, usecase):
    tom, tara, tina = api(hub, "tom"), api(hub, "tara"), api(hub, "tina")
    got = conforms(tara.get(f"/usecases/{usecase}").json(), "UseCase")
    assert got["team"] == "t1" and got["version"] == 1 and got["created_by"] == "tom"
    assert got["fields"] == FIELDS | {"not_high_risk_reason": ""}
    r = tara.put(f"/usecases/{usecase}", json={"decision": "Which files are checked first"})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["fields"]["title"] == FIELDS["title"]
    r = tom.put(f"/usecases/{usecase}", json={"ai_act_area": "not-high-risk"})
    assert r.status_code == 400 and "not high-risk" in r.json()["error"]
    versions = conforms(tom.get(f"/usecases/{usecase}/versions").json(), ["UseCaseVersion"])
    assert [(v["version"], v["author"]) for v in versions] == [(1, "tom"), (2, "tara")]
    assert versions[0]["fields"]["decision"] == FIELDS["decision"]
    listed = conforms(tom.get("/usecases").json(), ["UseCaseSummary"])
    assert usecase in [u["id"] for u in listed]
    assert usecase in [u["id"] for u in tina.get("/usecases").json()]
    # A learner in no team cannot register one; a member cannot for another team.
    r = api(hub, "tread").post("/usecases", json=FIELDS)
    assert r.status_code == 400 and "only members of a team" in r.json()["error"]
    r = tom.post("/usecases", json=FIELDS | {"team": "t9"})
    assert r.status_code == 403


def test_another_team_and_no_team_get_403_on_every_route(hub, usecase, other_team):
    routes = documented(usecase)
    assert len(routes) >= 20
    before = api(hub, "tom").get(f"/usecases/{usecase}").json()
    for who, client in (("theo (team t2)", other_team), ("tread (no team)", api(hub, "tread"))):
        for method, path in routes:
            kw = {}
            if method in ("POST", "PUT"):
                if path.endswith("/datasets/cases") or path.endswith("/models/cases"):
                    kw = {"params": {"filename": "cases.csv"}, "data": CSV.encode()}
                else:
                    kw = {"json": {"text": "x", "roles": ROLES, "title": "stolen"}}
            r = client.call(method, path, **kw)
            assert r.status_code == 403, (who, method, path, r.status_code, r.text)
            assert r.json()["error"]
        assert [u["id"] for u in client.get("/usecases").json()] == []
    after = api(hub, "tom").get(f"/usecases/{usecase}").json()
    assert after == before  # nothing was changed or stored by the refused calls
    assert not (usecase_dir(hub, usecase) / "datasets" / "cases").exists()


def test_unknown_ids_404_for_instructors_403_for_others_and_instructors_see_all(hub, usecase):
    tina, tom = api(hub, "tina"), api(hub, "tom")
    assert tina.get(f"/usecases/{usecase}").json()["id"] == usecase
    assert tina.get("/usecases/no-such-case").status_code == 404
    assert tom.get("/usecases/no-such-case").status_code == 403
    r = tina.post("/usecases", json=FIELDS | {"team": "t1", "title": "Instructor's example"})
    assert r.status_code == 201 and r.json()["team"] == "t1" and r.json()["created_by"] == "tina"
    assert r.json()["id"] in [u["id"] for u in tom.get("/usecases").json()]


def test_an_upload_above_a_mebibyte_streams_through_the_proxy(hub, usecase):
    """Bodies above 1 MiB are streamed by the proxy (StreamingProxyHandler in hub/_proxy.py)."""
    big = CSV.encode() + b"".join(
        f"{i};M;{i},50;q{i}@example.org;0\n".encode() for i in range(100, 60_000)
    )
    assert len(big) > 2 << 20
    r = api(hub, "tara").post(
        f"/usecases/{usecase}/datasets/big", params={"filename": "big.csv"}, data=big
    )
    assert r.status_code == 201, r.text[:300]
    assert r.json()["state"]["detected"]["rows"] == 80 + 59_900
    assert uploads(hub) == []


def test_upload_roles_findings_resolve_datasheet_and_table(hub, usecase):
    import pandas as pd

    tom, tara = api(hub, "tom"), api(hub, "tara")
    base = f"/usecases/{usecase}/datasets/cases"
    r = tom.post(base, params={"filename": "aanvragen.csv"}, data=CSV.encode())
    assert r.status_code == 201, r.text
    d = conforms(r.json(), "UseCaseDataset")
    assert d["state"]["detected"]["separator"] == ";" and d["status"] == "received"
    r = tara.put(f"{base}/format", json={"separator": ";", "decimal": ","})
    assert r.status_code == 200, r.text
    assert tom.get(f"{base}/table.parquet").status_code == 409  # not ready yet
    r = tom.put(f"{base}/roles", json={"roles": ROLES})
    assert r.status_code == 200, r.text
    findings = {f["column"]: f for f in r.json()["state"]["findings"]}
    assert findings["email"]["kind"] == "email" and not findings["email"]["resolution"]
    assert "p1@example.org" not in r.text  # examples are masked
    assert tom.get(f"{base}/table.parquet").status_code == 409  # blocked by the findings
    r = tom.post(f"{base}/resolve", json={"column": "email", "action": "drop"})
    assert r.status_code == 200, r.text
    for f in r.json()["state"]["findings"]:
        if not f.get("resolution"):
            r = tom.post(
                f"{base}/resolve",
                json={"column": f["column"], "action": "confirm", "reason": "Needed, kept here."},
            )
            assert r.status_code == 200, r.text
    assert r.json()["status"] == "ready"
    sheet = conforms(tara.get(f"{base}/datasheet").json(), "Datasheet")
    assert sheet["edited"] is False and sheet["datasheet"]
    r = tara.put(f"{base}/datasheet", json={"datasheet": {"motivation": "A second look."}})
    assert r.status_code == 200 and r.json()["datasheet"]["motivation"] == "A second look."
    r = tara.get(f"{base}/table.parquet")
    assert r.status_code == 200, r.text
    table = pd.read_parquet(io.BytesIO(r.content))
    assert "email" not in table.columns and len(table) == 80
    assert table["inkomen"].dtype.kind == "f"


def test_notebook_written_into_the_team_workspace_never_overwritten(hub, usecase):
    import nbformat
    from coursetest import read_file
    from hubtest import spawn, stop

    tom = api(hub, "tom")
    stop(hub, "team-t1")
    r = tom.post(f"/usecases/{usecase}/notebook")
    assert r.status_code == 409 and "workspace is not running" in r.json()["error"]
    spawn(hub, "team-t1")
    r = tom.post(f"/usecases/{usecase}/notebook", json={"dataset": "cases"})
    assert r.status_code == 201, r.text
    assert r.json() == {
        "path": f"use-cases/{usecase}/assessment.ipynb",
        "server_url": "/user/team-t1/",
    }
    token = person(hub, "tom")  # a member reads it through the team's share
    nb = nbformat.reads(read_file(hub, token, "team-t1", r.json()["path"]).decode(), as_version=4)
    nbformat.validate(nb)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert usecase in code and "cases" in code and "save_results" in code
    # Generating again keeps the team's notebook and writes a new one beside it.
    r = api(hub, "tara").post(f"/usecases/{usecase}/notebook")
    assert r.status_code == 201 and r.json()["path"].endswith("/assessment-2.ipynb")
    assert (
        nbformat.reads(
            read_file(hub, token, "team-t1", f"use-cases/{usecase}/assessment.ipynb").decode(),
            as_version=4,
        )
        == nb
    )
    r = tom.post(f"/usecases/{usecase}/notebook", json={"dataset": "..%2Fx"})
    assert r.status_code == 400


def test_a_table_taken_from_the_team_workspace(hub, usecase):
    from coursetest import put_file
    from hubtest import spawn

    spawn(hub, "team-t1")
    put_file(hub, person(hub, "tara"), "team-t1", "aanvragen.csv", CSV.encode("latin-1"))
    tom = api(hub, "tom")
    r = tom.post(
        f"/usecases/{usecase}/datasets/fromws/from-workspace", json={"path": "aanvragen.csv"}
    )
    assert r.status_code == 201, r.text
    d = conforms(r.json(), "UseCaseDataset")
    assert d["state"]["detected"]["separator"] == ";" and d["state"]["detected"]["rows"] == 80
    r = tom.post(f"/usecases/{usecase}/datasets/fromws2/from-workspace", json={"path": "nope.csv"})
    assert r.status_code == 400 and "no file nope.csv" in r.json()["error"]
    assert "fromws2" not in [x["name"] for x in tom.get(f"/usecases/{usecase}").json()["datasets"]]


def connect(hub, where):
    """A connection to the hub's proxy (as browsers reach the service) or to the service itself."""
    port = hub.settings["hub"]["port"] if where == "proxy" else hub.settings["course"]["port"]
    return socket.create_connection(("127.0.0.1", port), timeout=60)


@pytest.mark.parametrize("where", ["proxy", "service"])
def test_content_length_above_the_limit_is_413_and_nothing_is_stored(hub, usecase, where):
    token = person(hub, "tom")
    limit = 200_000_000  # CourseConfig.usecase_max_upload_bytes, the default
    path = f"/services/course/api/usecases/{usecase}/datasets/huge?filename=huge.csv"
    with connect(hub, where) as s:
        s.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: token {token}\r\n"
            f"Content-Length: {limit + 1}\r\n\r\n".encode()
        )
        s.sendall(b"a;b\n1;2\n")  # the start of the body; the rest never comes
        answer = s.recv(65536).decode(errors="replace")
    assert answer.startswith("HTTP/1.1 413"), answer[:300]
    assert "files up to 200 MB are accepted" in answer
    names = [d["name"] for d in api(hub, "tom").get(f"/usecases/{usecase}").json()["datasets"]]
    assert "huge" not in names
    assert not (usecase_dir(hub, usecase) / "datasets" / "huge").exists()
    assert uploads(hub) == []


@pytest.mark.parametrize("where", ["proxy", "service"])
def test_an_interrupted_upload_leaves_nothing(hub, usecase, where):
    token = person(hub, "tom")
    path = f"/services/course/api/usecases/{usecase}/datasets/cut?filename=cut.csv"
    s = connect(hub, where)
    try:
        s.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: token {token}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: 5000000\r\n\r\n".encode()
        )
        s.sendall(CSV.encode() * 100)  # about 300 kB of the 5 MB announced
        # The service is receiving it: a temporary file holds what arrived.
        received = wait_until(lambda: [p for p in uploads(hub) if p.stat().st_size], timeout=30)
        assert received, "the upload never reached the service"
    finally:
        s.close()  # the browser tab was closed
    assert wait_until(lambda: uploads(hub) == [], timeout=30), uploads(hub)
    names = [d["name"] for d in api(hub, "tom").get(f"/usecases/{usecase}").json()["datasets"]]
    assert "cut" not in names
    assert not (usecase_dir(hub, usecase) / "datasets" / "cut").exists()


def test_a_pickled_model_is_refused_with_the_reason(hub, usecase):
    import pickle

    tom = api(hub, "tom")
    for filename in ("model.pkl", "model.joblib"):
        r = tom.post(
            f"/usecases/{usecase}/models/mine",
            params={"filename": filename},
            data=pickle.dumps({"weights": [1, 2, 3]}),
        )
        assert r.status_code == 400, r.text
        assert "can run any program" in r.json()["error"] and "skops" in r.json()["error"]
    assert tom.get(f"/usecases/{usecase}").json()["models"] == []
    assert not (usecase_dir(hub, usecase) / "models" / "mine").exists()


def test_skops_model_waits_for_an_instructor_and_onnx_runs(hub, usecase):
    import numpy as np
    import skops.io as sio
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    tom, tina = api(hub, "tom"), api(hub, "tina")
    X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]], dtype=np.float32)
    model = make_pipeline(FunctionTransformer(_double), LogisticRegression()).fit(X, [0, 1, 1, 0])
    buf = io.BytesIO()
    sio.dump(model, buf)  # skops writes a zip into the buffer
    data = buf.getvalue()
    r = tom.post(f"/usecases/{usecase}/models/pipe", params={"filename": "pipe.skops"}, data=data)
    assert r.status_code == 201, r.text
    m = conforms(r.json(), "UseCaseModel")
    assert m["needs_approval"] and any("_double" in t for t in m["untrusted_types"])
    assert tom.post(f"/usecases/{usecase}/models/pipe/approve").status_code == 403
    r = tina.post(f"/usecases/{usecase}/models/pipe/approve")
    assert r.status_code == 200 and r.json()["approved_by"] == "tina"
    r = api(hub, "tara").get(f"/usecases/{usecase}/models/pipe/file")
    assert r.status_code == 200 and r.content == data
    onx = to_onnx(LogisticRegression().fit(X, [0, 1, 1, 0]), X[:1]).SerializeToString()
    r = tom.post(f"/usecases/{usecase}/models/onnx", params={"filename": "m.onnx"}, data=onx)
    assert r.status_code == 201 and r.json()["kind"] == "onnx", r.text


def _double(x):
    """The test's own function: skops cannot know it, so it is an untrusted type."""
    return 2 * x


def test_names_with_dot_dot_are_refused(hub, usecase):
    tom = api(hub, "tom")
    # (A bare ".." is resolved by the client itself: /datasets/.. is never sent.)
    for name in ("..%2Fevil", "%2E%2E", "..%2F..%2Fpseudonym.key"):
        r = tom.post(
            f"/usecases/{usecase}/datasets/{name}", params={"filename": "x.csv"}, data=b"a;b\n1;2\n"
        )
        assert r.status_code == 400, (name, r.status_code, r.text)
        r = tom.put(f"/usecases/{usecase}/datasets/{name}/roles", json={"roles": ROLES})
        assert r.status_code == 400, (name, r.status_code, r.text)
    r = tom.post(f"/usecases/{usecase}/datasets/x/from-workspace", json={"path": "../etc/passwd"})
    assert r.status_code == 400 and "'..'" in r.json()["error"]
    root = usecase_dir(hub, usecase)
    assert not (root / "evil").exists() and not (root.parent / "evil").exists()
    assert not any(p.name == "evil" for p in root.rglob("*"))


def test_results_answers_with_citations_and_instructor_comments(hub, usecase):
    png = (
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGA"
        "hKmMIQAAAABJRU5ErkJggg=="
    )
    tom, tara, tina = api(hub, "tom"), api(hub, "tara"), api(hub, "tina")
    payload = {
        "tables": {"performance.by_group": [{"group": "F", "accuracy": 0.8}]},
        "figures": {"disparities.selection_rate": png},
    }
    r = tom.post(
        f"/usecases/{usecase}/results", json={"payload": payload, "notebook_sha256": "d" * 64}
    )
    assert r.status_code == 201, r.text
    got = conforms(tara.get(f"/usecases/{usecase}/results").json(), "UseCaseResults")
    assert got["payload"] == payload and got["author"] == "tom"
    r = tom.put(
        f"/usecases/{usecase}/answers/why.problem",
        json={"text": "Files wait weeks.", "cites": ["disparities.selection_rate"]},
    )
    assert r.status_code == 200, r.text
    r = tara.put(f"/usecases/{usecase}/answers/why.problem", json={"text": "Files wait."})
    assert r.status_code == 200
    r = tara.put(
        f"/usecases/{usecase}/answers/why.problem", json={"text": "x", "cites": ["explain.shap"]}
    )
    assert r.status_code == 400 and "explain.shap" in r.json()["error"]
    assert (
        tom.post(f"/usecases/{usecase}/comments/why.problem", json={"text": "!"}).status_code == 403
    )
    r = tina.post(f"/usecases/{usecase}/comments/why.problem", json={"text": "Say since when."})
    assert r.status_code == 201, r.text
    both = tom.get(f"/usecases/{usecase}/answers").json()
    assert [(a["author"], a["text"]) for a in both["answers"]["why.problem"]] == [
        ("tom", "Files wait weeks."),
        ("tara", "Files wait."),
    ]
    assert both["comments"]["why.problem"][0]["author"] == "tina"
    q = tom.get("/usecases/questionnaire").json()
    assert "why.problem" in [x["id"] for x in q["questions"]] and "5a" in q["ai_act_areas"]


def test_dossier_report_and_zip(hub, usecase):
    import zipfile

    tom = api(hub, "tom")
    r = tom.get(f"/usecases/{usecase}/report.html")
    assert r.status_code == 200, r.text[:500]
    assert FIELDS["title"] in r.text and "p1@example.org" not in r.text
    r = tom.get(f"/usecases/{usecase}/export.zip")
    assert r.status_code == 200, r.text[:500]
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        blob = b"".join(z.read(n) for n in z.namelist())
    key = (usecase_dir(hub, usecase) / "pseudonym.key").read_bytes()
    assert key not in blob and key.hex().encode() not in blob
    assert b"@example.org" not in blob
    assert uploads(hub) == []
