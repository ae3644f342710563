"""Scale-out profiles without a cluster: what the spawners would ask Docker / Kubernetes for.

The spawners are the real DockerSpawner and KubeSpawner, configured by
apply_config from a settings file. Only the network boundary is cut:

- the docker profile's spawner (``ai4scale-docker``, a DockerSpawner):
  docker-py's APIClient is built for a fixed API version (so it does not ask
  a daemon), builds the real host config, and the spawner's one gateway to
  the daemon, ``docker(method, ...)``, records the call instead of sending
  it. Real containers of that profile run in ``tests/docker/``; a named
  network, which this machine cannot have, is asserted here only.
- KubeSpawner: the Kubernetes client reads a kubeconfig pointing at a closed
  port; ``get_pod_manifest()`` / ``get_pvc_manifest()`` make no API call, and
  the pod is serialized by the client's own serializer, i.e. the JSON the API
  server would receive.

The chart's values file and the single-user Dockerfile are checked here too.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import tomllib
from pathlib import Path

import ai4scale.hub
import ai4scale.hub.installer
import kubernetes_asyncio.config.kube_config as kube_config
import pytest
import yaml
from ai4scale.hub import apply_config, load_settings
from ai4scale.hub._settings import SYSTEM_SETTINGS_FILE, SettingsError
from ai4scale.hub.profiles.docker import HUB_HOSTNAME, SINGLEUSER_USER
from ai4scale.hub.spawn._container_report import ContainerDied, describe_exit, last_lines
from ai4scale.hub.spawn.docker import DockerSandboxSpawner
from jupyterhub.app import JupyterHub
from kubespawner import KubeSpawner
from traitlets.config import Config

HUB_DIR = Path(ai4scale.hub.__file__).parent
REPO = Path(__file__).resolve().parent.parent  # the checkout (the image's build context)
GiB = 1024**3

SCALE_SETTINGS = """
[limits]
memory = "3G"
cpu = 1.5
processes = 256
[docker]
image = "registry.example.eu/ai4scale/singleuser:0.1.0"
network = "classnet"
volume_template = "home-{{username}}"
[kubernetes]
image = "registry.example.eu/ai4scale/singleuser:0.1.0"
storage_capacity = "5Gi"
storage_class = "{storage_class}"
datasets_claim = "course-datasets"
"""


def configure(tmp_path, profile, *, storage_class="fast-ssd", network="classnet"):
    datasets = tmp_path / "datasets"
    path = tmp_path / "ai4scale.toml"
    path.write_text(
        f'profile = "{profile}"\n'
        + SCALE_SETTINGS.format(storage_class=storage_class).replace("classnet", network)
        + f'[paths]\nstate_dir = "{tmp_path / "state"}"\ndatasets_dir = "{datasets}"\n'
    )
    settings = load_settings(path)
    return settings, apply_config(Config(), settings)


class User:
    """What a spawner reads of JupyterHub's user wrapper."""

    def __init__(self, name):
        self.name = name
        self.id = 7
        self.url = f"/user/{name}/"


class Hub:
    """What a spawner reads of JupyterHub's Hub object."""

    api_url = "http://hub:8081/hub/api"
    base_url = "/hub/"
    url = "http://hub:8081/hub/"
    public_host = ""


# -- docker ------------------------------------------------------------------


class RecordingDockerSpawner(DockerSandboxSpawner):
    """DockerSpawner whose calls to the Docker daemon are recorded, not sent."""

    def docker(self, method, *args, **kwargs):
        self.calls.append((method, args, kwargs))
        future = asyncio.get_running_loop().create_future()
        future.set_result({"Id": "0123456789ab"})
        return future


async def created_container(c, username="anna"):
    c.RecordingDockerSpawner.client_kwargs = {
        "version": "1.44",
        "base_url": "unix:///nonexistent/docker.sock",
    }
    spawner = RecordingDockerSpawner(config=c, user=User(username), hub=Hub())
    spawner.calls = []
    await spawner.create_object()
    [(method, args, kwargs)] = spawner.calls
    assert method == "create_container"
    return spawner, kwargs


async def test_docker_container_specification(tmp_path):
    settings, c = configure(tmp_path, "docker")
    assert JupyterHub(config=c).spawner_class is DockerSandboxSpawner
    datasets = settings["paths"]["datasets_dir"]
    spawner, create = await created_container(c)
    host = create["host_config"]

    assert create["image"] == "registry.example.eu/ai4scale/singleuser:0.1.0"
    assert create["user"] == SINGLEUSER_USER == "1000:100"
    assert create["command"] == ["jupyterhub-singleuser"]
    assert create["environment"]["AI4SCALE_DATASETS"] == datasets
    assert sorted(create["volumes"]) == sorted(["/home/jovyan", datasets])

    assert sorted(host["Binds"]) == sorted(
        ["home-anna:/home/jovyan:rw", f"{datasets}:{datasets}:ro"]
    )
    assert host["Memory"] == host["MemorySwap"] == 3 * GiB
    assert host["CpuQuota"] == 150_000 and host["CpuPeriod"] == 100_000
    assert host["PidsLimit"] == 256
    assert host["NetworkMode"] == "classnet"
    # Kept until the hub has read why it ended; the hub removes it at stop.
    assert not host.get("AutoRemove") and spawner.remove
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert not host.get("Privileged")
    assert "PortBindings" not in host  # reached on the network, not via host ports

    # Servers reach the hub API by the hub container's name on that network.
    assert c.JupyterHub.hub_ip == "0.0.0.0"
    assert c.JupyterHub.hub_connect_ip == HUB_HOSTNAME
    assert spawner.use_internal_ip and spawner.network_name == "classnet"


async def test_docker_volume_is_per_user(tmp_path):
    _, c = configure(tmp_path, "docker")
    _, create = await created_container(c, "ben")
    assert "home-ben:/home/jovyan:rw" in create["host_config"]["Binds"]


async def test_docker_host_network_gives_each_server_a_loopback_port(tmp_path):
    settings, c = configure(tmp_path, "docker", network="host")
    assert "hub_ip" not in c.JupyterHub and "hub_connect_ip" not in c.JupyterHub
    port = settings["course"]["port"]
    assert c.Spawner.environment["AI4SCALE_COURSE_URL"] == (
        f"http://127.0.0.1:{port}/services/course/"
    )
    spawner, create = await created_container(c)
    spawner.port = 40123  # what start() picks, free, for each start
    host = create["host_config"]
    assert host["NetworkMode"] == "host"
    assert "PortBindings" not in host
    assert spawner.ip == "127.0.0.1"
    assert await spawner.get_ip_and_port() == ("127.0.0.1", 40123)
    env = spawner.get_env()
    assert env["JUPYTERHUB_SERVICE_URL"].startswith("http://127.0.0.1:40123/")


@pytest.mark.parametrize(
    ("username", "escaped"),
    [("dkp_ben", "dkp-5fben"), ("Élise.B", "-c3-89lise-2e-42"), ("anna-m", "anna-2dm")],
)
async def test_docker_names_escape_what_docker_refuses(tmp_path, username, escaped):
    _, c = configure(tmp_path, "docker", network="host")
    spawner, create = await created_container(c, username)
    assert create["name"] == f"ai4scale-{escaped}"
    assert f"home-{escaped}:/home/jovyan:rw" in create["host_config"]["Binds"]
    assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+", create["name"])


@pytest.mark.parametrize(
    ("key", "value"),
    [("network", "class net"), ("network", "-x"), ("volume_template", "ai4scale-home")],
)
def test_docker_settings_docker_would_refuse_are_refused_first(tmp_path, key, value):
    path = tmp_path / "ai4scale.toml"
    path.write_text(f'profile = "docker"\n[docker]\n{key} = "{value}"\n')
    with pytest.raises(SettingsError, match=key):
        load_settings(path)


def test_container_dead_at_start_is_explained_plainly_with_its_last_lines():
    logs = last_lines(b"\n".join(f"line {i}".encode() for i in range(50)) + b"\n\n", 20)
    assert logs == [f"line {i}" for i in range(30, 50)]
    died = describe_exit({"ExitCode": 3, "OOMKilled": False, "Error": ""}, logs)
    assert isinstance(died, ContainerDied) and died.status_code == 500
    first = died.jupyterhub_message.splitlines()[0]
    assert first.startswith("Your workspace could not start: it stopped as soon as")
    assert "exit code" not in first  # the learner's sentence has no technical terms
    assert "Container exit code 3. Last 20 log line(s):" in died.jupyterhub_message
    assert died.jupyterhub_message.endswith("line 49")
    assert "<br>line 49</code>" in died.jupyterhub_html_message

    oom = describe_exit({"ExitCode": 137, "OOMKilled": True}, ["<killed>"], memory_limit=GiB)
    assert "needed more memory than its limit (1.0 GiB)" in oom.jupyterhub_message
    assert "OOMKilled" in oom.jupyterhub_message
    assert "&lt;killed&gt;" in oom.jupyterhub_html_message  # log lines are escaped
    assert "no log lines" in describe_exit({"ExitCode": 1}, []).jupyterhub_message


# -- kubernetes ---------------------------------------------------------------

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: nowhere
  cluster: {server: "https://127.0.0.1:9"}
users:
- name: nobody
  user: {token: none}
contexts:
- name: nowhere
  context: {cluster: nowhere, user: nobody, namespace: ai4scale}
current-context: nowhere
"""


@pytest.fixture
def kubeconfig(tmp_path, monkeypatch):
    """A kubeconfig for a cluster that is not there."""
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(path))
    return path


async def pod_and_pvc(c, username="anna"):
    spawner = KubeSpawner(config=c, user=User(username), hub=Hub())
    serialize = spawner.api.api_client.sanitize_for_serialization
    pod = serialize(await spawner.get_pod_manifest())
    pvc = serialize(spawner.get_pvc_manifest())
    return spawner, pod, pvc


async def test_kubernetes_pod_specification(tmp_path, kubeconfig):
    settings, c = configure(tmp_path, "kubernetes")
    assert JupyterHub(config=c).spawner_class is KubeSpawner
    datasets = settings["paths"]["datasets_dir"]
    spawner, pod, pvc = await pod_and_pvc(c)
    [container] = pod["spec"]["containers"]

    assert container["image"] == "registry.example.eu/ai4scale/singleuser:0.1.0"
    assert container["resources"]["limits"] == {"cpu": 1.5, "memory": 3 * GiB}
    assert container["resources"]["requests"] == {"cpu": 0.75, "memory": 3 * GiB}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["AI4SCALE_DATASETS"] == datasets

    security = container["securityContext"]
    assert security["runAsUser"] == 1000
    assert security["runAsNonRoot"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert not security.get("privileged")
    assert pod["spec"]["securityContext"] == {"fsGroup": 100}
    assert pod["spec"]["automountServiceAccountToken"] is False

    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["home"]["persistentVolumeClaim"] == {"claimName": "claim-anna"}
    assert volumes["datasets"]["persistentVolumeClaim"] == {
        "claimName": "course-datasets",
        "readOnly": True,
    }
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["home"]["mountPath"] == "/home/jovyan"
    assert not mounts["home"].get("readOnly")
    assert mounts["datasets"] == {"name": "datasets", "mountPath": datasets, "readOnly": True}

    assert pvc["metadata"]["name"] == "claim-anna"
    assert pvc["spec"]["resources"]["requests"] == {"storage": "5Gi"}
    assert pvc["spec"]["storageClassName"] == "fast-ssd"
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert spawner.storage_pvc_ensure


async def test_kubernetes_default_storage_class(tmp_path, kubeconfig):
    _, c = configure(tmp_path, "kubernetes", storage_class="")
    _, _, pvc = await pod_and_pvc(c, "ben")
    assert pvc["metadata"]["name"] == "claim-ben"
    assert "storageClassName" not in pvc["spec"]


# -- the Zero to JupyterHub values file -----------------------------------------


def chart_config(values):
    """A Config as the chart's jupyterhub_config.py leaves it before hub.extraConfig.

    Only what our configuration interacts with; see z2jh's
    jupyterhub/files/hub/jupyterhub_config.py.
    """
    single = values["singleuser"]
    c = Config()
    c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
    c.ConfigurableHTTPProxy.api_url = "http://proxy-api:8001"
    c.ConfigurableHTTPProxy.should_start = False
    c.JupyterHub.cleanup_servers = False
    c.JupyterHub.db_url = "sqlite:///jupyterhub.sqlite"
    c.JupyterHub.hub_bind_url = "http://:8081"
    c.JupyterHub.hub_connect_url = "http://hub:8081"
    c.JupyterHub.cookie_secret = b"\x01" * 32
    c.KubeSpawner.namespace = "ai4scale"
    c.KubeSpawner.start_timeout = single["startTimeout"]
    c.KubeSpawner.image_pull_policy = single["image"]["pullPolicy"]
    c.KubeSpawner.uid = single["uid"]
    c.KubeSpawner.fs_gid = single["fsGid"]
    c.KubeSpawner.mem_guarantee = "1G"  # the chart's default singleuser.memory.guarantee
    c.KubeSpawner.environment = {}  # singleuser.extraEnv
    c.KubeSpawner.image = f"{single['image']['name']}:{single['image']['tag']}"
    c.KubeSpawner.allow_privilege_escalation = single["allowPrivilegeEscalation"]
    c.JupyterHub.services = []
    c.JupyterHub.load_roles = []
    c.Spawner.cmd = "jupyterhub-singleuser"
    return c


@pytest.fixture
def values():
    return yaml.safe_load((HUB_DIR / "values.yaml").read_text())


def test_values_embed_valid_kubernetes_settings(values, tmp_path):
    files = values["hub"]["extraFiles"]["ai4scale-settings"]
    # Mounted where apply_config() and the ai4scale command look by default.
    assert files["mountPath"] == str(SYSTEM_SETTINGS_FILE)
    path = tmp_path / "ai4scale.toml"
    path.write_text(files["stringData"])
    settings = load_settings(path)
    assert settings["profile"] == "kubernetes"
    # The hub's volume of the chart's sqlite-pvc database holds our state.
    assert values["hub"]["db"]["type"] == "sqlite-pvc"
    assert settings["paths"]["state_dir"] == "/srv/jupyterhub"
    # The image puller pulls the image our pods use.
    image = values["singleuser"]["image"]
    assert f"{image['name']}:{image['tag']}" == settings["kubernetes"]["image"]
    assert values["singleuser"]["storage"]["type"] == "none"
    assert values["cull"]["enabled"] is False


async def test_values_extra_config_under_the_chart(values, tmp_path, monkeypatch, kubeconfig):
    text = values["hub"]["extraFiles"]["ai4scale-settings"]["stringData"]
    state = tmp_path / "state"
    assert text.count('state_dir = "/srv/jupyterhub"') == 1
    settings_file = tmp_path / "ai4scale.toml"
    settings_file.write_text(text.replace('"/srv/jupyterhub"', f'"{state}"'))
    monkeypatch.setenv("AI4SCALE_CONFIG", str(settings_file))
    settings = tomllib.loads(settings_file.read_text())

    c = chart_config(values)
    [(name, code)] = values["hub"]["extraConfig"].items()
    exec(compile(code, f"hub.extraConfig.{name}", "exec"), {"c": c})

    # The chart's plumbing is intact ...
    assert c.ConfigurableHTTPProxy.api_url == "http://proxy-api:8001"
    assert c.ConfigurableHTTPProxy.should_start is False
    assert c.JupyterHub.hub_bind_url == "http://:8081"
    assert c.JupyterHub.hub_connect_url == "http://hub:8081"
    assert c.JupyterHub.cleanup_servers is False
    assert c.KubeSpawner.start_timeout == 300
    for key in ("bind_url", "hub_port"):
        assert key not in c.JupyterHub
    assert "command" not in c.ConfigurableHTTPProxy
    # ... and ours decides the rest.
    assert c.JupyterHub.db_url == f"sqlite:///{state}/jupyterhub.sqlite"
    assert c.JupyterHub.authenticator_class == "ai4scale-roster"
    services = {s["name"]: s for s in c.JupyterHub.services}
    assert list(services) == ["ai4scale-admin", "idle-culler", "course"]
    # The course service in the hub pod, reached by the proxy pod through the hub Service
    course = services["course"]
    port = settings["course"]["port"]
    assert course["url"] == f"http://hub:{port}"
    assert course["environment"]["AI4SCALE_COURSE_BIND"] == "0.0.0.0"
    assert course["environment"]["AI4SCALE_COURSE_SERVERS_URL"] == "http://proxy-public"
    assert {"name": "course", "port": port, "targetPort": port} in values["hub"]["service"][
        "extraPorts"
    ]
    [rule] = values["hub"]["networkPolicy"]["ingress"]
    assert rule["ports"] == [{"port": port}]
    assert settings["course"]["sandbox"] == "auto"  # Jobs of their own, never the hub pod

    spawner, pod, _ = await pod_and_pvc(c)
    assert spawner.namespace == "ai4scale"  # the chart's
    [container] = pod["spec"]["containers"]
    assert container["image"] == settings["kubernetes"]["image"]
    assert container["resources"]["limits"]["memory"] == 2 * GiB
    assert container["resources"]["requests"]["memory"] == 2 * GiB  # not the chart's 1G
    assert {e["name"] for e in container["env"]} >= {"AI4SCALE_DATASETS"}
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"]}
    assert claims == {"home": "claim-anna", "datasets": settings["kubernetes"]["datasets_claim"]}


# -- the single-user Dockerfile -----------------------------------------------------


def dockerfile_instructions():
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = (HUB_DIR / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    result = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, args = line.strip().partition(" ")
            result.append((instruction.upper(), args.strip()))
    return result


def test_dockerfile():
    steps = dockerfile_instructions()
    by_kind = {}
    for kind, args in steps:
        by_kind.setdefault(kind, []).append(args)

    # Two stages on one Debian 12 base, by default the one `ai4scale image
    # base` makes (no registry needed); the wheels stay in the first.
    assert by_kind["ARG"] == ["BASE=ai4scale/debian:bookworm"]
    assert by_kind["FROM"] == ["${BASE} AS venv", "${BASE}"]

    user = by_kind["USER"][-1]
    assert user.split(":")[0] not in ("root", "0")
    assert user == SINGLEUSER_USER

    runs = " ".join(by_kind["RUN"])
    assert "useradd --uid 1000 --gid 100" in runs
    # From the wheelhouse only, as an air-gapped administration builds.
    assert "--no-index --find-links /tmp/ai4scale/wheels" in runs
    assert "-r /tmp/ai4scale/requirements.txt" in runs
    assert "python -P -m ai4scale.hub.package_access" in runs  # learners: only what they import
    for step in ("ensure_kernel_config", "ensure_learner_environment"):
        assert step in runs
        assert hasattr(ai4scale.hub.installer, step), step

    # The context `ai4scale image build` assembles: the requirements, the
    # wheels and the installed package.
    sources = {shlex.split(args)[0] for args in by_kind["COPY"]}
    assert sources == {"requirements.txt", "wheels", "site", "--from=venv"}

    assert by_kind["EXPOSE"] == ["8888"]
    assert by_kind["CMD"] == ['["jupyterhub-singleuser"]']
    assert by_kind["ENTRYPOINT"] == ['["tini", "--"]']
