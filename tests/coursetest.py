"""Helpers for the course service's tests: people with tokens, an API client, contents calls.

Index:
- :class:`CourseAPI` -- calls ``/services/course/api`` with a user's token.
- :func:`person` -- log a roster user in (once per session), spawn when asked, return a token.
- :func:`contents` -- call a server's Jupyter contents API with a token.
- :func:`wait_job` -- poll an autograding job until it ends.
"""

from __future__ import annotations

import base64
import time

import requests
from hubtest import login, spawn, user_token

_TOKENS = {}


class CourseAPI:
    """The course service's REST API, as one user (``Authorization: token``)."""

    def __init__(self, hub, token):
        self.hub = hub
        self.base = f"{hub.url}/services/course/api"
        self.headers = {"Authorization": f"token {token}"}

    def call(self, method, path, **kw):
        kw.setdefault("timeout", 300)
        return requests.request(method, self.base + path, headers=self.headers, **kw)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, **kw):
        return self.call("POST", path, **kw)

    def put(self, path, **kw):
        return self.call("PUT", path, **kw)


def person(hub, name, *, server=False):
    """Return a token of roster user ``name`` (logged in once), starting their server if asked."""
    # Imported here: the docker suite imports this module beside its own conftest.
    from conftest import ROSTER

    if name not in _TOKENS:
        s, r = login(hub, name, ROSTER[name][2])
        assert r.status_code == 302, r.text
        _TOKENS[name] = user_token(s, hub, name)
    if server:
        spawn(hub, name)
    return _TOKENS[name]


def api(hub, name, *, server=False):
    """Return a :class:`CourseAPI` of roster user ``name``."""
    return CourseAPI(hub, person(hub, name, server=server))


def contents(hub, token, method, user, path, **kw):
    """Call ``/user/<user>/api/contents/<path>`` with ``token``."""
    url = f"{hub.url}/user/{user}/api/contents/{path}"
    headers = {"Authorization": f"token {token}"}
    return requests.request(method, url, headers=headers, timeout=120, **kw)


def put_file(hub, token, user, path, data):
    """Write bytes to ``path`` in ``user``'s server with ``token``."""
    body = {"type": "file", "format": "base64", "content": base64.b64encode(data).decode()}
    r = contents(hub, token, "PUT", user, path, json=body)
    assert r.status_code in (200, 201), r.text
    return r


def read_file(hub, token, user, path):
    """Return the bytes of ``path`` in ``user``'s server."""
    r = contents(hub, token, "GET", user, path, params={"type": "file", "format": "base64"})
    assert r.status_code == 200, r.text
    return base64.b64decode(r.json()["content"])


def wait_job(course, job, timeout=600):
    """Poll an autograding job until it is done or failed; return its last state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = course.get(f"/instructor/jobs/{job}").json()
        if state["state"] in ("done", "failed"):
            return state
        time.sleep(1)
    raise AssertionError(f"job {job} still running after {timeout} s: {state}")


def make_lab(hub, lab, *, team=False, source="example-intro"):
    """Copy lab ``source`` of the service's labs folder to ``lab`` (a team lab if asked)."""
    import re
    import shutil
    from pathlib import Path

    root = Path(hub.settings["course"]["labs_dir"])
    target = root / lab
    if not target.exists():
        shutil.copytree(root / source, target)
        toml = (target / "lab.toml").read_text()
        toml = toml.replace(f'id = "{source}"', f'id = "{lab}"')
        toml = re.sub(r"(?m)^team = .*$", f"team = {'true' if team else 'false'}", toml)
        if "team = " not in toml:
            toml = toml.replace(
                "\n[rubrics.", f"team = {'true' if team else 'false'}\n\n[rubrics.", 1
            )
        (target / "lab.toml").write_text(toml)
    return lab


#: Answers to example-intro: a first answer that only fools the visible test,
#: a correct second one, and text for the two items graded by hand.
ANSWERS = {
    "approval_rates": (
        "def approval_rates(df):\n"
        '    return pd.Series({"North": 0.75, "South": 0.5, "East": 0.75})\n'
    ),
    "disparity_ratio": (
        "def disparity_ratio(rates):\n    return float(rates.min() / rates.max())\n"
    ),
    "gap_meaning": "Not by itself: the districts may differ in who applies. COURSE-TEST-ANSWER",
}
DISCUSS = "I would compare applicants by nationality, a ground protected by Art. 21."


def answered(nb_bytes, answers=ANSWERS, discuss=DISCUSS):
    """Return the learner notebook ``nb_bytes`` with ``answers`` filled in."""
    import nbformat

    nb = nbformat.reads(nb_bytes.decode(), as_version=4)
    for i, cell in enumerate(list(nb.cells)):
        gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
        if gid == "discuss_groups" and discuss:
            nb.cells.insert(i + 1, nbformat.v4.new_markdown_cell(discuss))
    return nbformat.writes(nb).encode()


def conforms(data, schema):
    """Assert ``data`` matches ``schema`` of openapi.yaml (a schema name, or ``[name]`` for a list).

    OpenAPI 3.1 schemas are JSON Schema 2020-12: the pages are built against
    this document, so the service must answer as it says.
    """
    from pathlib import Path

    import jsonschema
    import yaml

    doc = yaml.safe_load((Path(__file__).parents[1] / "hub/course/openapi.yaml").read_text())
    if isinstance(schema, list):
        ref = {"type": "array", "items": {"$ref": f"#/components/schemas/{schema[0]}"}}
    else:
        ref = {"$ref": f"#/components/schemas/{schema}"}
    jsonschema.Draft202012Validator({**ref, "components": doc["components"]}).validate(data)
    return data
