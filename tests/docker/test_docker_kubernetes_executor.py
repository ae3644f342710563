"""The ``kubernetes`` executor end to end, against a stand-in API server whose kubelet is Docker.

No cluster can run here. The stand-in answers the few API calls the executor
makes (Secrets, Jobs, pods, a pod's log) in the API's JSON over HTTP, through
the executor's real client (kubernetes_asyncio, from a kubeconfig); when a
Job is created, its pod runs as the kubelet would run it, with Docker (see
``docker_run_of`` in test_docker_kubernetes_job.py), and the pod's status and
log follow what the container did. What is checked is the executor's own
part: the request reaches the pod, the result comes back from the log, a pod
that cannot start or an API that refuses is said in the result, and nothing
is left behind in the namespace.
"""

from __future__ import annotations

import asyncio
import base64
import threading
import uuid

import docker
import kubernetes_asyncio.config.kube_config as kube_config
import nbformat
import pytest
from ai4scale.grading.containers._kubernetes import REQUEST_KEY
from ai4scale.grading.containers._kubernetes_executor import KubernetesJobExecutor
from aiohttp import web
from hubtest import free_port
from test_docker_kubernetes_job import SANDBOX, docker_run_of

NAMESPACE = "grading-test"


class StandInCluster:
    """Secrets, Jobs and pods of one namespace; each Job's pod run by Docker."""

    def __init__(self, client, tmp_path, *, refuse_jobs=False):
        self.client, self.tmp_path, self.refuse_jobs = client, tmp_path, refuse_jobs
        self.secrets, self.jobs, self.pods, self.logs = {}, {}, {}, {}
        self.calls = []
        self.threads = []

    # -- the API -------------------------------------------------------------

    def app(self):
        app = web.Application()
        core, batch = f"/api/v1/namespaces/{NAMESPACE}", f"/apis/batch/v1/namespaces/{NAMESPACE}"
        app.router.add_post(f"{core}/secrets", self.create_secret)
        app.router.add_patch(f"{core}/secrets/{{name}}", self.patch_secret)
        app.router.add_delete(f"{core}/secrets/{{name}}", self.delete_secret)
        app.router.add_post(f"{batch}/jobs", self.create_job)
        app.router.add_get(f"{batch}/jobs/{{name}}", self.read_job)
        app.router.add_delete(f"{batch}/jobs/{{name}}", self.delete_job)
        app.router.add_get(f"{core}/pods", self.list_pods)
        app.router.add_get(f"{core}/pods/{{name}}/log", self.read_log)
        return app

    async def create_secret(self, request):
        body = await request.json()
        body["metadata"]["uid"] = str(uuid.uuid4())
        self.secrets[body["metadata"]["name"]] = body
        self.calls.append(("create", "secret"))
        return web.json_response(body, status=201)

    async def patch_secret(self, request):
        secret = self.secrets[request.match_info["name"]]
        patch = await request.json()
        secret["metadata"].update(patch["metadata"])
        self.calls.append(("patch", "secret"))
        return web.json_response(secret)

    async def delete_secret(self, request):
        self.calls.append(("delete", "secret"))
        if self.secrets.pop(request.match_info["name"], None) is None:
            return _status(404)
        return _status(200)

    async def create_job(self, request):
        self.calls.append(("create", "job"))
        if self.refuse_jobs:
            return _status(403, 'jobs.batch is forbidden: User "system:serviceaccount:x:hub"')
        job = await request.json()
        job["metadata"]["uid"] = str(uuid.uuid4())
        job["status"] = {}
        self.jobs[job["metadata"]["name"]] = job
        kubelet = threading.Thread(target=self.kubelet, args=(job,), daemon=True)
        self.threads.append(kubelet)
        kubelet.start()
        return web.json_response(job, status=201)

    async def read_job(self, request):
        return web.json_response(self.jobs[request.match_info["name"]])

    async def delete_job(self, request):
        self.calls.append(("delete", "job"))
        if self.jobs.pop(request.match_info["name"], None) is None:
            return _status(404)
        return _status(200)

    async def list_pods(self, request):
        job = request.query["labelSelector"].removeprefix("job-name=")
        items = [p for p in self.pods.values() if p["metadata"]["labels"]["job-name"] == job]
        return web.json_response(
            {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}
        )

    async def read_log(self, request):
        assert request.query["container"] == "grader"
        return web.Response(text=self.logs.get(request.match_info["name"], ""))

    # -- the kubelet ---------------------------------------------------------

    def kubelet(self, job):
        name = job["metadata"]["name"]
        template = job["spec"]["template"]
        pod_name = f"{name}-x7k2q"
        container_status = {  # the fields the API server always fills
            "name": "grader",
            "image": template["spec"]["containers"][0]["image"],
            "imageID": "",
            "ready": False,
            "restartCount": 0,
            "state": {},
        }
        pod = {
            "metadata": {
                "name": pod_name,
                "labels": {**template["metadata"]["labels"], "job-name": name},
            },
            "status": {"phase": "Pending", "containerStatuses": [container_status]},
        }
        self.pods[pod_name] = pod
        state = pod["status"]["containerStatuses"][0]["state"]
        secret = self.secrets[template["spec"]["volumes"][0]["secret"]["secretName"]]
        request_dir = self.tmp_path / name
        request_dir.mkdir()
        (request_dir / REQUEST_KEY).write_bytes(base64.b64decode(secret["data"][REQUEST_KEY]))
        (request_dir / REQUEST_KEY).chmod(0o400)
        kw = docker_run_of(template, job["metadata"]["annotations"], request_dir)
        try:
            self.client.images.get(kw["image"])
        except docker.errors.ImageNotFound:
            state["waiting"] = {
                "reason": "ErrImagePull",
                "message": f"pull access denied for {kw['image']}",
            }
            return  # as a kubelet: it waits for ever, the Job fails at its deadline
        container = self.client.containers.run(
            detach=True, name=f"ai4scale-test-k8sexec-{name[-8:]}", **kw
        )
        try:
            pod["status"]["phase"] = "Running"
            state["running"] = {}
            code = container.wait(timeout=job["spec"]["activeDeadlineSeconds"])["StatusCode"]
            self.logs[pod_name] = container.logs(stdout=True, stderr=True).decode()
        finally:
            container.remove(force=True)
        state.pop("running")
        state["terminated"] = {"exitCode": code, "reason": "Completed" if code == 0 else "Error"}
        pod["status"]["phase"] = "Succeeded" if code == 0 else "Failed"
        kind = "Complete" if code == 0 else "Failed"
        job["status"]["conditions"] = [{"type": kind, "status": "True"}]


def _status(code, message=""):
    body = {"apiVersion": "v1", "kind": "Status", "code": code, "message": message}
    body["status"] = "Success" if code < 300 else "Failure"
    return web.json_response(body, status=code)


@pytest.fixture
def cluster(docker_client, tmp_path, monkeypatch):
    """Start the stand-in API server; point the executor's client at it (a kubeconfig)."""
    stand_in = StandInCluster(docker_client, tmp_path)
    port = free_port()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(stand_in.app())
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: here\n  cluster: {{server: 'http://127.0.0.1:{port}'}}\n"
        "users:\n- name: hub\n  user: {token: stand-in}\n"
        "contexts:\n- name: here\n  context: {cluster: here, user: hub}\n"
        "current-context: here\n"
    )
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    yield stand_in
    for t in stand_in.threads:
        t.join(120)
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def executor(image, **kw):
    return KubernetesJobExecutor(
        image=image, namespace=NAMESPACE, poll_seconds=0.2, **SANDBOX, **kw
    )


def notebook(*cells):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])


def test_executor_grades_through_a_job_and_leaves_nothing(cluster, singleuser_image):
    ex = executor(singleuser_image, lab="03_Fairness Audit")
    files = {"data.csv": b"a,b\n1,2\n"}  # as grade_batch: to open_pool and to each run
    ex.open_pool(preload="import json", size=2, workdir_files=files)
    nb = notebook("import json\nprint(open('data.csv').read().split()[1])", "1 / 0")
    result = ex.run(nb, workdir_files=files)
    assert result.outcome == "completed", result.reason
    assert [c.status for c in result.cells] == ["ok", "error"]
    assert result.cells[0].text().strip() == "1,2"  # the lab's file reached the pod
    assert result.cells[1].ename == "ZeroDivisionError"
    # The Secret was owned by its Job, and both are gone.
    assert cluster.calls[:3] == [("create", "secret"), ("create", "job"), ("patch", "secret")]
    assert cluster.secrets == {} and cluster.jobs == {}
    ex.close_pool()


def test_missing_image_is_said_without_waiting_for_the_deadline(cluster, singleuser_image):
    ex = executor("registry.example.eu/ai4scale/no-such-image:0")
    result = ex.run(notebook("1"))
    assert result.outcome == "startup_failed"
    assert "could not be pulled" in result.reason and "no-such-image" in result.reason
    assert [c.status for c in result.cells] == ["not_run"]
    assert result.seconds < 30  # not the Job's deadline (minutes)
    assert cluster.secrets == {} and cluster.jobs == {}


def test_refused_by_the_api_is_said_and_cleaned_up(cluster, singleuser_image):
    cluster.refuse_jobs = True
    result = executor(singleuser_image).run(notebook("1"))
    assert result.outcome == "startup_failed"
    assert NAMESPACE in result.reason and "403" in result.reason
    assert cluster.secrets == {}  # the request's Secret did not stay behind
