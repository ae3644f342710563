"""Collect, autograde, grade by hand, release feedback."""

from __future__ import annotations

import datetime as dt
import functools
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ai4scale.grading.autograde._setup import SETUP_FAILED_MESSAGE
from tornado.log import app_log

from ._errors import BadRequest, Conflict, NotFound
from ._names import check_grade_id, check_owner
from ._submissions import submission_files

__all__ = [
    "SETUP_FAILED_MESSAGE",
    "Job",
    "autograde",
    "check_reference",
    "collect",
    "feedback_totals",
    "grading_notice",
    "learner_feedback",
    "make_executor",
    "record_setup_alert",
    "release_feedback",
    "set_grade",
    "setup_alert",
]


#: Shown on the instructor pages when grading runs without the sandbox.
UNSANDBOXED_WARNING = (
    "Grading runs without the sandbox: learners' code runs as the course service's "
    "account. For development only."
)


def _gradebook_lab(course, lab):
    """Return the GradingLab of a lab that is in the gradebook (released), else Conflict."""
    glab = course.lab(lab)
    try:
        released = course.gradebook.releases(lab)
    except KeyError:  # not even in the gradebook
        released = []
    if not released:
        raise Conflict(f"lab {lab!r} is not released")
    return glab


def collect(course, lab):
    """Take the newest submission of each owner into grading.

    The files go to ``collected/<lab>/<owner>/`` (replacing an earlier
    collection) and the submissions are marked collected in the gradebook.

    Returns
    -------
    dict
        ``collected`` (count) and ``owners``.
    """
    _gradebook_lab(course, lab)
    gb = course.gradebook
    current = gb.submissions(lab)
    root = course.path("collected")
    root.mkdir(exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{lab}-", dir=root))
    try:
        for info in current:
            folder = staging / check_owner(info.owner)
            folder.mkdir(parents=True, exist_ok=True)
            for name, path in submission_files(course, info).items():
                shutil.copyfile(path, folder / name)
        target, old = root / lab, root / f".{lab}-old"
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    gb.mark_collected([info.id for info in current])
    return {"collected": len(current), "owners": [info.owner for info in current]}


def _unsandboxed(config):
    if config.sandbox == "local":
        app_log.warning('[course] sandbox = "local" is deprecated: write sandbox = "none"')
    return config.sandbox in ("none", "local")


def _in_kubernetes_jobs(config):
    return config.sandbox == "kubernetes" or (
        config.sandbox == "auto" and config.profile == "kubernetes"
    )


def _in_grading_containers(config):
    return config.sandbox == "docker" or (config.sandbox == "auto" and config.profile == "docker")


def make_executor(config, **timeouts):
    """Return the grading executor the configuration asks for (see ``CourseConfig.sandbox``).

    ``"docker"``, or ``"auto"`` on the ``docker`` profile: grading containers
    (:class:`~ai4scale.grading.containers.DockerExecutor`). ``"kubernetes"``,
    or ``"auto"`` on the ``kubernetes`` profile: a Job per
    run (:class:`~ai4scale.grading.containers._kubernetes_executor.KubernetesJobExecutor`).

    Raises
    ------
    Conflict
        The sandbox is asked for (``"auto"``, ``"sandbox"``) and cannot run
        here; the message says why. There is no fallback to running learners'
        code unconfined: that needs ``sandbox = "none"``.
    """
    from ai4scale.grading.autograde import SandboxUnavailable, default_executor

    if _in_kubernetes_jobs(config):
        from ai4scale.grading.containers._kubernetes_executor import KubernetesJobExecutor

        return KubernetesJobExecutor(
            image=config.grading_image,
            datasets_claim=config.datasets_claim,
            datasets_dir=config.datasets_dir,
            **timeouts,
        )
    if _in_grading_containers(config):
        from ai4scale.grading.containers import DockerExecutor, DockerUnavailable

        try:
            return DockerExecutor(
                image=config.grading_image, datasets_dir=config.datasets_dir, **timeouts
            )
        except DockerUnavailable as e:
            raise Conflict(f"grading refused: {e}") from None
    try:
        return default_executor(sandbox=not _unsandboxed(config), **timeouts)
    except SandboxUnavailable as e:
        raise Conflict(f"grading refused: {e}") from None


def grading_notice(config):
    """Return the warning the instructor pages show about grading, or ``""``.

    Without the sandbox (``sandbox = "none"``): that learners' code runs
    unconfined. With the sandbox asked for and unable to run: why grading
    is refused.
    """
    from ai4scale.grading.autograde import sandbox_unavailable_reason

    if _unsandboxed(config):
        return UNSANDBOXED_WARNING
    if _in_kubernetes_jobs(config):
        return ""  # Jobs in the cluster: nothing of this pod's is needed
    if _in_grading_containers(config):
        from ai4scale.grading.containers import check_docker

        try:
            check_docker(config.grading_image)
        except RuntimeError as e:
            return f"Grading is refused: {e}."
        return ""
    why = sandbox_unavailable_reason()
    if why:
        return f"Grading is refused: the grading sandbox cannot run here ({why})."
    return ""


def setup_alert_path(course, lab):
    """Return the file holding the last setup failure seen in a learner's check of ``lab``."""
    return course.path("setup-alerts", f"{lab}.json")


def record_setup_alert(course, lab, owner, failures, executor):
    """Remember that the lab's setup failed in ``owner``'s "check my work" (the trainer sees it).

    ``failures`` maps notebook -> the SetupFailure dict. Kept until a passing
    reference check (:func:`check_reference`) clears it; the lab's remembered
    passing checks are forgotten, so the next autograding checks again.
    """
    import json

    path = setup_alert_path(course, lab)
    path.parent.mkdir(exist_ok=True)
    first = next(iter(failures.values()))
    alert = {
        "at": dt.datetime.now(dt.UTC).isoformat(),
        "owner": owner,
        "executor": executor,
        **{k: first[k] for k in ("notebook", "cell", "grade_id", "error", "output")},
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(alert))
    tmp.replace(path)
    # The environment may have changed since the lab's last passing self-check.
    for cached in course.path("selfcheck").glob("*.json"):
        try:
            if json.loads(cached.read_text()).get("lab") == lab:
                cached.unlink()
        except (OSError, ValueError):
            pass
    app_log.error(
        "check my work of %s by %s: the lab's setup failed in %s, cell %s (%s executor): %s\n%s",
        lab,
        owner,
        alert["notebook"],
        alert["cell"],
        executor,
        alert["error"],
        alert["output"],
    )


def setup_alert(course, lab):
    """Return the last setup failure seen in a learner's check of ``lab``, or None."""
    import json

    try:
        return json.loads(setup_alert_path(course, lab).read_text())
    except (OSError, ValueError):
        return None


def check_reference(course, glab, executor):
    """Grade the lab's reference solution with ``executor`` (cached); return the SelfCheck.

    The check of :func:`ai4scale.grading.autograde.selfcheck`, remembered in
    the service directory's ``selfcheck/`` while the lab's files, the
    executor and its settings stay the same.
    """
    from ai4scale.grading.autograde import selfcheck

    check = selfcheck(glab, executor=executor, cache_dir=course.path("selfcheck"))
    if check.passed:  # the environment grades the lab now: an older alert is over
        setup_alert_path(course, glab.id).unlink(missing_ok=True)
    log = app_log.info if check.passed else app_log.error
    log("self-check %s (%.1f s%s)", check.message(), check.seconds, ", cached" * check.cached)
    return check


@dataclass
class Job:
    """An autograding run, followed by the instructor's page (``GET /instructor/jobs/{id}``).

    With a :class:`~._jobs.JobStore` (``store``), every change is saved, and
    a run the service did not finish is taken up again when it restarts.
    """

    lab: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    state: str = "queued"  # queued, running, done, failed
    done: int = 0
    total: int = 0
    errors: list = field(default_factory=list)
    notes: list = field(default_factory=list)  # what the instructor should know (restarts)
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    finished_at: dt.datetime | None = None
    executor: str = ""  # what ran the notebooks: "sandbox" or "local"
    selfcheck: dict | None = None  # the reference solution's check (SelfCheck.to_dict())
    resumes: int = 0  # times the service restarted during this run
    store: object = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def save(self):
        """Write the job to its store, if it has one."""
        if self.store is not None:
            self.store.save(self)

    def on_graded(self, graded, *, total, already=0):
        """Progress callback of ``grade_batch``; ``already``: graded before a restart."""
        with self._lock:
            if graded is None:  # the start: ``total`` submissions to grade in this run
                self.total = already + total
                self.done = already
            else:
                self.done += 1
                if graded.status == "error":
                    self.errors.append(f"{graded.learner}: {graded.message}")
        self.save()

    def as_dict(self):
        """Return the job as the ``Job`` schema."""
        with self._lock:
            return {
                "job": self.id,
                "lab": self.lab,
                "state": self.state,
                "done": self.done,
                "total": self.total,
                "errors": list(self.errors),
                "notes": list(self.notes),
                "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat() if self.finished_at else None,
                "executor": self.executor,
                "selfcheck": self.selfcheck,
            }

    @classmethod
    def from_dict(cls, data):
        """Return the job saved as ``data`` (:meth:`as_dict` plus ``resumes``)."""
        finished = data.get("finished_at")
        return cls(
            lab=data["lab"],
            id=data["job"],
            state=data["state"],
            done=int(data["done"]),
            total=int(data["total"]),
            errors=list(data.get("errors", [])),
            notes=list(data.get("notes", [])),
            started_at=dt.datetime.fromisoformat(data["started_at"]),
            finished_at=dt.datetime.fromisoformat(finished) if finished else None,
            executor=data.get("executor", ""),
            selfcheck=data.get("selfcheck"),
            resumes=int(data.get("resumes", 0)),
        )


def autograde(course, lab, *, job=None):
    """Autograde the collected submissions not graded yet, with the grading engine.

    Blocking (the service runs it in a thread). First the lab's reference
    solution is graded with the same executor (:func:`check_reference`):
    short of full marks, the job ends ``failed`` with the failing cell and
    its traceback in ``errors`` and ``selfcheck``, and nothing is recorded.
    Then results are recorded in the gradebook as each submission ends.

    Parameters
    ----------
    course : Course
    lab : str
    job : Job, optional
        Receives the progress; its state ends ``done`` or ``failed``.

    Returns
    -------
    Job
    """
    from ai4scale.grading.autograde import grade_batch

    job = job or Job(lab)
    job.state = "running"
    job.save()
    try:
        glab = _gradebook_lab(course, lab)
        collected = course.gradebook.collected_submissions(lab)
        ids = {info.owner: info.id for info in collected}
        folder = course.path("collected", lab)
        executor = make_executor(course.config)
        job.executor = executor.name
        check = check_reference(course, glab, executor)
        job.selfcheck = check.to_dict()
        if not check.passed:
            job.errors.append(check.message())
            job.state = "failed"
            return job
        if ids and folder.is_dir():
            # After a restart, what the gradebook already holds is skipped (resume):
            # counted as done, never graded twice.
            already = len(ids) - len(_not_graded(course, lab, ids)) if job.resumes else 0
            grade_batch(
                glab,
                folder,
                gradebook=course.gradebook,
                executor=executor,
                workers=course.config.grading_workers,
                resume=True,
                submission_ids=ids,
                on_graded=functools.partial(job.on_graded, already=already),
            )
        job.state = "failed" if job.errors else "done"
    except Conflict as e:  # refused (not released, no sandbox): said in the job
        job.errors.append(str(e))
        job.state = "failed"
    except Exception as e:
        job.errors.append(f"{type(e).__name__}: {e}")
        job.state = "failed"
        raise
    finally:
        job.finished_at = dt.datetime.now(dt.UTC)
        job.save()
    return job


def _not_graded(course, lab, ids):
    """Return the collected submission ids of ``ids`` the gradebook has no result for."""
    from ai4scale.grading.autograde._pipeline import _done

    done = _done(course.gradebook, lab)
    return [sid for sid in ids.values() if sid not in done]


def collected_of(course, lab, owner):
    """Return the newest collected submission of ``owner`` (a name), else NotFound."""
    check_owner(owner)
    for info in course.gradebook.collected_submissions(lab):
        if info.owner == owner:
            return info
    raise NotFound(f"no collected submission of {owner!r} for lab {lab!r}")


def _number(value, what):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"{what} must be a number")
    return float(value)


def set_grade(course, lab, owner, grade_id, *, points=None, level=None, comment=None, grader=""):
    """Grade one item of an owner's collected submission by hand.

    Parameters
    ----------
    course : Course
    lab, owner, grade_id : str
    points : float, optional
        0 to the item's points; with ``level`` and no points, the level's points.
        None with no level clears the manual score (the automatic one counts).
    level : int, optional
        Index into the item's rubric levels (lowest first).
    comment : str, optional
        Replaces the item's comment.
    grader : str

    Returns
    -------
    dict
        As the ``Grade`` schema.
    """
    glab = _gradebook_lab(course, lab)
    check_grade_id(grade_id)
    info = collected_of(course, lab, owner)
    points = _number(points, "points")
    if level is not None:
        if isinstance(level, bool) or not isinstance(level, int):
            raise BadRequest("level must be an integer (an index into the rubric's levels)")
        rubric = glab.lab.rubrics.get(grade_id)
        if rubric is None:
            raise BadRequest(f"item {grade_id!r} has no rubric: give points, not a level")
        if not 0 <= level < len(rubric.levels):
            raise BadRequest(f"level must be 0 to {len(rubric.levels) - 1} for item {grade_id!r}")
        if points is None:
            points = float(rubric.levels[level].points)
    if comment is not None and (not isinstance(comment, str) or len(comment) > 20_000):
        raise BadRequest("comment must be text of at most 20000 characters")
    try:
        saved = course.gradebook.set_grade(
            info.id, grade_id, points=points, level=level, comment=comment, grader=grader
        )
    except KeyError as e:
        raise NotFound(str(e).strip("\"'")) from None
    except ValueError as e:
        raise BadRequest(str(e)) from None
    return {"owner": owner, "submission": info.id, "grade_id": grade_id, **saved}


def release_feedback(course, lab):
    """Write the feedback pages of the graded submissions and release them.

    Pages go to ``feedback/<lab>/<owner>/<lab>.html`` (hidden tests and
    canaries withheld, the owner's answer cells shown), and each submission
    gets its ``feedback_released_at``.

    Returns
    -------
    dict
        ``released`` (count), ``owners``, ``released_at``.
    """
    from ai4scale.grading.feedback import write_feedback

    glab = _gradebook_lab(course, lab)
    gb = course.gradebook
    written = write_feedback(
        gb, glab, course.path("feedback", lab), submissions_dir=course.path("collected", lab)
    )
    subs = [s for s in gb.submissions(lab, status=("graded", "rejected")) if s.owner in written]
    when = gb.mark_feedback_released([s.id for s in subs])
    return {
        "released": len(subs),
        "owners": sorted(s.owner for s in subs),
        "released_at": when.isoformat(),
    }


def feedback_totals(course, submission_id):
    """Return ``(score, max_score)`` of a submission (score None when nothing is scored)."""
    info = course.gradebook.submission(submission_id)
    glab = course.lab(info.lab)
    scores = [
        r["score"]
        for r in course.gradebook.submission_results(submission_id).values()
        if r["score"] is not None
    ]
    return (sum(scores) if scores else None), float(glab.lab.points)


def learner_feedback(course, lab, owner):
    """Return an owner's released feedback (``GET /labs/{lab}/feedback``), else NotFound.

    Messages are cleaned as on the feedback page: nothing of the hidden tests.
    """
    from ai4scale.grading.feedback import (
        hidden_fragments,
        item_titles,
        plain_message,
        safe_message,
    )
    from ai4scale.grading.labformat import lab_items

    from ._labs import owner_state

    glab = course.lab(lab)
    titles = item_titles(glab.sources)
    released = owner_state(course, lab, owner)["released"]
    if released is None:
        raise NotFound(f"no feedback on lab {lab!r} is released to you yet")
    results = course.gradebook.submission_results(released.id)
    by_item = {(r["notebook"], r["grade_id"]): r for r in results.values()}
    rubrics = glab.lab.rubrics
    fragments = hidden_fragments(glab.sources)
    items = []
    for spec in lab_items(glab.sources):
        res = by_item.get((spec["notebook"], spec["grade_id"]), {})
        level = res.get("level")
        rubric = rubrics.get(spec["grade_id"])
        label = None
        if rubric is not None and level is not None and 0 <= level < len(rubric.levels):
            label = rubric.levels[level].label
        status = (res.get("flags") or {}).get("status", "")
        if status == "tampered":
            message = "set to zero: the notebook changed how errors are reported"
        elif status == "setup-failed":
            message = SETUP_FAILED_MESSAGE
        else:
            message = plain_message(safe_message(res.get("failure", ""), fragments))
        items.append(
            {
                "notebook": spec["notebook"],
                "grade_id": spec["grade_id"],
                "title": titles.get((spec["notebook"], spec["grade_id"]), "Question"),
                "points": res.get("score"),
                "max_points": res.get("max_points", spec["points"]),
                "level": label,
                "comment": res.get("comments", ""),
                "message": message,
            }
        )
    score, max_score = feedback_totals(course, released.id)
    return {
        "lab": lab,
        "score": score if score is not None else 0.0,
        "max_score": max_score,
        "released_at": released.feedback_released_at.isoformat(),
        "submission": released.id,
        "items": items,
        "html": None,
    }


def feedback_page(course, lab, owner):
    """Return the path of an owner's released feedback page, else NotFound."""
    from ._labs import owner_state

    if owner_state(course, lab, owner)["released"] is None:
        raise NotFound(f"no feedback on lab {lab!r} is released to you yet")
    page = course.path("feedback", lab, check_owner(owner.name), f"{lab}.html")
    if not page.is_file():
        raise NotFound(f"no feedback page for lab {lab!r}")
    return page
