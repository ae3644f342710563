"""Bring a running hub's users and groups in line with the account store.

After ``ai4scale roster import`` the running hub learns the new roster at
once through its REST API, with the token of the ``ai4scale-admin`` service
(the configurer registers it). If no hub is running, nothing is done: the hub
loads the groups from the store when it starts.
"""

from __future__ import annotations

import time
from urllib.parse import quote

import requests

from . import teams
from ._errors import UserError
from ._state import admin_token_file

__all__ = ["HubSyncError", "connect", "hub_api_url", "sync_hub"]

#: Groups the sandbox owns besides ``team-*``; other hub groups are left alone.
ROSTER_GROUPS = ("instructors", "learners")
TEAM_PREFIX = "team-"
_PAGINATION = "application/jupyterhub-pagination+json"


class HubSyncError(UserError):
    """The running hub refused a change or answered unexpectedly."""


def hub_api_url(settings):
    """Return the hub's REST API URL as seen from this machine.

    Parameters
    ----------
    settings : dict

    Returns
    -------
    str
        ``http://127.0.0.1:{hub.port}/hub/api``.
    """
    return f"http://127.0.0.1:{settings['hub']['port']}/hub/api"


class _Hub:
    """A thin client for the few API calls the sync needs."""

    def __init__(self, url, token, timeout):
        self.url = url
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"

    def call(self, method, path, *, json=None, ok=(200, 201, 202, 204)):
        response = self.session.request(method, self.url + path, json=json, timeout=self.timeout)
        if response.status_code not in ok:
            try:
                message = response.json().get("message", response.text)
            except ValueError:
                message = response.text
            raise HubSyncError(
                f"hub API {method} {path}: HTTP {response.status_code}: {message.strip()[:300]}"
            )
        return response.json() if response.content else None

    def list(self, path):
        """Every item of a paginated list endpoint."""
        items, offset = [], 0
        while True:
            response = self.session.get(
                f"{self.url}{path}",
                params={"offset": offset, "limit": 200},
                headers={"Accept": _PAGINATION},
                timeout=self.timeout,
            )
            if response.status_code != 200:
                raise HubSyncError(f"hub API GET {path}: HTTP {response.status_code}")
            body = response.json()
            if isinstance(body, list):  # an old hub without pagination
                return body
            items.extend(body["items"])
            following = (body.get("_pagination") or {}).get("next")
            if not following:
                return items
            offset = following["offset"]


def connect(settings, *, timeout=5.0):
    """Return an API client of the running hub with the admin service's token.

    Parameters
    ----------
    settings : dict
        Loaded settings (``hub.port``, ``paths.state_dir``).
    timeout : float
        Seconds to wait for each API answer.

    Returns
    -------
    object or None
        A client with ``call(method, path, json=None, ok=...)`` and
        ``list(path)``; None if no hub answers.

    Raises
    ------
    HubSyncError
        A hub answers but the admin token file is missing.
    """
    url = hub_api_url(settings)
    try:
        requests.get(url, timeout=min(timeout, 2.0))
    except requests.RequestException:
        return None
    token_file = admin_token_file(settings)
    if not token_file.exists():
        raise HubSyncError(
            f"a hub answers at {url} but {token_file} is missing: restart the hub "
            "with the sandbox configuration to pick up the roster"
        )
    return _Hub(url, token_file.read_text().strip(), timeout)


def _is_running(model):
    return any(server for server in (model.get("servers") or {}).values())


def _stop_servers(hub, name, model, *, wait):
    """Stop every server of user ``name`` and wait until they are gone."""
    for server_name in model.get("servers") or {}:
        path = f"/users/{quote(name)}/server"
        if server_name:
            path = f"/users/{quote(name)}/servers/{quote(server_name)}"
        hub.call("DELETE", path, ok=(202, 204, 400))
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not _is_running(hub.call("GET", f"/users/{quote(name)}")):
            return
        time.sleep(0.5)
    raise HubSyncError(f"the server of {name!r} did not stop within {wait} s")


def sync_hub(settings, store, *, timeout=5.0, stop_wait=60.0):
    """Make the running hub's users and groups match ``store``.

    Creates missing users, deletes hub users no longer in the roster (after
    stopping their servers; hub admins are never deleted), creates the
    ``instructors``, ``learners`` and ``team-*`` groups and sets their
    members, and deletes ``team-*`` groups no team uses any more.

    Parameters
    ----------
    settings : dict
        Loaded settings (``hub.port``, ``paths.state_dir``).
    store : AccountStore
        The account store, already updated.
    timeout : float
        Seconds to wait for each API answer.
    stop_wait : float
        Seconds to wait for a removed user's server to stop.

    Returns
    -------
    str or None
        A one-line summary, or None if no hub answers.

    Raises
    ------
    HubSyncError
        A hub answers but refuses a change (or no admin token is found).
    """
    hub = connect(settings, timeout=timeout)
    if hub is None:
        return None

    wanted_groups = teams.hub_groups(store)
    # Team workspaces are hub users too (see ai4scale.hub.teams).
    wanted_users = set(store.usernames()) | set(wanted_groups[teams.WORKSPACES_GROUP])
    admins = set(settings["hub"].get("admin_users", []))

    hub_users = {u["name"]: u for u in hub.list("/users")}
    created = sorted(wanted_users - set(hub_users))
    if created:
        hub.call("POST", "/users", json={"usernames": created})
    removed = sorted(
        name
        for name, model in hub_users.items()
        if name not in wanted_users and not model.get("admin") and name not in admins
    )
    for name in removed:
        model = hub.call("GET", f"/users/{quote(name)}")
        if _is_running(model):
            _stop_servers(hub, name, model, wait=stop_wait)
        hub.call("DELETE", f"/users/{quote(name)}")

    hub_groups = {g["name"]: g for g in hub.list("/groups")}
    changes = 0
    for group, members in sorted(wanted_groups.items()):
        path = f"/groups/{quote(group)}"
        if group not in hub_groups:
            hub.call("POST", path, json={"users": members})
            changes += 1
            continue
        current = set(hub_groups[group].get("users") or []) - set(removed)
        to_add = sorted(set(members) - current)
        to_drop = sorted(current - set(members))
        if to_add:
            hub.call("POST", f"{path}/users", json={"users": to_add})
        if to_drop:
            hub.call("DELETE", f"{path}/users", json={"users": to_drop})
        changes += bool(to_add) + bool(to_drop)
    stale = sorted(
        name for name in hub_groups if name.startswith(TEAM_PREFIX) and name not in wanted_groups
    )
    for group in stale:
        hub.call("DELETE", f"/groups/{quote(group)}")
    shares = teams.sync_shares(hub, wanted_groups)
    return (
        f"hub updated: {len(created)} user(s) created, {len(removed)} deleted, "
        f"{changes} group change(s), {len(stale)} old team group(s) deleted, "
        f"{shares} team workspace share(s) set"
    )
