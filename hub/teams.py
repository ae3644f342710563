"""Team workspaces: one shared, collaborative server per roster team.

A roster team ``t1`` is the hub group ``team-t1``. Its *workspace* is a hub
user of the same name, ``team-t1``, that nobody logs in as (the roster
refuses usernames starting with ``team-``, and :func:`refuse_workspace_login`
stops any identity provider that sends one). Its server is shared with the
team's group through JupyterHub's sharing feature (``POST
/hub/api/shares/team-t1/`` with ``{"group": "team-t1"}``), so members open
``/user/team-t1/lab`` with their own login, and each sees the others' edits
live: workspace servers run with real-time collaboration
(jupyter-collaboration), which learners' own servers leave off.

The workspace's home is the team folder. It belongs to the workspace's own
system account (mode 0700): members reach it only through the shared server,
non-members get 403 from it, instructors and the course service reach it
through the ``team-workspaces`` hub group (``access:servers!group=team-workspaces``).

Where the pieces are set:

* the hub groups (``team-workspaces`` with every workspace user) come from
  :func:`hub_groups`, loaded by the configurer at hub start and by the
  roster sync (:func:`~ai4scale.hub.hubapi.sync_hub`);
* the shares are made through the REST API by :func:`sync_shares` (called by
  the roster sync and by ``ai4scale up`` once the hub answers:
  :func:`sync_workspaces`);
* collaboration for workspace servers only: :func:`workspace_overrides` (a
  ``Spawner.group_overrides`` entry) points ``JUPYTER_CONFIG_PATH`` at the
  configuration that :func:`write_workspace_config` writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from .roster import WORKSPACE_PREFIX

__all__ = [
    "COLLABORATION_LAB_EXTENSIONS",
    "COLLABORATION_SERVER_EXTENSIONS",
    "IMAGE_VENV",
    "SHARE_SCOPES",
    "TEAM_PREFIX",
    "WORKSPACES_GROUP",
    "hub_groups",
    "is_workspace_user",
    "refuse_workspace_login",
    "sync_shares",
    "sync_workspaces",
    "team_group",
    "team_of",
    "workspace_config_dir",
    "workspace_environment",
    "workspace_overrides",
    "workspace_user",
    "write_workspace_config",
]

#: Prefix of team groups and of workspace users: team ``t1`` -> ``team-t1``
#: (the roster refuses usernames with it).
TEAM_PREFIX = WORKSPACE_PREFIX

#: Hub group of every workspace user; instructors and the course service are
#: given ``access:servers!group=team-workspaces``. (The roster refuses a team
#: named ``workspaces``, whose group would clash.)
WORKSPACES_GROUP = "team-workspaces"

#: What a share gives the team's members on the workspace server: open it,
#: start and stop it, see its state. The hub narrows each to
#: ``!server=team-<team>/``.
SHARE_SCOPES = ("access:servers", "servers", "read:servers")

#: Server extensions that real-time collaboration needs (the learner
#: environment turns them off for learners' own servers).
COLLABORATION_SERVER_EXTENSIONS = ("jupyter_server_ydoc", "jupyter_server_fileid")

#: JupyterLab extensions of real-time collaboration.
COLLABORATION_LAB_EXTENSIONS = (
    "@jupyter/collaboration-extension",
    "@jupyter/docprovider-extension",
)


# -- names -------------------------------------------------------------------


def team_group(team):
    """Return the hub group of roster team ``team`` (``"t1"`` -> ``"team-t1"``)."""
    return f"{TEAM_PREFIX}{team}"


def workspace_user(team):
    """Return the hub user that owns the workspace of roster team ``team``.

    Parameters
    ----------
    team : str
        The team's name as in the roster (``"t1"``), not its group.

    Returns
    -------
    str
        ``"team-<team>"``: the workspace is at ``/user/team-<team>/``.

    Raises
    ------
    ValueError
        For an empty name or ``"workspaces"`` (whose group is the
        workspaces group).

    Examples
    --------
    >>> workspace_user("fraud-audit")
    'team-fraud-audit'
    """
    if not team or team_group(team) == WORKSPACES_GROUP:
        raise ValueError(f"not a team name: {team!r}")
    return f"{TEAM_PREFIX}{team}"


def is_workspace_user(username):
    """Return whether hub user ``username`` is a team workspace (not a person)."""
    return username.startswith(TEAM_PREFIX) and username != WORKSPACES_GROUP


def _team_from_group(group):
    if group.startswith(TEAM_PREFIX) and group != WORKSPACES_GROUP:
        return group[len(TEAM_PREFIX) :]
    return None


def team_of(username, *, groups=None, store=None, settings=None):
    """Return the roster team of ``username``, or None.

    The answer comes from the first source given: the user's hub groups
    (as in the hub's user model, which a service already has), else the
    account store, else the store of ``settings`` (default: the settings
    file the ``ai4scale`` command reads). A workspace user is in its own
    team.

    Parameters
    ----------
    username : str
    groups : iterable of str, optional
        Names of the user's hub groups (``model["groups"]``).
    store : AccountStore, optional
    settings : dict, optional

    Returns
    -------
    str or None
        The team's name as in the roster (``"t1"``, not ``"team-t1"``).

    Examples
    --------
    >>> team_of("tom", groups=["learners", "team-t1"])
    't1'
    >>> team_of("team-t1")
    't1'
    """
    if is_workspace_user(username):
        return username[len(TEAM_PREFIX) :]
    if groups is not None:
        teams = sorted(t for t in map(_team_from_group, groups) if t)
        return teams[0] if teams else None
    if store is None:
        from ._settings import load_settings
        from .accounts import AccountStore

        store = AccountStore.from_settings(settings or load_settings(), create=False)
        if store is None:
            return None
        try:
            account = store.get(username)
        finally:
            store.close()
    else:
        account = store.get(username)
    return account.team if account is not None else None


def hub_groups(store):
    """Return the hub groups of the roster, with the workspaces group.

    Parameters
    ----------
    store : AccountStore

    Returns
    -------
    dict of str to list of str
        :meth:`AccountStore.groups` plus ``team-workspaces``: the workspace
        user of every team (sorted).
    """
    groups = store.groups()
    groups[WORKSPACES_GROUP] = sorted(
        workspace_user(name.removeprefix(TEAM_PREFIX)) for name in groups if _team_from_group(name)
    )
    return groups


# -- the workspace servers -------------------------------------------------------


#: The learners' environment inside the single-user image (``hub/Dockerfile``),
#: whose build writes the workspace configuration there too.
IMAGE_VENV = "/opt/ai4scale/venv"


def workspace_config_dir(settings):
    """Return the Jupyter configuration directory of workspace servers in ``paths.venv``."""
    return Path(settings["paths"]["venv"]) / "etc" / "jupyter-workspace"


def write_workspace_config(settings):
    """Write the configuration that turns collaboration back on for workspaces.

    A directory named by ``JUPYTER_CONFIG_PATH`` ranks above the
    environment's own ``etc/jupyter``, where the learner environment turns
    collaboration off; both the server extensions and JupyterLab's page
    config merge key by key, so only these keys change.

    Parameters
    ----------
    settings : dict

    Returns
    -------
    Path
        The directory.
    """
    root = workspace_config_dir(settings)
    _write_json(
        root / "jupyter_server_config.d" / "zz-ai4scale-workspace.json",
        {
            "ServerApp": {
                "jpserver_extensions": dict.fromkeys(COLLABORATION_SERVER_EXTENSIONS, True)
            }
        },
    )
    _write_json(
        root / "labconfig" / "page_config.json",
        {"disabledExtensions": dict.fromkeys(COLLABORATION_LAB_EXTENSIONS, False)},
    )
    root.chmod(0o755)
    return root


def _write_json(path, data):
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    path.chmod(0o644)
    path.parent.chmod(0o755)


def workspace_environment(settings):
    """Return the environment variables of a workspace server.

    On the docker and kubernetes profiles servers run the single-user image,
    whose build wrote the workspace configuration into its own environment
    (:data:`IMAGE_VENV`); the host's ``paths.venv`` means nothing there.
    """
    if settings.get("profile") in ("docker", "kubernetes"):
        folder = workspace_config_dir({"paths": {"venv": IMAGE_VENV}})
    else:
        folder = workspace_config_dir(settings)
    return {"JUPYTER_CONFIG_PATH": str(folder)}


def workspace_overrides(spawner, *, environment):
    """Return the ``Spawner.group_overrides`` entry for workspace servers.

    Parameters
    ----------
    spawner : jupyterhub.spawner.Spawner
    environment : dict
        :func:`workspace_environment`.

    Returns
    -------
    dict
        One entry for members of ``team-workspaces``: collaboration on, and
        ``access:servers!group=team-workspaces`` among the server's access
        scopes, so that instructors' and the course service's API tokens,
        which carry that group filter, are accepted by the server (it cannot
        resolve groups itself; see ``learner_server_access`` in the
        configurer).
    """
    own = [
        f"access:servers!server={spawner.user.name}/{spawner.name}",
        f"access:servers!user={spawner.user.name}",
    ]
    return {
        "ai4scale-team-workspaces": {
            "groups": [WORKSPACES_GROUP],
            "spawner_override": {
                "oauth_access_scopes": own + [f"access:servers!group={WORKSPACES_GROUP}"],
                "environment": dict(environment),
            },
        }
    }


def refuse_workspace_login(authenticator, handler, authentication):
    """``Authenticator.post_auth_hook``: nobody logs in as a team workspace.

    The roster already refuses such usernames; this also covers an identity
    provider (OIDC, LTI) that sends one.
    """
    from tornado import web

    if authentication and is_workspace_user(authentication.get("name", "")):
        authenticator.log.warning("Login refused for %s: a team workspace", authentication["name"])
        raise web.HTTPError(403, "This name belongs to a team workspace; sign in as yourself.")
    return authentication


# -- shares through the hub's REST API ------------------------------------------


def _share_scopes(user):
    return sorted(f"{scope}!server={user}/" for scope in SHARE_SCOPES)


def _share_target(share):
    if share.get("group"):
        return ("group", share["group"]["name"])
    return ("user", share["user"]["name"])


def sync_shares(hub, groups):
    """Share each workspace server with its team, and only with it.

    Each workspace is shared with the team's group and, besides, with each
    member by name. JupyterHub 6.1 honours a group share in the hub's own
    pages and API, but drops it from the members' OAuth and API tokens
    (``scopes.get_scopes_for`` adds only the token owner's own shares), so
    the server would refuse them; the members' own shares let them in. A
    member who leaves the team loses both at the next sync.

    Parameters
    ----------
    hub : object
        A hub API client with ``call(method, path, json=None, ok=...)`` and
        ``list(path)`` (as :func:`~ai4scale.hub.hubapi.connect` returns),
        using a token with the ``shares``, ``admin:servers``, ``admin:users``
        and ``admin:groups`` scopes (the ``ai4scale-admin`` service's).
    groups : dict of str to list of str
        :func:`hub_groups` (the workspace users must exist in the hub).

    Returns
    -------
    int
        How many workspaces had their shares replaced.
    """
    changes = 0
    for user in groups.get(WORKSPACES_GROUP, []):
        group = team_group(user.removeprefix(TEAM_PREFIX))
        scopes = _share_scopes(user)
        wanted = {("group", group)} | {("user", member) for member in groups.get(group, [])}
        path = f"/shares/{quote(user)}/"
        current = hub.list(path)
        if {_share_target(s) for s in current} == wanted and len(current) == len(wanted):
            if all(sorted(s["scopes"]) == scopes for s in current):
                continue
        # Anything else (a share made by hand, one left from an old roster,
        # other scopes) is replaced: the roster says who is in the team.
        if current:
            hub.call("DELETE", path)
        for kind, name in sorted(wanted):
            hub.call("POST", path, json={kind: name, "scopes": list(SHARE_SCOPES)})
        changes += 1
    return changes


def sync_workspaces(settings, store=None, *, timeout=10.0):
    """Bring a running hub's team workspaces in line with the roster.

    Creates missing workspace users, sets the ``team-workspaces`` group and
    shares each workspace with its team (:func:`sync_shares`). Leaves every
    other user and group alone: the full roster sync is
    :func:`~ai4scale.hub.hubapi.sync_hub`, which calls this too.

    Parameters
    ----------
    settings : dict
    store : AccountStore, optional
        Default: the store of ``settings``.
    timeout : float
        Seconds to wait for each API answer.

    Returns
    -------
    str or None
        A one-line summary, or None if no hub answers or there is no roster.
    """
    from .accounts import AccountStore
    from .hubapi import connect

    own_store = store is None
    if own_store:
        store = AccountStore.from_settings(settings, create=False)
        if store is None:
            return None
    try:
        groups = hub_groups(store)
    finally:
        if own_store:
            store.close()
    hub = connect(settings, timeout=timeout)
    if hub is None:
        return None
    wanted = groups[WORKSPACES_GROUP]
    existing = {u["name"] for u in hub.list("/users")}
    missing = sorted(set(wanted) - existing)
    if missing:
        hub.call("POST", "/users", json={"usernames": missing})
    group_path = f"/groups/{quote(WORKSPACES_GROUP)}"
    model = hub.call("GET", group_path, ok=(200, 404))
    if model is None or "users" not in model:
        hub.call("POST", group_path, json={"users": wanted})
    else:
        to_add = sorted(set(wanted) - set(model["users"]))
        if to_add:
            hub.call("POST", f"{group_path}/users", json={"users": to_add})
    changes = sync_shares(hub, groups)
    return f"team workspaces: {len(wanted)} ({len(missing)} created), {changes} share change(s)"
