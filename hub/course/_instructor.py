"""The instructors' REST API (``/api/instructor/...``): 403 for everyone else.

Thin handlers over the course library, as in :mod:`._handlers`.
"""

from __future__ import annotations

import asyncio
import functools

from tornado import web
from tornado.log import app_log

from . import _answers, _grading, _labs, _reports
from ._errors import BadRequest, Conflict, Forbidden, NotFound
from ._handlers import APIHandler, api
from ._names import check_lab_id
from ._people import LEARNERS_GROUP

__all__ = ["InstructorHandler"]


class InstructorHandler(APIHandler):
    """Every instructor endpoint: 403 for everyone else, before anything is read."""

    async def prepare(self):  # noqa: D102
        await super().prepare()
        if self._finished:  # refused already (a body too large)
            return
        try:
            self.require_instructor()
        except Forbidden as e:
            raise web.HTTPError(403, "%s", str(e)) from None


class InstructorLabsHandler(InstructorHandler):
    """``GET /api/instructor/labs``."""

    @api
    async def get(self):  # noqa: D102
        self.write_json(_labs.instructor_labs(self.course))


class ReleasesHandler(InstructorHandler):
    """``GET|POST /api/instructor/releases``."""

    @api
    async def get(self):  # noqa: D102
        self.write_json([_labs.release_dict(r) for r in self.course.gradebook.releases()])

    @api
    async def post(self):  # noqa: D102
        body = self.json_body()
        unknown = sorted(set(body) - {"lab", "group", "due", "track"})
        if unknown:
            raise BadRequest(f"unknown field {unknown[0]!r} (allowed: lab, group, due, track)")
        if "lab" not in body:
            raise BadRequest('give the lab to release: {"lab": "<id>"}')
        info = await self.in_thread(
            _labs.release,
            self.course,
            check_lab_id(body["lab"]),
            group=body.get("group") or LEARNERS_GROUP,
            due=body.get("due"),
            released_by=self.person.name,
            track=body.get("track") or "guided",
        )
        self.write_json(_labs.release_dict(info), status=201)


class StatusHandler(InstructorHandler):
    """``GET /api/instructor/labs/{lab}/status``."""

    @api
    async def get(self, lab):  # noqa: D102
        lab = self.lab_arg(lab)
        _grading._gradebook_lab(self.course, lab)
        self.write_json(_reports.lab_status(self.course, lab, await self.roster(lab)))


class CollectHandler(InstructorHandler):
    """``POST /api/instructor/labs/{lab}/collect``."""

    @api
    async def post(self, lab):  # noqa: D102
        self.write_json(await self.in_thread(_grading.collect, self.course, self.lab_arg(lab)))


class AutogradeHandler(InstructorHandler):
    """``POST /api/instructor/labs/{lab}/autograde``: a job in a thread."""

    @api
    async def post(self, lab):  # noqa: D102
        lab = self.lab_arg(lab)
        _grading._gradebook_lab(self.course, lab)
        jobs = self.settings["jobs"]
        running = [j for j in jobs.values() if j.lab == lab and j.state in ("queued", "running")]
        if running:
            raise Conflict(f"lab {lab!r} is being autograded (job {running[0].id})")
        job = _grading.Job(lab)
        jobs[job.id] = job
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(
            None, functools.partial(_grading.autograde, self.course, lab, job=job)
        )
        future.add_done_callback(_log_failure)
        self.write_json(job.as_dict(), status=202)


class JobHandler(InstructorHandler):
    """``GET /api/instructor/jobs/{job}``."""

    @api
    async def get(self, job):  # noqa: D102
        found = self.settings["jobs"].get(job)
        if found is None:
            raise NotFound(f"no job {job!r}")
        self.write_json(found.as_dict())


class ItemsHandler(InstructorHandler):
    """``GET /api/instructor/labs/{lab}/items``."""

    @api
    async def get(self, lab):  # noqa: D102
        self.write_json(await self.in_thread(_answers.lab_items_view, self.course, lab))


class AnswersHandler(InstructorHandler):
    """``GET /api/instructor/labs/{lab}/items/{grade_id}/answers``."""

    @api
    async def get(self, lab, grade_id):  # noqa: D102
        notebook = self.get_argument("notebook", None)
        self.write_json(
            await self.in_thread(
                _answers.item_answers, self.course, self.lab_arg(lab), grade_id, notebook=notebook
            )
        )


class OwnerSubmissionHandler(InstructorHandler):
    """``GET /api/instructor/labs/{lab}/submissions/{owner}``."""

    @api
    async def get(self, lab, owner):  # noqa: D102
        self.write_json(
            await self.in_thread(_answers.owner_submission, self.course, self.lab_arg(lab), owner)
        )


class GradeHandler(InstructorHandler):
    """``PUT /api/instructor/labs/{lab}/grades/{owner}/{grade_id}``."""

    @api
    async def put(self, lab, owner, grade_id):  # noqa: D102
        body = self.json_body()
        unknown = sorted(set(body) - {"level", "points", "comment"})
        if unknown:
            raise BadRequest(f"unknown field {unknown[0]!r} (allowed: level, points, comment)")
        saved = _grading.set_grade(
            self.course,
            self.lab_arg(lab),
            owner,
            grade_id,
            points=body.get("points"),
            level=body.get("level"),
            comment=body.get("comment"),
            grader=self.person.name,
        )
        self.write_json(saved)


class FeedbackReleaseHandler(InstructorHandler):
    """``POST /api/instructor/labs/{lab}/feedback/release``."""

    @api
    async def post(self, lab):  # noqa: D102
        self.write_json(
            await self.in_thread(_grading.release_feedback, self.course, self.lab_arg(lab))
        )


class GradebookHandler(InstructorHandler):
    """``GET /api/instructor/gradebook``."""

    @api
    async def get(self):  # noqa: D102
        lab = self.get_argument("lab", None)
        archived = self.get_argument("archived", "") == "1"
        table = await self.in_thread(
            _reports.gradebook_table, self.course, lab=lab and check_lab_id(lab), archived=archived
        )
        self.write_json(table)


class GradebookCSVHandler(InstructorHandler):
    """``GET /api/instructor/gradebook.csv``."""

    @api
    async def get(self):  # noqa: D102
        lab = self.get_argument("lab", None)
        archived = self.get_argument("archived", "") == "1"
        text = await self.in_thread(
            _reports.gradebook_csv, self.course, lab=lab and check_lab_id(lab), archived=archived
        )
        self.set_header("Content-Type", "text/csv; charset=UTF-8")
        self.set_header("Content-Disposition", 'attachment; filename="gradebook.csv"')
        self.finish(text)


class ArchiveHandler(InstructorHandler):
    """``GET/POST /api/instructor/archive``: archive or restore labs and learners."""

    @api
    async def get(self):  # noqa: D102
        self.write_json(self.course.gradebook.archived())

    @api
    async def post(self):  # noqa: D102
        body = self.json_body()
        unknown = sorted(set(body) - {"lab", "learner", "archived"})
        if unknown:
            raise BadRequest(f"unknown field {unknown[0]!r} (allowed: lab, learner, archived)")
        archived = body.get("archived", True)
        if not isinstance(archived, bool):
            raise BadRequest('"archived" is true (archive) or false (restore)')
        lab = body.get("lab")
        learner = body.get("learner")
        if lab is not None:
            lab = check_lab_id(lab)
        if learner is not None and (not isinstance(learner, str) or not learner):
            raise BadRequest('"learner" is a username')
        state = await self.in_thread(
            _reports.set_archived, self.course, lab=lab, learner=learner, archived=archived
        )
        self.write_json(state)


class DashboardHandler(InstructorHandler):
    """``GET /api/instructor/labs/{lab}/dashboard``."""

    @api
    async def get(self, lab):  # noqa: D102
        lab = self.lab_arg(lab)
        _grading._gradebook_lab(self.course, lab)
        roster = await self.roster(lab)
        self.write_json(await self.in_thread(_reports.dashboard, self.course, lab, roster))


def _log_failure(future):
    if future.exception() is not None:
        app_log.error("autograding failed", exc_info=future.exception())
