"""Turn the settings dict into JupyterHub's traitlets configuration.

As in The Littlest JupyterHub, :func:`apply_config` runs a list of small
``update_*`` steps; each one only *sets* keys on ``c`` (never appends to or
mutates what is there), so applying the same settings twice gives the same
configuration.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from ._security import update_security
from ._settings import load_settings
from ._state import admin_token_file, read_or_create_secret, state_dir
from .daemons.parent_death import wrap
from .teams import (
    WORKSPACES_GROUP,
    hub_groups,
    refuse_workspace_login,
    workspace_environment,
    workspace_overrides,
)

__all__ = [
    "ADMIN_SERVICE",
    "INSTRUCTOR_SCOPES",
    "apply_config",
    "course_url_for_servers",
    "server_token_scopes",
    "update_steps",
]

TEMPLATES_DIR = Path(__file__).with_name("templates")

#: Name of the hub-managed service the ``ai4scale`` command uses to sync the roster.
ADMIN_SERVICE = "ai4scale-admin"

#: What an instructor may do: see the learners and the team workspaces and
#: open their servers.
INSTRUCTOR_SCOPES = [
    "list:users!group=learners",
    "read:users!group=learners",
    "read:servers!group=learners",
    "access:servers!group=learners",
    "read:groups!group=learners",
    "list:groups",
    f"list:users!group={WORKSPACES_GROUP}",
    f"read:users!group={WORKSPACES_GROUP}",
    f"read:servers!group={WORKSPACES_GROUP}",
    f"access:servers!group={WORKSPACES_GROUP}",
]


def _venv_bin(settings, name):
    return str(Path(settings["paths"]["venv"]) / "bin" / name)


def update_network(c, settings):
    """Set where the proxy, the hub API and the proxy API listen.

    The proxy runs as a process of its own (:mod:`ai4scale.hub.daemons.proxy`,
    started by ``ai4scale up`` or its systemd unit): the hub neither starts
    nor stops it, so a hub restart keeps the public port and every open
    connection. The hub reads the proxy API's token from the state directory,
    and puts the routes back when the proxy restarts on its own (``KeptProxy``).
    Under the Zero to JupyterHub chart the chart sets all this; leave it.
    """
    if settings["profile"] == "kubernetes":
        return
    from .daemons import proxy_token

    hub = settings["hub"]
    c.JupyterHub.bind_url = f"http://{hub['ip']}:{hub['port']}"
    c.JupyterHub.hub_port = hub["api_port"]
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{hub['proxy_api_port']}"
    c.JupyterHub.proxy_class = "ai4scale.hub.daemons.hubproxy.KeptProxy"
    c.ConfigurableHTTPProxy.should_start = False
    c.ConfigurableHTTPProxy.auth_token = proxy_token(settings)


def update_state(c, settings):
    """Keep the hub database and cookie secret in the state directory; keep servers on restart.

    ``cleanup_servers`` is off: stopping or restarting the hub (an upgrade,
    new settings, a service manager's restart) leaves learners' servers and
    kernels running; the restarted hub finds them from its database (the
    spawner's saved state: pid and cgroup). ``ai4scale down`` stops them.
    """
    state = state_dir(settings)
    c.JupyterHub.db_url = settings["hub"]["db_url"].replace("{state_dir}", str(state))
    c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
    c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
    c.JupyterHub.cleanup_servers = False
    c.JupyterHub.cleanup_proxy = False


def landing_url(handler):
    """Where a user lands after login: trainers on the teaching page, learners in JupyterLab.

    ``JupyterHub.default_url`` as a callable; ``""`` keeps JupyterHub's own
    choice (the user's server, started if needed), where the "My labs" panel
    and the first-visit welcome wait for learners.
    """
    user = handler.current_user
    groups = {g.name for g in getattr(user, "groups", [])} if user is not None else set()
    if user is not None and (user.admin or "instructors" in groups):
        return handler.base_url + "services/course/instructor/"
    return ""


def update_branding(c, settings):
    """Use our templates, with the programme's name and description; trainers land on teaching."""
    c.JupyterHub.default_url = landing_url
    c.JupyterHub.template_paths = [str(TEMPLATES_DIR)]
    c.JupyterHub.template_vars = {
        "ai4scale_name": settings["branding"]["name"],
        "ai4scale_description": settings["branding"]["description"],
        # The built-in login serves /hub/codes, where instructors issue one-time codes.
        "ai4scale_codes_page": settings["auth"]["type"] == "roster",
    }


def update_auth(c, settings):
    """Set the authenticator chosen by ``auth.type`` and the hub admins."""
    from .authconfig import update_auth as _update_auth

    _update_auth(c, settings)
    c.Authenticator.admin_users = set(settings["hub"]["admin_users"])
    c.Authenticator.post_auth_hook = refuse_workspace_login


def update_groups_and_roles(c, settings):
    """Load hub groups from the roster and give ``instructors`` the instructor role.

    The groups include ``team-workspaces``, whose users (one per team) the
    hub creates at start; :func:`ai4scale.hub.teams.sync_workspaces` shares
    them once the hub answers.
    """
    from .accounts import AccountStore

    groups = {"instructors": [], "learners": [], WORKSPACES_GROUP: []}
    store = AccountStore.from_settings(settings, create=False)
    if store is not None:
        groups.update(hub_groups(store))
    c.JupyterHub.load_groups = {name: {"users": sorted(users)} for name, users in groups.items()}
    c.JupyterHub.load_roles = [
        {
            "name": "instructor",
            "description": "Course instructors: list learners and open their servers.",
            "scopes": list(INSTRUCTOR_SCOPES),
            "groups": ["instructors"],
        },
        {
            "name": ADMIN_SERVICE,
            "description": "The ai4scale command: roster sync, team workspace shares.",
            "scopes": [
                "admin:users",
                "admin:groups",
                "admin:servers",
                "shares",
                "list:users",
                "list:services",
                "read:services",
            ],
            "services": [ADMIN_SERVICE],
        },
    ]
    if settings["culler"]["timeout"] > 0:
        c.JupyterHub.load_roles.append(
            {
                "name": "idle-culler",
                "description": "Stop idle servers.",
                "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
                "services": ["idle-culler"],
            }
        )
    c.JupyterHub.load_roles += course_roles(settings)


def update_services(c, settings):
    """Set the managed idle culler and the admin service token.

    Managed services run through :mod:`ai4scale.hub.daemons.parent_death`:
    they end with the hub that started them, also when it is killed.
    """
    services = [
        {
            "name": ADMIN_SERVICE,
            "api_token": read_or_create_secret(admin_token_file(settings)),
        }
    ]
    culler = settings["culler"]
    if culler["timeout"] > 0:
        services.append(
            {
                "name": "idle-culler",
                "command": wrap(
                    [
                        sys.executable,
                        "-m",
                        "jupyterhub_idle_culler",
                        f"--timeout={culler['timeout']}",
                        f"--cull-every={culler['every']}",
                    ]
                ),
            }
        )
    c.JupyterHub.services = services + course_services(settings)


#: Name of the course service (``/services/course/``, :mod:`ai4scale.hub.course`).
COURSE_SERVICE = "course"


def course_services(settings):
    """Return the managed course service, unless ``course.enabled`` is false.

    The hub starts ``python -m ai4scale.hub.course`` (as root: it runs the
    grading sandbox) with the settings file, on ``course.port``; learners
    and instructors log in to it through the hub's OAuth without a
    confirmation page.

    Returns
    -------
    list of dict
        Entries of ``JupyterHub.services``.
    """
    course = settings["course"]
    if not course["enabled"]:
        return []
    from ._settings import settings_path

    file = str(settings_path())
    return [
        {
            "name": COURSE_SERVICE,
            "url": f"http://127.0.0.1:{course['port']}",
            "command": wrap([sys.executable, "-m", "ai4scale.hub.course", "--settings", file]),
            "environment": {"AI4SCALE_CONFIG": file},
            "oauth_no_confirm": True,
            "display": True,
            "info": {"description": "Labs, submissions, grades and feedback"},
        }
    ]


def course_roles(settings):
    """Return the roles of the course service's token and of its users.

    The service's token reads users and groups (who is an instructor, who is
    in which team is decided from hub groups) and reaches learners' and team
    workspaces' servers (their contents API: notebooks travel over HTTP);
    those servers accept it through :func:`learner_server_access` and the
    team workspaces' overrides. Learners and instructors may log in to it.

    Returns
    -------
    list of dict
        Entries of ``JupyterHub.load_roles``.
    """
    if not settings["course"]["enabled"]:
        return []
    from .teams import WORKSPACES_GROUP

    return [
        {
            "name": "course-service",
            "description": "The course service: read users and groups, reach learners' servers.",
            "scopes": [
                "list:users",
                "read:users",
                "read:servers",
                "list:groups",
                "read:groups",
                "access:servers!group=learners",
                f"access:servers!group={WORKSPACES_GROUP}",
            ],
            "services": [COURSE_SERVICE],
        },
        {
            "name": "course-user",
            "description": "Use the course service at /services/course/.",
            "scopes": [f"access:services!service={COURSE_SERVICE}"],
            "groups": ["learners", "instructors"],
        },
        {
            # Nobody logs in as a workspace; its server's token (in the
            # kernels the team shares) fetches the team's use-case data and
            # saves assessment results. The service decides what it may see.
            "name": "course-workspace",
            "description": "Team workspaces' notebooks use the course service (use-case data).",
            "scopes": [f"access:services!service={COURSE_SERVICE}"],
            "groups": [WORKSPACES_GROUP],
        },
    ]


#: Scopes of a server's own token, ``$JUPYTERHUB_API_TOKEN``, which its
#: kernels inherit: JupyterHub's default ``server`` role (post activity,
#: access to the server itself).
SERVER_TOKEN_SCOPES = ["users:activity!user", "access:servers!server"]


def server_token_scopes(settings):
    """Return ``Spawner.server_token_scopes``: the default plus the course service.

    With the course service on, the token may also call it as the server's
    owner: a kernel fetches its team's use-case data and saves assessment
    results (:mod:`ai4scale.datasets._service`). The hub gives a token only
    the scopes its owner holds (roles ``course-user`` and
    ``course-workspace``), and the service checks each request as for the
    owner's browser.

    Returns
    -------
    list of str
    """
    scopes = list(SERVER_TOKEN_SCOPES)
    if settings["course"]["enabled"]:
        scopes.append(f"access:services!service={COURSE_SERVICE}")
    return scopes


def course_url_for_servers(settings):
    """Return where learners' servers reach the course service, or None when it is off.

    The ``AI4SCALE_COURSE_URL`` of servers (and their kernels):

    - ``local``: the service itself on this machine,
      ``http://127.0.0.1:<course.port>/services/course/``;
    - ``docker``: on the host network as ``local`` (containers share this
      machine's loopback); on a named network, the proxy in the hub's
      container, by its name (the service listens on the container's
      loopback only);
    - ``kubernetes``: the proxy's Service, which the chart's network policy
      lets learners' pods reach (the service's port on the hub pod is open
      to the proxy only).

    Returns
    -------
    str or None
    """
    course = settings["course"]
    if not course["enabled"]:
        return None
    path = f"/services/{COURSE_SERVICE}/"
    if settings["profile"] == "docker" and settings["docker"]["network"] != "host":
        from .profiles.docker import HUB_HOSTNAME

        return f"http://{HUB_HOSTNAME}:{settings['hub']['port']}{path}"
    if settings["profile"] == "kubernetes":
        from .profiles.kubernetes import PROXY_SERVICE

        return PROXY_SERVICE + path
    return f"http://127.0.0.1:{course['port']}{path}"


def learner_server_access(spawner):
    """Return group overrides that let ``access:servers!group=learners`` reach a learner's server.

    A single-user server checks API tokens without the hub database, so it
    cannot tell that its owner is in ``learners``; an instructor's token
    scope ``access:servers!group=learners`` would be refused. Naming the
    group among the server's own access scopes lets the check match.
    (Browser logins go through the hub's OAuth, which resolves groups.)

    Parameters
    ----------
    spawner : jupyterhub.spawner.Spawner
        Any spawner class: this is the callable form of ``Spawner.group_overrides``.

    Returns
    -------
    dict
    """
    own = [
        f"access:servers!server={spawner.user.name}/{spawner.name}",
        f"access:servers!user={spawner.user.name}",
    ]
    return {
        "ai4scale-learners": {
            "groups": ["learners"],
            "spawner_override": {"oauth_access_scopes": own + ["access:servers!group=learners"]},
        }
    }


@dataclass
class ServerAccess:
    """``Spawner.group_overrides`` of every server: learners' and team workspaces'.

    A dataclass rather than a closure so that two configurations from the
    same settings compare equal.

    Parameters
    ----------
    workspace_env : dict
        Environment of workspace servers (collaboration on).
    """

    workspace_env: dict

    def __call__(self, spawner):
        """Return the learners' and the team workspaces' overrides for ``spawner``."""
        overrides = learner_server_access(spawner)
        overrides.update(workspace_overrides(spawner, environment=self.workspace_env))
        return overrides


#: Thread-pool sizes read by numpy's BLAS, scikit-learn and friends at import.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


def thread_caps(cpu_limit):
    """Return environment variables sizing thread pools to the server's CPU limit.

    Without them numpy's BLAS starts one busy-waiting thread per core of the
    machine; under a CPU quota of one core they throttle each other (measured
    here: a logistic regression and matrix products 5x slower in a 1-CPU
    cgroup with the default two threads than with one).
    """
    threads = str(max(1, int(float(cpu_limit))))
    return dict.fromkeys(THREAD_VARIABLES, threads)


def update_spawner_common(c, settings):
    """Set limits and the learner's landing page, whatever the profile."""
    limits = settings["limits"]
    c.Spawner.mem_limit = limits["memory"]
    c.Spawner.cpu_limit = float(limits["cpu"])
    c.Spawner.default_url = settings["hub"]["default_url"]
    c.Spawner.group_overrides = ServerAccess(workspace_environment(settings))
    environment = {
        "AI4SCALE_DATASETS": settings["paths"]["datasets_dir"],
        **thread_caps(limits["cpu"]),
    }
    course_url = course_url_for_servers(settings)
    if course_url:  # kernels reach the course service (datasets._service)
        environment["AI4SCALE_COURSE_URL"] = course_url
    c.Spawner.environment = environment
    c.Spawner.server_token_scopes = server_token_scopes(settings)
    # Python kernels start a little slowly on a busy machine; be patient.
    c.Spawner.start_timeout = 120
    c.Spawner.http_timeout = 90


def update_profile(c, settings):
    """Set the spawner of the chosen profile (local, docker, kubernetes)."""
    from .profiles import PROFILES

    PROFILES[settings["profile"]](c, settings)


def update_steps():
    """Return the update steps in the order :func:`apply_config` runs them."""
    return [
        update_network,
        update_state,
        update_branding,
        update_security,
        update_auth,
        update_groups_and_roles,
        update_services,
        update_spawner_common,
        update_profile,
    ]


def apply_config(c, settings=None, *, path=None):
    """Apply the sandbox settings to JupyterHub's config object ``c``.

    Parameters
    ----------
    c : traitlets.config.Config
        The config object (``c`` in ``jupyterhub_config.py``).
    settings : dict, optional
        Already loaded settings; loaded with :func:`load_settings` if omitted.
    path : str or Path, optional
        Settings file to load when ``settings`` is omitted.

    Returns
    -------
    traitlets.config.Config
        The same ``c``, for chaining in tests.

    Examples
    --------
    >>> from traitlets.config import Config
    >>> from ai4scale.hub import apply_config, default_settings
    >>> c = apply_config(Config(), default_settings())
    >>> c.JupyterHub.bind_url
    'http://127.0.0.1:8000'
    """
    if settings is None:
        settings = load_settings(path)
    for step in update_steps():
        step(c, settings)
    return c
