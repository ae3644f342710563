"""Use-case data over HTTP: a kernel's client of the course service, its token and its address.

- Without a hub: :mod:`ai4scale.datasets._service` and ``load("usecase:...")``
  against a real HTTP server started here, standing in for the course service
  (status codes and bodies as the service sends them), so every error a
  civil servant may meet is shown in plain words; and the hub configuration
  (server token scopes, ``AI4SCALE_COURSE_URL`` per profile, the workspace
  role) applied to a traitlets Config.
- With the live hub (``hub`` fixture): kernels of a member's server and of
  the team workspace reach the real course service with their server's token,
  which carries no more than it did plus the course service.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest
from ai4scale.datasets import _service
from ai4scale.hub import apply_config, load_settings
from ai4scale.hub.package_access import access_of
from traitlets.config import Config

from ai4scale import datasets

TOKEN = "kernel-token-123"


# -- a stand-in course service: a real HTTP server with canned answers -------------------


class Endpoint:
    """A real HTTP server on 127.0.0.1 answering ``routes[(method, path)] = (status, body)``.

    Every request is recorded as ``(method, path, headers, body)``.
    """

    def __init__(self):
        self.routes = {}
        self.requests = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                endpoint.requests.append((self.command, self.path, dict(self.headers), body))
                status, answer, *extra = endpoint.routes.get(
                    (self.command, self.path), (404, {"error": "no such API endpoint"})
                )
                if not isinstance(answer, bytes):
                    answer = json.dumps(answer).encode()
                self.send_response(status)
                for key, value in extra[0].items() if extra else ():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/course/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def route(self, method, path, status, body=None, headers=None):
        self.routes[(method, "/services/course/api/" + path)] = (status, body or b"", headers or {})

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def service(monkeypatch):
    endpoint = Endpoint()
    monkeypatch.setenv(_service.COURSE_URL_VARIABLE, endpoint.url)
    monkeypatch.setenv(_service.TOKEN_VARIABLE, TOKEN)
    monkeypatch.setenv("JUPYTERHUB_USER", "tom")
    yield endpoint
    endpoint.close()


TABLE = pd.DataFrame({"age": [34, 51, 28], "sex": ["f", "m", "f"], "granted": [1, 0, 1]})
TABLE_PATH = "usecases/benefit-checks/datasets/applications/table.parquet"


def parquet(frame):
    out = io.BytesIO()
    frame.to_parquet(out, index=False)
    return out.getvalue()


# -- the client: what it sends, what each answer becomes ---------------------------------


def test_get_and_post_send_the_servers_token_and_nothing_else(service):
    service.route("GET", "me", 200, {"name": "tom"})
    service.route("POST", "usecases/benefit-checks/results", 201, {"saved": True})
    assert _service.get_json("me") == {"name": "tom"}
    answer = _service.post_json("usecases/benefit-checks/results", {"payload": {"a": 1}})
    assert answer == {"saved": True}
    (get, post) = service.requests
    assert get[0] == "GET" and get[1] == "/services/course/api/me"
    assert get[2]["Authorization"] == f"token {TOKEN}"
    assert post[0] == "POST" and post[2]["Authorization"] == f"token {TOKEN}"
    assert post[2]["Content-Type"].startswith("application/json")
    assert json.loads(post[3]) == {"payload": {"a": 1}}


@pytest.mark.parametrize(
    ("status", "detail", "error", "words"),
    [
        (
            403,
            "not logged in to the hub (or no access to the course)",
            datasets.NotLoggedInError,
            "did not accept this notebook's login",
        ),
        (401, "", datasets.NotLoggedInError, "did not accept this notebook's login"),
        (
            403,
            "this use case belongs to another team",
            datasets.NotInTeamError,
            "a team you are not part of",
        ),
        (403, "", datasets.NotInTeamError, "a team you are not part of"),
        (
            403,
            "only instructors may approve a model",
            datasets.CourseServiceError,
            "does not allow this here",
        ),
        (409, "2 findings unresolved", datasets.DataNotReadyError, "not ready yet"),
        (503, "", datasets.ServiceUnavailableError, "does not answer right now"),
        (502, "", datasets.ServiceUnavailableError, "does not answer right now"),
        (500, "", datasets.CourseServiceError, "failed on this request"),
        (413, "over 200 MB", datasets.CourseServiceError, "over 200 MB"),
    ],
)
def test_error_answers_in_plain_words(service, status, detail, error, words):
    service.route("GET", "x", status, {"error": detail} if detail else b"<html>oops</html>")
    with pytest.raises(error) as info:
        _service.get_bytes("x")
    assert words in str(info.value)
    assert info.value.status == status and info.value.detail == detail
    if detail and "login" not in words:
        assert detail in str(info.value)  # the service's own words are kept
    if "allow" in words:
        assert not isinstance(info.value, datasets.NotInTeamError)
    # Which class says it, also for code that catches builtins.
    assert isinstance(info.value, datasets.DatasetError)


def test_no_service_at_the_address(monkeypatch):
    endpoint = Endpoint()
    url = endpoint.url
    endpoint.close()  # nothing listens there any more
    monkeypatch.setenv(_service.COURSE_URL_VARIABLE, url)
    monkeypatch.setenv(_service.TOKEN_VARIABLE, TOKEN)
    with pytest.raises(datasets.ServiceUnavailableError, match="does not answer right now"):
        _service.get_bytes("me", timeout=5)
    with pytest.raises(ConnectionError):
        _service.post_json("me", {}, timeout=5)


@pytest.mark.parametrize("missing", [_service.COURSE_URL_VARIABLE, _service.TOKEN_VARIABLE])
def test_outside_a_sandbox_server(service, monkeypatch, missing):
    monkeypatch.delenv(missing)
    with pytest.raises(datasets.NotLoggedInError, match="not connected to the sandbox"):
        _service.get_bytes("me")
    with pytest.raises(datasets.NotLoggedInError, match="not connected to the sandbox"):
        datasets.load("usecase:benefit-checks/applications")
    assert service.requests == []


def test_the_token_never_follows_a_redirect(service):
    elsewhere = Endpoint()
    try:
        service.route("GET", "me", 302, b"", {"Location": elsewhere.url + "api/me"})
        with pytest.raises(datasets.CourseServiceError, match="HTTP 302"):
            _service.get_bytes("me")
        assert elsewhere.requests == []
    finally:
        elsewhere.close()


# -- load("usecase:...") -------------------------------------------------------------------


def test_load_returns_the_table(service):
    service.route("GET", TABLE_PATH, 200, parquet(TABLE))
    frame = datasets.load("usecase:benefit-checks/applications")
    pd.testing.assert_frame_equal(frame, TABLE)
    assert service.requests[0][1] == "/services/course/api/" + TABLE_PATH


def test_names_are_quoted_into_the_path(service):
    path = "usecases/b%C3%BCrger%20geld/datasets/antr%C3%A4ge/table.parquet"
    service.route("GET", path, 200, parquet(TABLE))
    pd.testing.assert_frame_equal(datasets.load("usecase:bürger geld/anträge"), TABLE)


@pytest.mark.parametrize(
    "name",
    [
        "usecase:",
        "usecase:benefit-checks",
        "usecase:benefit-checks/",
        "usecase:/applications",
        "usecase:a/b/c",
        "usecase:../applications",
        "usecase:benefit-checks/..",
        "usecase:a/b\nc",
        "usecase:a\\b/c",
    ],
)
def test_malformed_names_are_refused_before_asking(service, name):
    with pytest.raises(datasets.UseCaseReferenceError, match="usecase:<use case>/<dataset>"):
        datasets.load(name)
    with pytest.raises(ValueError):
        datasets.load(name)
    assert service.requests == []


def test_only_the_whole_table(service):
    with pytest.raises(ValueError, match="loads as one table"):
        datasets.load("usecase:benefit-checks/applications", return_X_y=True)
    assert service.requests == []


def test_another_teams_use_case_is_refused_clearly(service):
    service.route("GET", TABLE_PATH, 403, {"error": "this use case belongs to another team"})
    service.route("GET", "usecases", 200, [{"id": "benefit-check"}, {"id": "permits"}])
    with pytest.raises(datasets.NotInTeamError) as info:
        datasets.load("usecase:benefit-checks/applications")
    message = str(info.value)
    assert (
        "this use case's data opens only in the workspace of the team that owns it "
        "and in its members' servers" in message
    )
    assert "tom's server" in message
    assert "Did you mean 'benefit-check'?" in message  # a typo of one's own use case
    assert isinstance(info.value, PermissionError)


def test_refused_in_another_teams_workspace(service, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "team-t2")
    service.route("GET", TABLE_PATH, 403, {"error": "this use case belongs to another team"})
    service.route("GET", "usecases", 200, [])
    with pytest.raises(datasets.NotInTeamError, match="runs in the workspace of team t2"):
        datasets.load("usecase:benefit-checks/applications")


def test_unknown_dataset_suggests_the_use_cases_datasets(service):
    service.route(
        "GET",
        "usecases/benefit-checks",
        200,
        {"id": "benefit-checks", "datasets": [{"name": "application"}, {"name": "appeals"}]},
    )
    with pytest.raises(datasets.UnknownDatasetError) as info:
        datasets.load("usecase:benefit-checks/applications")
    assert str(info.value) == (
        "unknown dataset 'usecase:benefit-checks/applications': "
        "did you mean 'usecase:benefit-checks/application' or 'usecase:benefit-checks/appeals'?"
    )
    assert isinstance(info.value, KeyError)


def test_unknown_use_case_for_an_instructor(service):
    # The service answers 404 for unknown ids to instructors only (403 to others).
    service.route("GET", "usecases", 200, [{"id": "benefit-checks"}])
    with pytest.raises(datasets.UnknownDatasetError, match="did you mean 'usecase:benefit-checks'"):
        datasets.load("usecase:benefit-check/applications")


def test_a_use_case_without_data_yet(service):
    service.route("GET", "usecases/benefit-checks", 200, {"id": "x", "datasets": []})
    with pytest.raises(datasets.UnknownDatasetError, match="has no data yet"):
        datasets.load("usecase:benefit-checks/applications")


def test_a_listed_dataset_without_its_table_is_not_ready(service):
    service.route("GET", "usecases/benefit-checks", 200, {"datasets": [{"name": "applications"}]})
    with pytest.raises(datasets.DataNotReadyError, match="not ready yet"):
        datasets.load("usecase:benefit-checks/applications")


def test_not_ready_from_the_service(service):
    service.route("GET", TABLE_PATH, 409, {"error": "personal data found in 'email'"})
    with pytest.raises(datasets.DataNotReadyError) as info:
        datasets.load("usecase:benefit-checks/applications")
    assert "not ready yet" in str(info.value)
    assert "personal data found in 'email'" in str(info.value)


# -- learners may read the client, and it reads nothing they may not -------------------


def test_the_client_is_learner_readable_and_imports_only_learner_files():
    assert access_of("datasets/_service.py") == "learner"
    code = (
        "import sys, ai4scale.datasets, ai4scale.datasets._service\n"
        "from ai4scale.datasets import load\n"
        "import ai4scale, os\n"
        "root = os.path.dirname(ai4scale.__file__)\n"
        "for name, m in sorted(sys.modules.items()):\n"
        "    f = getattr(m, '__file__', None)\n"
        "    if name.startswith('ai4scale') and f:\n"
        "        print(os.path.relpath(f, root))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    ).stdout.split()
    assert "datasets/_service.py" in out
    assert {f: access_of(f) for f in out} == dict.fromkeys(out, "learner")


# -- the hub's configuration -------------------------------------------------------------


def configure(tmp_path, text=""):
    datasets_dir = tmp_path / "datasets"
    datasets_dir.mkdir(exist_ok=True)
    path = tmp_path / "ai4scale.toml"
    path.write_text(
        f'{text}\n[paths]\nstate_dir = "{tmp_path / "state"}"\ndatasets_dir = "{datasets_dir}"\n'
    )
    return apply_config(Config(), load_settings(path))


def test_local_servers_reach_the_service_directly_with_a_token_scoped_to_it(tmp_path):
    c = configure(tmp_path, "[course]\nport = 8099")
    assert c.Spawner.environment["AI4SCALE_COURSE_URL"] == "http://127.0.0.1:8099/services/course/"
    # JupyterHub's default server scopes, plus the course service: nothing else.
    assert sorted(c.Spawner.server_token_scopes) == [
        "access:servers!server",
        "access:services!service=course",
        "users:activity!user",
    ]
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    # The hub gives a token only what its owner holds: learners and
    # instructors already may use the service; team workspaces now too.
    assert roles["course-workspace"]["scopes"] == ["access:services!service=course"]
    assert roles["course-workspace"]["groups"] == ["team-workspaces"]
    assert roles["course-user"]["groups"] == ["learners", "instructors"]


def test_docker_servers_reach_it_through_the_proxy_in_the_hubs_container(tmp_path):
    # A named network: the hub (and its proxy) in a container of that network.
    c = configure(
        tmp_path, 'profile = "docker"\n[hub]\nport = 8443\n[docker]\nnetwork = "ai4scale"'
    )
    url = c.Spawner.environment["AI4SCALE_COURSE_URL"]
    assert url == "http://ai4scale-hub:8443/services/course/"
    assert "access:services!service=course" in c.Spawner.server_token_scopes


def test_docker_servers_on_the_host_network_reach_it_on_the_loopback(tmp_path):
    # The default: containers share this machine's loopback, as local servers do.
    c = configure(tmp_path, 'profile = "docker"\n[course]\nport = 8092')
    assert c.Spawner.environment["AI4SCALE_COURSE_URL"] == "http://127.0.0.1:8092/services/course/"


def test_kubernetes_servers_reach_it_through_the_proxy_service(tmp_path):
    c = configure(tmp_path, 'profile = "kubernetes"')
    url = "http://proxy-public/services/course/"
    assert c.KubeSpawner.environment["AI4SCALE_COURSE_URL"] == url
    assert "access:services!service=course" in c.Spawner.server_token_scopes


def test_without_the_course_service_servers_keep_the_default_token(tmp_path):
    c = configure(tmp_path, "[course]\nenabled = false")
    assert "AI4SCALE_COURSE_URL" not in c.Spawner.environment
    assert sorted(c.Spawner.server_token_scopes) == ["access:servers!server", "users:activity!user"]
    assert "course-workspace" not in {r["name"] for r in c.JupyterHub.load_roles}


# -- a live hub: kernels reach the real course service --------------------------------


def kernel_json(kernel, code):
    out = kernel.execute(code)
    assert out["status"] == "ok", out
    return json.loads(out["stdout"].strip().splitlines()[-1])


ASK = (
    "import json, os\n"
    "from ai4scale.datasets import _service\n"
    "import urllib.request\n"
    "me = _service.get_json('me')\n"
    "hub = os.environ['JUPYTERHUB_API_URL'].rstrip('/') + '/user'\n"
    "req = urllib.request.Request(hub, headers={'Authorization': "
    "'token ' + os.environ['JUPYTERHUB_API_TOKEN']})\n"
    "scopes = json.load(urllib.request.urlopen(req))['scopes']\n"
    "print(json.dumps({'me': me, 'scopes': sorted(scopes), "
    "'url': os.environ['AI4SCALE_COURSE_URL']}))\n"
)


@pytest.mark.hub
def test_kernels_reach_the_course_service_as_their_servers_owner(hub):
    from coursetest import person
    from hubtest import Kernel, spawn

    port = hub.settings["course"]["port"]
    tom = person(hub, "tom", server=True)
    spawn(hub, "team-t1")  # tom opens it: it is shared with the team
    for user, name in (("tom", "tom"), ("team-t1", "team-t1")):
        kernel = Kernel(hub, user, tom)
        try:
            seen = kernel_json(kernel, ASK)
        finally:
            kernel.shutdown()
        assert seen["me"]["name"] == name, seen
        assert seen["url"] == f"http://127.0.0.1:{port}/services/course/"
        # The server's token: JupyterHub's default (post activity, which implies
        # reading one's own name, groups and activity; its own server), and
        # the course service. Nothing else.
        assert seen["scopes"] == [
            f"access:servers!server={user}/",
            "access:services!service=course",
            f"read:users:activity!user={user}",
            f"read:users:groups!user={user}",
            f"read:users:name!user={user}",
            f"users:activity!user={user}",
        ], seen


@pytest.mark.hub
def test_a_stopped_service_is_said_plainly_in_the_kernel(hub):
    from coursetest import person
    from hubtest import Kernel

    tom = person(hub, "tom", server=True)
    kernel = Kernel(hub, "tom", tom)
    try:
        out = kernel.execute(
            "import os\n"
            "os.environ['AI4SCALE_COURSE_URL'] = 'http://127.0.0.1:9/services/course/'\n"
            "from ai4scale import datasets\n"
            "datasets.load('usecase:benefit-checks/applications')\n"
        )
    finally:
        kernel.shutdown()
    assert out["error"] == "ServiceUnavailableError", out
    assert "does not answer right now" in out["stderr"]


# -- a live hub: use-case tables and results through the real service -------------------

USECASE = "transport-checks"
OTHER = "transport-elsewhere"  # owned by team t9, which has nobody in the test roster


def cases_csv():
    """400 applications, no personal data: every region x sex group holds 40 or more rows."""
    import random

    rng = random.Random(11)
    lines = ["region,sex,income,granted"]
    for i in range(400):
        region = ("north", "south", "east", "west")[i % 4]
        sex = "f" if (i // 4) % 2 else "m"
        income = rng.randint(900, 4200)
        granted = int(income + rng.gauss(0, 600) < 2500)
        lines.append(f"{region},{sex},{income},{granted}")
    return ("\n".join(lines) + "\n").encode()


def contacts_csv():
    lines = ["email,sex,granted"]
    lines += [f"person{i}@example.org,{'fm'[i % 2]},{i % 2}" for i in range(30)]
    return ("\n".join(lines) + "\n").encode()


def bring_table(course, usecase, name, data, roles):
    r = course.post(
        f"/usecases/{usecase}/datasets/{name}", params={"filename": name + ".csv"}, data=data
    )
    assert r.status_code == 201, r.text
    r = course.put(f"/usecases/{usecase}/datasets/{name}/format", json={})
    assert r.status_code == 200, r.text
    r = course.put(f"/usecases/{usecase}/datasets/{name}/roles", json={"roles": roles})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def usecases(hub):
    """Use case ``transport-checks`` of team t1 with a ready table ``cases`` and a
    blocked one ``contacts`` (e-mail addresses), and ``transport-elsewhere`` of team t9."""
    from coursetest import api

    tom, tina = api(hub, "tom"), api(hub, "tina")
    r = tom.post("/usecases", json={"id": USECASE, "title": "Benefit checks (transport)"})
    assert r.status_code == 201, r.text
    r = tina.post("/usecases", json={"id": OTHER, "title": "Permits", "team": "t9"})
    assert r.status_code == 201, r.text
    roles = {
        "region": "legitimate",
        "sex": {"role": "protected", "kind": "sex"},
        "income": "feature",
        "granted": "target",
    }
    ready = bring_table(tom, USECASE, "cases", cases_csv(), roles)
    assert ready["status"] == "ready", ready
    roles = {"email": "feature", "sex": {"role": "protected", "kind": "sex"}, "granted": "target"}
    blocked = bring_table(tom, USECASE, "contacts", contacts_csv(), roles)
    assert blocked["status"] != "ready", blocked
    return tom, tina


LOAD = (
    "import json\n"
    "from ai4scale import datasets\n"
    "try:\n"
    "    df = datasets.load({name!r})\n"
    "    print(json.dumps({{'frame': df.to_dict(orient='list')}}))\n"
    "except Exception as e:\n"
    "    print(json.dumps({{'error': type(e).__name__, 'message': str(e),\n"
    "                      'kinds': [c.__name__ for c in type(e).__mro__]}}))\n"
)


def load_in(hub, user, token, name):
    from hubtest import Kernel

    kernel = Kernel(hub, user, token)
    try:
        return kernel_json(kernel, LOAD.format(name=name))
    finally:
        kernel.shutdown()


def expected_cases():
    return pd.read_csv(io.BytesIO(cases_csv())).to_dict(orient="list")


@pytest.mark.hub
def test_members_and_the_workspace_load_the_table(hub, usecases):
    from coursetest import person
    from hubtest import spawn

    tom = person(hub, "tom", server=True)
    spawn(hub, "team-t1")
    for user in ("tom", "team-t1"):
        seen = load_in(hub, user, tom, f"usecase:{USECASE}/cases")
        assert "error" not in seen, (user, seen)
        assert seen["frame"] == expected_cases(), user


@pytest.mark.hub
def test_other_teams_and_people_in_no_team_are_refused(hub, usecases):
    from coursetest import person

    theo = person(hub, "theo", server=True)  # in no team
    seen = load_in(hub, "theo", theo, f"usecase:{USECASE}/cases")
    assert seen["error"] == "NotInTeamError", seen
    assert "PermissionError" in seen["kinds"]
    assert (
        f"Use case '{USECASE}': this use case's data opens only in the workspace of the team "
        "that owns it and in its members' servers; this notebook runs in theo's server"
    ) in seen["message"]
    # A member of t1 asking for team t9's use case.
    tom = person(hub, "tom", server=True)
    seen = load_in(hub, "tom", tom, f"usecase:{OTHER}/cases")
    assert seen["error"] == "NotInTeamError", seen
    assert "opens only in the workspace of the team that owns it" in seen["message"]
    assert "this notebook runs in tom's server" in seen["message"]


@pytest.mark.hub
def test_unknown_and_unready_tables_say_so(hub, usecases):
    from coursetest import person

    tom = person(hub, "tom", server=True)
    seen = load_in(hub, "tom", tom, f"usecase:{USECASE}/case")
    assert seen["error"] == "UnknownDatasetError", seen
    assert f"did you mean 'usecase:{USECASE}/cases'" in seen["message"]
    seen = load_in(hub, "tom", tom, f"usecase:{USECASE}/contacts")
    assert seen["error"] == "DataNotReadyError", seen
    assert "not ready yet" in seen["message"]


PAYLOAD = {
    "steps": {
        "profile": {
            "tables": {
                "groups": {
                    "columns": ["sex", "rows"],
                    "records": [{"sex": "f", "rows": 30}, {"sex": "m", "rows": 30}],
                }
            },
            "notes": ["saved by the transport test"],
        }
    }
}


@pytest.mark.hub
def test_kernels_post_results_and_the_service_keeps_them(hub, usecases):
    from ai4scale.hub.course import Course
    from ai4scale.hub.usecase._store import UseCaseStore
    from coursetest import person
    from hubtest import Kernel, spawn

    tom = person(hub, "tom", server=True)
    spawn(hub, "team-t1")
    body = {"payload": PAYLOAD, "notebook_sha256": "ab" * 32}
    code = (
        "import json\n"
        "from ai4scale.datasets import _service\n"
        f"print(json.dumps(_service.post_json('usecases/{USECASE}/results', {body!r})))\n"
    )
    kernel = Kernel(hub, "team-t1", tom)
    try:
        saved = kernel_json(kernel, code)
    finally:
        kernel.shutdown()
    assert saved["author"] == "team-t1" and saved["notebook_sha256"] == "ab" * 32, saved
    snapshot = UseCaseStore(Course.from_settings(hub.settings)).snapshot(USECASE)
    assert snapshot["results"]["notebook_sha256"] == "ab" * 32
    assert snapshot["results"]["author"] == "team-t1"
    assert "saved by the transport test" in json.dumps(snapshot["results"]["payload"])
    # Nobody outside the team saves results into it.
    theo = person(hub, "theo", server=True)
    kernel = Kernel(hub, "theo", theo)
    try:
        out = kernel.execute(code)
    finally:
        kernel.shutdown()
    assert out["error"] == "NotInTeamError", out
    after = UseCaseStore(Course.from_settings(hub.settings)).snapshot(USECASE)
    assert after["results"]["author"] == "team-t1"


@pytest.mark.hub
def test_the_generated_notebook_loads_and_saves_through_the_service(hub, usecases):
    """The whole path: the service writes the notebook, the workspace runs it, results come back."""
    import hashlib
    import posixpath

    from ai4scale.hub.course import Course
    from ai4scale.hub.usecase._store import UseCaseStore
    from coursetest import person, read_file
    from hubtest import Kernel, spawn

    tom_api, _ = usecases
    spawn(hub, "team-t1")
    r = tom_api.post(f"/usecases/{USECASE}/notebook", json={"dataset": "cases"})
    assert r.status_code == 201, r.text
    path = r.json()["path"]
    token = person(hub, "tom")
    data = read_file(hub, token, "team-t1", path)
    nb = json.loads(data)
    code = [c["source"] for c in nb["cells"] if c["cell_type"] == "code"]
    code = [c if isinstance(c, str) else "".join(c) for c in code]
    assert f"usecase:{USECASE}/cases" in "\n".join(code)
    kernel = Kernel(hub, "team-t1", token)
    try:
        # As JupyterLab starts a notebook's kernel: in its folder, with its path.
        setup = (
            f"import os; os.chdir(os.path.expanduser({'~/' + posixpath.dirname(path)!r}))\n"
            f"os.environ['JPY_SESSION_NAME'] = {path!r}\n"
        )
        for source in [setup, *code]:
            out = kernel.execute(source, timeout=900)
            assert out["status"] == "ok", f"cell failed:\n{source}\n{out['stderr'][-3000:]}"
    finally:
        kernel.shutdown()
    snapshot = UseCaseStore(Course.from_settings(hub.settings)).snapshot(USECASE)
    assert snapshot["results"]["notebook_sha256"] == hashlib.sha256(data).hexdigest()
    assert snapshot["results"]["author"] == "team-t1"
    assert "profile" in json.dumps(snapshot["results"]["payload"])
