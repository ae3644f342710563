"""apply_config end to end: settings file -> traitlets Config -> what JupyterHub loads.

Each test writes a settings file into a temporary directory (state there too,
so nothing touches /srv), loads it with load_settings, applies it to a fresh
Config, and checks the result; the spawner and authenticator names are
resolved by JupyterHub itself, as at hub start.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import ai4scale.hub
import pytest
import sqlalchemy
from ai4scale.hub import SettingsError, apply_config, load_settings
from ai4scale.hub._configurer import INSTRUCTOR_SCOPES
from ai4scale.hub._settings import settings_path
from jupyterhub.app import JupyterHub
from traitlets.config import Config

HUB_DIR = Path(ai4scale.hub.__file__).parent


def write_settings(tmp_path, text=""):
    """A settings file with state and datasets under tmp_path, plus ``text``."""
    state = tmp_path / "state"
    datasets = tmp_path / "datasets"
    datasets.mkdir(exist_ok=True)
    path = tmp_path / "ai4scale.toml"
    path.write_text(f'{text}\n[paths]\nstate_dir = "{state}"\ndatasets_dir = "{datasets}"\n')
    return path


def configure(tmp_path, text=""):
    settings = load_settings(write_settings(tmp_path, text))
    return settings, apply_config(Config(), settings)


def loaded(c):
    """The JupyterHub application as configured by ``c`` (not started)."""
    return JupyterHub(config=c)


def test_defaults_give_the_local_profile(tmp_path):
    settings, c = configure(tmp_path)
    state = tmp_path / "state"

    assert c.JupyterHub.bind_url == "http://127.0.0.1:8000"
    assert c.JupyterHub.hub_port == 8081
    assert c.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:8001"
    assert c.JupyterHub.db_url == f"sqlite:///{state}/jupyterhub.sqlite"
    assert c.JupyterHub.cookie_secret_file == f"{state}/jupyterhub_cookie_secret"
    assert c.JupyterHub.template_paths == [str(HUB_DIR / "templates")]
    assert c.JupyterHub.template_vars["ai4scale_name"] == "AI4Scale Sandbox"

    services = {s["name"]: s for s in c.JupyterHub.services}
    culler = services["idle-culler"]["command"]
    # Managed services end with the hub that started them (this process here).
    assert culler[1:4] == ["-m", "ai4scale.hub.daemons.parent_death", str(os.getpid())]
    assert culler[5:7] == ["-m", "jupyterhub_idle_culler"]
    assert "--timeout=3600" in culler and "--cull-every=300" in culler
    token = (state / "admin-service-token").read_text().strip()
    assert services["ai4scale-admin"]["api_token"] == token

    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert roles["instructor"]["scopes"] == INSTRUCTOR_SCOPES
    assert roles["instructor"]["groups"] == ["instructors"]
    assert roles["idle-culler"]["services"] == ["idle-culler"]
    assert "delete:servers" in roles["idle-culler"]["scopes"]

    assert c.Spawner.mem_limit == "2G"
    assert c.Spawner.cpu_limit == 1.0
    # thread pools sized to the CPU limit, not to the machine's cores
    assert c.Spawner.environment["OPENBLAS_NUM_THREADS"] == "1"
    assert c.Spawner.environment["OMP_NUM_THREADS"] == "1"

    hub = loaded(c)
    assert hub.spawner_class.__name__ == "SandboxSpawner"
    assert hub.authenticator_class.__name__ == "RosterAuthenticator"
    assert c.RosterAuthenticator.accounts_url == f"sqlite:///{state}/accounts.sqlite"


def test_restarts_keep_servers_and_the_proxy(tmp_path):
    settings, c = configure(tmp_path)
    assert c.JupyterHub.cleanup_servers is False
    assert c.JupyterHub.cleanup_proxy is False
    # The proxy is its own process; the hub reads its token from a root-only file.
    assert c.ConfigurableHTTPProxy.should_start is False
    token_file = tmp_path / "state" / "proxy-auth-token"
    assert c.ConfigurableHTTPProxy.auth_token == token_file.read_text().strip()
    assert token_file.stat().st_mode & 0o777 == 0o600
    hub = loaded(c)
    assert hub.cleanup_servers is False
    # ... and puts the routes back when the proxy restarts on its own.
    assert hub.proxy_class.__name__ == "KeptProxy"


def test_culler_off_when_timeout_is_zero(tmp_path):
    _, c = configure(tmp_path, "[culler]\ntimeout = 0")
    assert [s["name"] for s in c.JupyterHub.services] == ["ai4scale-admin", "course"]


def test_course_service_its_token_and_who_may_use_it(tmp_path):
    _, c = configure(tmp_path, "[course]\nport = 8099")
    course = {s["name"]: s for s in c.JupyterHub.services}["course"]
    assert course["url"] == "http://127.0.0.1:8099"
    assert course["command"][2:4] == ["ai4scale.hub.daemons.parent_death", str(os.getpid())]
    assert course["command"][5:] == [
        "-m",
        "ai4scale.hub.course",
        "--settings",
        str(settings_path()),
    ]
    assert course["environment"] == {"AI4SCALE_CONFIG": str(settings_path())}
    assert course["oauth_no_confirm"] is True
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    service = roles["course-service"]
    assert service["services"] == ["course"]
    assert "access:servers!group=learners" in service["scopes"]
    assert "access:servers!group=team-workspaces" in service["scopes"]
    assert {"read:users", "read:groups", "read:servers"} <= set(service["scopes"])
    assert not any(s.startswith(("admin", "servers", "delete")) for s in service["scopes"])
    assert roles["course-user"] == {
        "name": "course-user",
        "description": roles["course-user"]["description"],
        "scopes": ["access:services!service=course"],
        "groups": ["learners", "instructors"],
    }
    # A learner's server lists the learners' group among its access scopes,
    # so it accepts the service's token (scoped to that group).
    spawner = SimpleNamespace(user=SimpleNamespace(name="tom"), name="")
    overrides = c.Spawner.group_overrides(spawner)
    learners = [o for o in overrides.values() if o["groups"] == ["learners"]]
    scopes = learners[0]["spawner_override"]["oauth_access_scopes"]
    assert "access:servers!group=learners" in scopes


def test_course_service_can_be_turned_off(tmp_path):
    _, c = configure(tmp_path, "[course]\nenabled = false")
    assert "course" not in {s["name"] for s in c.JupyterHub.services}
    assert not {"course-service", "course-user"} & {r["name"] for r in c.JupyterHub.load_roles}


def test_docker_profile(tmp_path):
    _, c = configure(tmp_path, 'profile = "docker"')
    assert loaded(c).spawner_class.__name__ == "DockerSandboxSpawner"
    assert c.DockerSpawner.image == "ai4scale/singleuser:latest"
    # The network step still applies: the proxy runs on this machine.
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8000"
    # Host network (the default): servers reach the hub API on 127.0.0.1.
    assert c.DockerSpawner.network_name == "host"
    assert "hub_ip" not in c.JupyterHub


def test_docker_profile_on_a_named_network(tmp_path):
    _, c = configure(tmp_path, 'profile = "docker"\n[docker]\nnetwork = "classnet"')
    assert c.DockerSpawner.network_name == "classnet"
    assert c.JupyterHub.hub_ip == "0.0.0.0"
    assert c.JupyterHub.hub_connect_ip == "ai4scale-hub"


def test_kubernetes_profile_leaves_the_network_to_the_chart(tmp_path):
    _, c = configure(tmp_path, 'profile = "kubernetes"')
    assert loaded(c).spawner_class.__name__ == "KubeSpawner"
    for key in ("bind_url", "hub_port", "hub_ip", "hub_connect_ip"):
        assert key not in c.JupyterHub, key
    assert "command" not in c.ConfigurableHTTPProxy
    assert c.KubeSpawner.image == "ai4scale/singleuser:latest"


def test_oidc(tmp_path):
    _, c = configure(
        tmp_path,
        '[auth]\ntype = "oidc"\n[auth.oidc]\nclient_id = "sandbox"\n'
        'token_url = "https://idp.example.eu/token"',
    )
    assert loaded(c).authenticator_class.__name__ == "GenericOAuthenticator"
    assert c.GenericOAuthenticator.client_id == "sandbox"
    assert c.GenericOAuthenticator.token_url == "https://idp.example.eu/token"


def test_lti13(tmp_path):
    _, c = configure(
        tmp_path,
        '[auth]\ntype = "lti13"\n[auth.lti13]\nclient_id = ["lms-1"]\n'
        'issuer = "https://lms.example.eu"',
    )
    assert loaded(c).authenticator_class.__name__ == "LTI13Authenticator"
    assert c.LTI13Authenticator.client_id == {"lms-1"}
    assert c.LTI13Authenticator.issuer == "https://lms.example.eu"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg2://ai4scale:s3cret@db.example.eu:5432/jupyterhub",
        "postgresql://ai4scale:s3cret@db.example.eu:5432/jupyterhub",
    ],
)
def test_postgresql_hub_database(tmp_path, url):
    _, c = configure(tmp_path, f'[hub]\ndb_url = "{url}"')
    assert c.JupyterHub.db_url == url
    # The driver is installed: SQLAlchemy builds the engine (without connecting).
    engine = sqlalchemy.create_engine(c.JupyterHub.db_url)
    assert engine.dialect.name == "postgresql"
    engine.dispose()


@pytest.mark.parametrize(
    "text",
    [
        "",
        'profile = "docker"',
        'profile = "kubernetes"',
        '[auth]\ntype = "oidc"',
        '[auth]\ntype = "lti13"',
    ],
)
def test_applying_twice_gives_the_same_config(tmp_path, text):
    settings, once = configure(tmp_path, text)
    twice = apply_config(apply_config(Config(), settings), settings)
    assert twice == once


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[limits]\nmemry = "2G"', "memry"),
        ('[dockr]\nimage = "x"', "dockr"),
        ('[auth.oidc]\nclient_idd = "x"', "client_idd"),
        ("[course]\nmax_upload = 5", "max_upload"),
    ],
)
def test_unknown_keys_are_refused_by_name(tmp_path, text, key):
    with pytest.raises(SettingsError, match=key):
        load_settings(write_settings(tmp_path, text))


def test_ill_typed_value_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="limits.cpu"):
        load_settings(write_settings(tmp_path, '[limits]\ncpu = "lots"'))
