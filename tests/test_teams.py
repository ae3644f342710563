"""Team workspaces: a shared, collaborative server per roster team, closed to non-members.

The test roster has team ``t1`` (tom, tara); theo is in no team and tina is
the instructor.
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import psutil
import pytest
import requests
from ai4scale.hub import teams
from ai4scale.hub.accounts import AccountStore
from ai4scale.hub.roster import RosterEntry, RosterError, team_problem, username_problem
from conftest import ROSTER, TEST_USER_PREFIX
from hubtest import login, server_pid, spawn, stop, user_token

WORKSPACE = "team-t1"
NOTEBOOK = {
    "type": "notebook",
    "format": "json",
    "content": {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "c1",
                "metadata": {},
                "outputs": [],
                "source": "team = 't1'",
            }
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    },
}


# -- names, without a hub ------------------------------------------------------


def test_names():
    assert teams.workspace_user("t1") == "team-t1"
    assert teams.team_group("t1") == "team-t1"
    assert teams.is_workspace_user("team-t1")
    assert not teams.is_workspace_user("tom")
    assert not teams.is_workspace_user(teams.WORKSPACES_GROUP)
    with pytest.raises(ValueError):
        teams.workspace_user("")
    with pytest.raises(ValueError):
        teams.workspace_user("workspaces")


def test_the_roster_refuses_names_that_clash_with_workspaces():
    assert "team workspaces" in username_problem("team-t1")
    assert username_problem("teamster") is None
    assert "reserved" in team_problem("workspaces")
    store = AccountStore("sqlite://")
    with pytest.raises(RosterError, match="team-x"):
        store.import_roster([RosterEntry("team-x", "Team X", "learner", None)])


def test_team_of_and_hub_groups():
    store = AccountStore("sqlite://")
    store.import_roster(
        [
            RosterEntry("amina", "Amina", "learner", "tax"),
            RosterEntry("jonas", "Jonas", "learner", None),
            RosterEntry("eva", "Eva", "instructor", "tax"),
            RosterEntry("omar", "Omar", "learner", "audit"),
        ]
    )
    assert teams.team_of("amina", store=store) == "tax"
    assert teams.team_of("jonas", store=store) is None
    assert teams.team_of("nobody", store=store) is None
    assert teams.team_of("team-tax") == "tax"
    assert teams.team_of("x", groups=["learners", "team-audit"]) == "audit"
    assert teams.team_of("x", groups=["learners", teams.WORKSPACES_GROUP]) is None
    groups = teams.hub_groups(store)
    assert groups[teams.WORKSPACES_GROUP] == ["team-audit", "team-tax"]
    assert groups["team-tax"] == ["amina", "eva"]


def test_workspace_overrides():
    class User:
        name = "team-t1"

    class Spawner:
        user = User()
        name = ""

    env = {"JUPYTER_CONFIG_PATH": "/x"}
    (entry,) = teams.workspace_overrides(Spawner(), environment=env).values()
    assert entry["groups"] == [teams.WORKSPACES_GROUP]
    override = entry["spawner_override"]
    assert "access:servers!group=team-workspaces" in override["oauth_access_scopes"]
    assert "access:servers!server=team-t1/" in override["oauth_access_scopes"]
    assert override["environment"] == env


def test_nobody_logs_in_as_a_workspace():
    from tornado import web

    class Authenticator:
        class log:  # noqa: N801
            @staticmethod
            def warning(*args):
                pass

    with pytest.raises(web.HTTPError) as refused:
        teams.refuse_workspace_login(Authenticator, None, {"name": "team-t1"})
    assert refused.value.status_code == 403
    assert teams.refuse_workspace_login(Authenticator, None, {"name": "tom"}) == {"name": "tom"}


class FakeHub:
    """The two calls :func:`teams.sync_shares` makes, on an in-memory table of shares."""

    def __init__(self, shares):
        self.shares = shares  # server owner -> list of share models
        self.calls = []

    def list(self, path):
        return list(self.shares.get(path.split("/")[2], []))

    def call(self, method, path, *, json=None, ok=None):
        owner = path.split("/")[2]
        self.calls.append((method, owner, json))
        if method == "DELETE":
            self.shares[owner] = []
        else:
            kind = "group" if "group" in json else "user"
            scopes = [f"{scope}!server={owner}/" for scope in json["scopes"]]
            share = {"group": None, "user": None, "kind": kind, "scopes": scopes}
            share[kind] = {"name": json[kind]}
            self.shares.setdefault(owner, []).append(share)


def test_sync_shares_replaces_what_the_roster_does_not_say():
    groups = {"team-workspaces": ["team-t1"], "team-t1": ["tara", "tom"]}
    intruder = {"group": None, "user": {"name": "theo"}, "kind": "user", "scopes": []}
    hub = FakeHub({"team-t1": [intruder]})
    assert teams.sync_shares(hub, groups) == 1
    assert hub.calls[0] == ("DELETE", "team-t1", None)
    names = sorted((s["group"] or s["user"])["name"] for s in hub.shares["team-t1"])
    assert names == ["tara", "team-t1", "tom"]
    hub.calls.clear()
    assert teams.sync_shares(hub, groups) == 0 and hub.calls == []
    groups["team-t1"] = ["tom"]  # tara left the team
    assert teams.sync_shares(hub, groups) == 1
    names = sorted((s["group"] or s["user"])["name"] for s in hub.shares["team-t1"])
    assert names == ["team-t1", "tom"]


# -- a real hub ----------------------------------------------------------------


def password(name):
    return ROSTER[name][2]


@pytest.fixture(scope="module")
def sessions(hub):
    """Logged-in browser sessions and API tokens of tom, tara, theo and tina."""
    out = {}
    for name in ("tom", "tara", "theo", "tina"):
        s, r = login(hub, name, password(name))
        assert r.status_code == 302, r.text
        out[name] = (s, user_token(s, hub, name))
    return out


@pytest.fixture(scope="module")
def workspace(hub, sessions):
    """The workspace of team t1, started by tom from the hub home page's link."""
    s, _ = sessions["tom"]
    home = s.get(hub.url + "/hub/home", timeout=30)
    assert home.status_code == 200
    link = f'href="/hub/spawn/{WORKSPACE}?next=/user/{WORKSPACE}/lab"'
    assert link in home.text, home.text
    # Following the link starts the workspace (a member may start it).
    r = s.get(f"{hub.url}/hub/spawn/{WORKSPACE}?next=/user/{WORKSPACE}/lab", timeout=60)
    assert r.status_code == 200, r.text[:500]
    return spawn(hub, WORKSPACE)


def open_lab(s, hub, user=WORKSPACE):
    """Open ``/user/<user>/lab`` with a logged-in session; confirm the hub's question if asked.

    The hub asks once before a member opens a server shared with them.
    """
    r = s.get(f"{hub.url}/user/{user}/lab", timeout=60)
    if r.status_code == 200 and "/hub/api/oauth2/authorize" in r.url:
        assert 'id="ai4scale-open-workspace"' in r.text
        form = {
            "_xsrf": re.search(r'name="_xsrf" value="([^"]+)"', r.text).group(1),
            "scopes": re.findall(r'name="scopes" value="([^"]+)"', r.text),
        }
        r = s.post(r.url, data=form, timeout=60)
    return r


def contents(hub, token, path="", *, user=WORKSPACE, method="GET", **kw):
    headers = {"Authorization": f"token {token}"}
    url = f"{hub.url}/user/{user}/api/contents/{path}"
    return requests.request(method, url, headers=headers, timeout=30, **kw)


@pytest.mark.hub
def test_the_hub_has_workspace_users_groups_and_shares(hub):
    group = hub.admin("GET", f"/groups/{teams.WORKSPACES_GROUP}").json()
    assert group["users"] == [WORKSPACE]
    shares = hub.admin("GET", f"/shares/{WORKSPACE}/").json()["items"]
    scopes = sorted(f"{scope}!server={WORKSPACE}/" for scope in teams.SHARE_SCOPES)
    assert all(sorted(s["scopes"]) == scopes for s in shares)
    # Shared with the team's group, and with each member (see teams.sync_shares).
    assert sorted(((s["group"] or s["user"])["name"], s["kind"]) for s in shares) == [
        ("tara", "user"),
        ("team-t1", "group"),
        ("tom", "user"),
    ]
    # Syncing again changes nothing.
    assert teams.sync_workspaces(hub.settings).endswith("0 share change(s)")
    # Nobody logs in as a workspace.
    s, r = login(hub, WORKSPACE, "anything-at-all")
    assert r.status_code == 403, (r.status_code, r.text[-1000:])
    assert "jupyterhub-hub-login" not in r.cookies


@pytest.mark.hub
def test_home_page_links(hub, sessions):
    for name in ("tom", "theo"):
        s, _ = sessions[name]
        page = s.get(hub.url + "/hub/home", timeout=30).text
        assert 'id="ai4scale-course-link"' in page
        assert 'href="/services/course/"' in page
        assert ("Open team workspace" in page) == (name == "tom")
        # A course home, not "Start My Server"; a learner's navigation has no Token or Services.
        assert "Start My Server" not in page and "My workspace" in page
        assert 'href="/hub/token"' not in page and ">Services<" not in page
        assert 'id="ai4scale-nav-course"' in page


@pytest.mark.hub
def test_members_open_the_workspace_and_share_its_files(hub, sessions, workspace):
    for name in ("tom", "tara"):
        s, token = sessions[name]
        page = open_lab(s, hub)
        assert page.status_code == 200 and "jupyter-config-data" in page.text, name
        assert contents(hub, token).status_code == 200, name
    _, tom_token = sessions["tom"]
    _, tara_token = sessions["tara"]
    r = contents(hub, tom_token, "shared.ipynb", method="PUT", json=NOTEBOOK)
    assert r.status_code in (200, 201), r.text
    r = contents(hub, tara_token, "shared.ipynb")
    assert r.status_code == 200
    assert r.json()["content"]["cells"][0]["source"] == "team = 't1'"
    # The team folder is the workspace's own home, closed to other accounts.
    pid = server_pid(WORKSPACE)
    sysname = psutil.Process(pid).username()
    assert sysname.startswith(TEST_USER_PREFIX)
    home = Path(f"/home/{sysname}")
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert (home / "shared.ipynb").stat().st_uid == psutil.Process(pid).uids().real


@pytest.mark.hub
def test_non_members_are_refused(hub, sessions, workspace):
    s, token = sessions["theo"]
    page = open_lab(s, hub)
    assert page.status_code == 403
    assert contents(hub, token).status_code == 403
    assert contents(hub, token, "shared.ipynb").status_code == 403
    r = contents(hub, token, "intruder.ipynb", method="PUT", json=NOTEBOOK)
    assert r.status_code == 403
    # ... nor may they stop or start it.
    headers = {"Authorization": f"token {token}"}
    r = requests.delete(f"{hub.api}/users/{WORKSPACE}/server", headers=headers, timeout=30)
    assert r.status_code == 404, (r.status_code, r.text)
    assert hub.admin("GET", f"/users/{WORKSPACE}").json()["servers"][""]["ready"]


@pytest.mark.hub
def test_instructors_reach_workspaces(hub, sessions, workspace):
    s, token = sessions["tina"]
    assert contents(hub, token).status_code == 200
    page = open_lab(s, hub)
    assert page.status_code == 200 and "jupyter-config-data" in page.text
    headers = {"Authorization": f"token {token}"}
    r = requests.get(f"{hub.api}/users/{WORKSPACE}", headers=headers, timeout=30)
    assert r.status_code == 200 and teams.WORKSPACES_GROUP in r.json()["groups"]


def collaboration_session(hub, user, token, path):
    return requests.put(
        f"{hub.url}/user/{user}/api/collaboration/session/{path}",
        json={"format": "json", "type": "notebook"},
        headers={"Authorization": f"token {token}"},
        timeout=30,
    )


@pytest.mark.hub
def test_collaboration_only_in_workspaces(hub, sessions, workspace):
    _, token = sessions["tara"]
    r = collaboration_session(hub, WORKSPACE, token, "shared.ipynb")
    assert r.status_code in (200, 201), r.text
    assert r.json()["fileId"]
    page = open_lab(sessions["tara"][0], hub).text
    assert "@jupyter/collaboration-extension" not in _disabled(page)

    _, theo_token = sessions["theo"]
    spawn(hub, "theo")
    r = contents(hub, theo_token, user="theo", path="own.ipynb", method="PUT", json=NOTEBOOK)
    assert r.status_code in (200, 201), r.status_code  # 201 new, 200 replaced
    r = collaboration_session(hub, "theo", theo_token, "own.ipynb")
    assert r.status_code == 404
    page = open_lab(sessions["theo"][0], hub, "theo").text
    assert "@jupyter/collaboration-extension" in _disabled(page)


def _disabled(lab_page):
    """The ``disabledExtensions`` of a JupyterLab page's config data."""
    data = re.search(r'<script id="jupyter-config-data"[^>]*>(.*?)</script>', lab_page, re.S)
    return json.loads(data.group(1)).get("disabledExtensions", [])


@pytest.mark.hub
def test_a_member_starts_a_stopped_workspace_from_the_home_page(hub, sessions, workspace):
    stop(hub, WORKSPACE)
    s, token = sessions["tara"]
    r = s.get(f"{hub.url}/hub/spawn/{WORKSPACE}?next=/user/{WORKSPACE}/lab", timeout=60)
    assert r.status_code == 200, r.text[:500]
    spawn(hub, WORKSPACE)
    assert contents(hub, token, "shared.ipynb").status_code == 200  # files kept
    # A non-member cannot start it.
    stop(hub, WORKSPACE)
    s, _ = sessions["theo"]
    r = s.get(f"{hub.url}/hub/spawn/{WORKSPACE}", timeout=60)
    assert r.status_code == 404, (r.status_code, r.text[-1000:])
    assert not hub.admin("GET", f"/users/{WORKSPACE}").json()["servers"]


@pytest.mark.hub
def test_a_member_syncs_the_shared_notebook_through_the_proxy(hub, sessions, workspace):
    """The Yjs sync a browser does, through the hub's proxy (binary frames, ``:`` in the room)."""
    import websocket
    from jupyter_ydoc import YNotebook
    from pycrdt import Doc, YMessageType, YSyncMessageType, create_sync_message, handle_sync_message

    spawn(hub, WORKSPACE)  # the test before leaves it stopped
    _, token = sessions["tom"]
    r = contents(hub, token, "shared.ipynb")
    assert r.status_code == 200, "test_members_open_the_workspace_and_share_its_files writes it"
    session = collaboration_session(hub, WORKSPACE, token, "shared.ipynb").json()
    room = f"json:notebook:{session['fileId']}"
    url = hub.url.replace("http", "ws", 1) + f"/user/{WORKSPACE}/api/collaboration/room/{room}"
    ws = websocket.create_connection(
        f"{url}?sessionId={session['sessionId']}",
        header=[f"Authorization: token {token}"],
        timeout=60,
    )
    try:
        doc = Doc()
        ws.send_binary(create_sync_message(doc))
        while True:  # until the server's answer to our state (sync step 2)
            message = ws.recv()
            assert isinstance(message, bytes)
            if message[0] == YMessageType.SYNC:
                handle_sync_message(message[1:], doc)
                if message[1] == YSyncMessageType.SYNC_STEP2:
                    break
    finally:
        ws.close()
    cells = YNotebook(doc).get()["cells"]
    assert cells[0]["source"] == "team = 't1'"
