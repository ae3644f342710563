"""The ``kubernetes`` grading executor: each run is a Job in the hub's namespace.

Thin on purpose: the manifests come from :mod:`._kubernetes`, the request
and the reading of results from :mod:`._kubernetes_results`; this module
only sends them with ``kubernetes_asyncio`` (KubeSpawner's client, present
wherever KubeSpawner is) and waits.

The hub's service account needs the rules of
:data:`~._kubernetes.HUB_ROLE_RULES` in its namespace (``hub/values.yaml``
says how), and the namespace needs the NetworkPolicy of
:func:`~._kubernetes.network_policy`.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from pathlib import Path

from ._kubernetes import (
    CONTAINER,
    job_name,
    job_spec,
    owner_reference,
    request_secret,
)
from ._kubernetes_results import (
    job_failure,
    job_finished,
    parse_results,
    pod_stuck,
    request_document,
    unrun_result,
)

__all__ = ["MAX_REQUEST_BYTES", "KubernetesJobExecutor", "namespace_of_pod"]

#: Largest request a Secret holds (the API server refuses more than 1 MiB of data).
MAX_REQUEST_BYTES = 1 << 20

_SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def namespace_of_pod(default="default"):
    """Return our namespace: ``$POD_NAMESPACE``, the service account's, or ``default``."""
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    try:
        return _SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or default
    except OSError:
        return default


class KubernetesJobExecutor:
    """Run each notebook in a Kubernetes Job of the single-user image, without network.

    The same interface and settings as the docker executor: the image and
    the :class:`~ai4scale.grading.sandbox.Sandbox` settings of the worker,
    which also size the pod (see :func:`~._kubernetes.job_spec`).

    Parameters
    ----------
    image : str
        The single-user image (``[kubernetes] image``).
    namespace : str, optional
        Where the Jobs go; default :func:`namespace_of_pod`.
    lab : str, optional
        The lab graded, for the Jobs' names and labels.
    datasets_claim, datasets_dir : str, optional
        The datasets' PersistentVolumeClaim, mounted read-only at
        ``datasets_dir`` in every Job (see :func:`~._kubernetes.job_spec`).
    poll_seconds : float
        Seconds between two looks at the Job.
    **config
        Sandbox traits (``cell_timeout``, ``notebook_timeout``, ``memory``,
        ``cpu``, ``max_pids``...).
    """

    name = "kubernetes"

    def __init__(
        self,
        *,
        image,
        namespace=None,
        lab=None,
        poll_seconds=2.0,
        datasets_claim="",
        datasets_dir="",
        **config,
    ):
        from ai4scale.grading.sandbox import Sandbox

        self.sandbox = Sandbox(**config)
        self.image = image
        self.datasets_claim = datasets_claim
        self.datasets_dir = datasets_dir
        self.namespace = namespace or namespace_of_pod()
        self.lab = lab
        self.poll_seconds = poll_seconds
        self.preload = ""

    def settings(self):
        """Return the settings a run depends on: the image and the worker's sandbox settings."""
        from ._protocol import SETTINGS

        return {"image": self.image, **{n: getattr(self.sandbox, n) for n in SETTINGS}}

    def open_pool(self, *, preload, size=1, limit=None, workdir_files=None):
        """Remember the lab's imports: each Job's worker imports them in its zygote.

        Nothing starts ahead: a Job lives for its one run (the files come with it).
        """
        self.preload = preload or ""

    def close_pool(self):
        """Nothing to close: each Job ends with its run."""

    def run(self, nb, *, workdir_files=None):
        """Execute ``nb`` in a Job; return its RunResult (a failed start is a result too)."""
        if isinstance(nb, str) or hasattr(nb, "read_text"):
            import nbformat

            nb = nbformat.read(str(nb), as_version=4)
        worker = {k: v for k, v in self.settings().items() if k != "image"}
        doc = request_document(
            [("0", nb)], settings=worker, preload=self.preload, files=workdir_files
        )
        if len(doc) > MAX_REQUEST_BYTES:
            return unrun_result(
                nb,
                "startup_failed",
                f"the grading request is {len(doc)} bytes; a Kubernetes Secret holds at "
                f"most {MAX_REQUEST_BYTES} (make the lab's files smaller)",
            )
        started = time.monotonic()
        try:
            job, pod, log = asyncio.run(self._run_job(doc, lab=self.lab))
        except Exception as e:  # no cluster, no right to create Jobs: said in the result
            why = f"the grading Job could not run in namespace {self.namespace}: {e}"
            return unrun_result(nb, "startup_failed", why)
        results, errors, _ = parse_results(log, ["0"])
        result = results["0"]
        if result is None:
            result = unrun_result(nb, *job_failure(job, pod, log=log, errors=errors))
            result.seconds = time.monotonic() - started
        return result

    async def _run_job(self, doc, *, lab=None):
        """Create the Secret and the Job, wait for the end, return (job, pod, log) as dicts."""
        from kubernetes_asyncio import client
        from kubernetes_asyncio.client.exceptions import ApiException

        await _load_config()
        name = job_name(secrets.token_hex(4), lab=lab)
        ns = self.namespace
        spec = job_spec(
            self.settings(),
            name=name,
            request_secret=name,
            lab=lab,
            datasets_claim=self.datasets_claim,
            datasets_dir=self.datasets_dir,
        )
        async with client.ApiClient() as api:
            core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
            plain = api.sanitize_for_serialization
            await core.create_namespaced_secret(ns, request_secret(name, doc, lab=lab))
            try:
                job = plain(await batch.create_namespaced_job(ns, spec))
                patch = {"metadata": {"ownerReferences": [owner_reference(job)]}}
                await core.patch_namespaced_secret(name, ns, patch)
                deadline = time.monotonic() + spec["spec"]["activeDeadlineSeconds"] + 60
                pod = None
                while not job_finished(job) and time.monotonic() < deadline:
                    pods = await core.list_namespaced_pod(ns, label_selector=f"job-name={name}")
                    pod = plain(pods.items[0]) if pods.items else None
                    if pod_stuck(pod):
                        break
                    await asyncio.sleep(self.poll_seconds)
                    job = plain(await batch.read_namespaced_job(name, ns))
                log = ""
                if pod is not None or job_finished(job):
                    pods = await core.list_namespaced_pod(ns, label_selector=f"job-name={name}")
                    pod = plain(pods.items[0]) if pods.items else None
                if pod is not None:
                    try:
                        log = await core.read_namespaced_pod_log(
                            pod["metadata"]["name"], ns, container=CONTAINER
                        )
                    except ApiException:
                        log = ""  # the container never started
                return job, pod, log
            finally:
                for delete in (batch.delete_namespaced_job, core.delete_namespaced_secret):
                    try:
                        await delete(name, ns, propagation_policy="Background")
                    except ApiException as e:
                        if e.status != 404:
                            raise


async def _load_config():
    """Use the pod's service account in a cluster, else the administrator's kubeconfig."""
    from kubernetes_asyncio import config

    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config()
    else:
        await config.load_kube_config()
