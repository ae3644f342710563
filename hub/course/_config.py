"""Where the course service keeps things, and its limits (from the ``[course]`` settings)."""

from __future__ import annotations

import os
from pathlib import Path

from traitlets import Integer, Unicode, default
from traitlets.config import Configurable

__all__ = ["CourseConfig", "source_labs_dir"]


def source_labs_dir():
    """Return the ``labs/`` folder of the sandbox's sources, or None if unknown.

    In a checkout it is beside the ``ai4scale`` package; an installed copy
    (``./sandbox install``) names the checkout it came from. Only ``ai4scale
    up`` (:func:`ai4scale.hub.installer.ensure_lab_sources`) and tests read
    it: the course service reads its own root-only copy.
    """
    from ai4scale.hub.package_access import installed_from, package_dir

    beside = package_dir().parent / "labs"
    if (package_dir().parent / "pyproject.toml").is_file() and beside.is_dir():
        return beside
    checkout = installed_from()
    return checkout / "labs" if checkout is not None else None


class CourseConfig(Configurable):
    """The course service's paths and limits.

    Built from the settings file by :meth:`from_settings`; tests may pass
    traits directly.
    """

    labs_dir = Unicode(
        help="""Folder of lab sources (``<labs_dir>/<id>/lab.toml`` and source notebooks).

        Instructors' files: solutions and hidden tests live here, so it is
        never exposed to learners.
        """
    ).tag(config=True)

    course_dir = Unicode(
        help="""The service's own directory (mode 0700, root only).

        ``releases/<lab>/`` (learner versions as released), ``submissions/``
        (every submission, by id), ``collected/<lab>/<owner>/`` (the version
        taken into grading), ``feedback/<lab>/<owner>/<lab>.html``. Never
        shared with learners' servers: notebooks travel over HTTP.
        """
    ).tag(config=True)

    gradebook_url = Unicode(
        help="""SQLAlchemy URL of the gradebook (``sqlite:///...`` or ``postgresql://...``)."""
    ).tag(config=True)

    max_upload_bytes = Integer(
        20 << 20,
        help="""Largest notebook accepted from a learner's server, in bytes.

        A bigger file is refused with 413 before it is read.
        """,
    ).tag(config=True)

    usecase_max_upload_bytes = Integer(
        200_000_000,
        help="""Largest file a team may upload to a use case (a table or a model), in bytes.

        Uploads are streamed to a root-only temporary file; a request whose
        Content-Length is above this is refused with 413 before any byte is
        read, and one that sends more than it said is cut off and removed.
        The default, 200 MB, takes a table of about a million rows and 30
        columns. Set in the settings file as ``[course] usecase_max_upload_mb``
        (MB of 10^6 bytes), e.g. ``usecase_max_upload_mb = 500``.

        .. versionadded:: issue 11
        """,
    ).tag(config=True)

    grading_workers = Integer(
        1, help="""Submissions the autograder grades at once (each in its own sandbox)."""
    ).tag(config=True)

    sandbox = Unicode(
        "auto",
        help="""Executor of autograding and "check my work".

        ``"auto"`` (the default) and ``"sandbox"``: the grading sandbox (its own
        account, cgroup, no network). When it cannot run here (not root, no
        cgroup v1, no ``unshare``), grading is refused with an error saying
        why; there is no silent fallback.

        ``"none"``: no sandbox -- learners' code runs with nbclient as the
        service's own account, and the instructor pages say so. For
        development only. ``"local"`` is the deprecated name of ``"none"``.

        ``"docker"``: grading containers of :attr:`grading_image`, one per
        grading worker (no network, read-only root, the sandbox's memory, cpu
        and pids caps, the zygote inside); ``"auto"`` means it on the
        ``docker`` profile (see :class:`ai4scale.grading.containers.DockerExecutor`).
        A missing engine or image refuses grading with what to do.

        ``"kubernetes"``: each run in a Kubernetes Job of :attr:`grading_image`
        in the service's namespace, without network; ``"auto"`` means it on
        the ``kubernetes`` profile (see :mod:`ai4scale.grading.containers`).

        .. versionchanged:: issue 10
           ``"auto"`` no longer falls back to running without the sandbox.
        .. versionadded:: issue 15
           ``"docker"``, ``"kubernetes"``.
        """,
    ).tag(config=True)

    profile = Unicode(
        "local",
        help="""The settings' ``profile`` (``local``, ``docker``, ``kubernetes``): what
        ``sandbox = "auto"`` grades with.

        .. versionadded:: issue 15
        """,
    ).tag(config=True)

    grading_image = Unicode(
        "ai4scale/singleuser:latest",
        help="""Image of the grading containers or Jobs: the single-user image of the
        profile (``[kubernetes] image`` on the ``kubernetes`` profile, else
        ``[docker] image``).

        .. versionadded:: issue 15
        """,
    ).tag(config=True)

    datasets_claim = Unicode(
        "",
        help="""The PersistentVolumeClaim of the prepared datasets on the ``kubernetes``
        profile (``[kubernetes] datasets_claim``): mounted read-only at
        :attr:`datasets_dir` in every grading Job, as in learners' pods.

        .. versionadded:: issue 15
        """,
    ).tag(config=True)

    datasets_dir = Unicode(
        "/srv/ai4scale/datasets",
        help="""The prepared datasets (``paths.datasets_dir``): mounted read-only in the
        grading containers (``sandbox = "docker"``) at the same path, as in the
        learners' servers of the ``docker`` profile.

        .. versionadded:: issue 15
        """,
    ).tag(config=True)

    @default("labs_dir")
    def _default_labs_dir(self):
        return str(Path(self.course_dir).parent / "labs")

    @default("gradebook_url")
    def _default_gradebook_url(self):
        return f"sqlite:///{Path(self.course_dir).parent / 'gradebook.sqlite'}"

    @classmethod
    def from_settings(cls, settings, **overrides):
        """Return the configuration of the ``[course]`` table of ``settings``.

        Parameters
        ----------
        settings : dict
            Validated sandbox settings.
        **overrides
            Traits to set instead.

        Returns
        -------
        CourseConfig
        """
        course = settings["course"]
        state = Path(settings["paths"]["state_dir"])
        kw = {
            "course_dir": str(state / "course"),
            "max_upload_bytes": int(course["max_upload_mb"]) << 20,
            "usecase_max_upload_bytes": int(course["usecase_max_upload_mb"]) * 1_000_000,
            "grading_workers": int(course["grading_workers"]),
            "sandbox": course["sandbox"],
            "profile": settings["profile"],
            "grading_image": settings[
                "kubernetes" if settings["profile"] == "kubernetes" else "docker"
            ]["image"],
            "datasets_dir": settings["paths"]["datasets_dir"],
            "datasets_claim": settings["kubernetes"]["datasets_claim"],
        }
        kw["labs_dir"] = course["labs_dir"] or str(state / "labs")
        url = course["gradebook_url"] or os.environ.get("AI4SCALE_GRADEBOOK_URL", "")
        kw["gradebook_url"] = url or f"sqlite:///{state / 'gradebook.sqlite'}"
        kw.update(overrides)
        return cls(**kw)

    def lab_dir(self, lab):
        """Return the source folder of lab ``lab`` (an already checked id)."""
        return Path(self.labs_dir) / lab

    def path(self, *parts):
        """Return a path inside :attr:`course_dir`."""
        return Path(self.course_dir, *parts)
