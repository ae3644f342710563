"""The REST API (``openapi.yaml``): thin tornado handlers over the course library.

Every handler authenticates with hub OAuth (a browser cookie, or an
``Authorization: token`` header), then asks the hub with the service's own
token who the user is: instructor rights come from hub groups, never from
the request.
"""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path

from jupyterhub.services.auth import HubOAuthenticated
from tornado import web

from . import _grading, _labs, _transfer
from ._errors import BadRequest, CourseError, Forbidden
from ._names import check_lab_id
from ._people import LEARNERS_GROUP
from ._submissions import receipt

__all__ = ["APIHandler", "CourseHandler", "api_handlers"]

#: Largest request body the JSON API reads (notebooks never travel in requests).
MAX_BODY_BYTES = 1 << 20

#: A chunked body (no length known in advance) above the limit is read to its end and
#: dropped, then refused with 413 (see :meth:`APIHandler.data_received`); up to this size.
MAX_DISCARDED_BYTES = 64 << 30

OPENAPI_FILE = Path(__file__).with_name("openapi.yaml")


def api(method):
    """Turn a :class:`CourseError` into its HTTP status with a JSON message."""

    @functools.wraps(method)
    async def wrapper(self, *args, **kwargs):
        refusal = getattr(self, "_refusal", None)
        if refusal:  # a chunked body grew past the limit: read, dropped, refused now
            raise web.HTTPError(413, "%s", refusal)
        try:
            return await method(self, *args, **kwargs)
        except CourseError as e:
            raise web.HTTPError(e.status, "%s", str(e)) from e

    return wrapper


class CourseHandler(HubOAuthenticated, web.RequestHandler):
    """Base of the service's handlers (API and pages): the course, the hub, the person.

    After :meth:`prepare`, ``self.person`` is the logged-in :class:`Person`
    (groups as the hub says) or None.
    """

    person = None

    def set_default_headers(self):
        """Send the security headers on every answer, pages, API and errors alike.

        The pages may be framed by the same origin only: JupyterLab's "My labs"
        panel embeds them (``?embed=1``). See :mod:`ai4scale.hub._security`.
        """
        from ai4scale.hub._security import security_headers

        headers = security_headers(
            frame_ancestors="'self'", report_uri=self.settings.get("csp_report_uri")
        )
        for name, value in headers.items():
            self.set_header(name, value)
        self.set_header("X-Frame-Options", "SAMEORIGIN")

    @property
    def course(self):
        """The :class:`Course` (application setting ``course``)."""
        return self.settings["course"]

    @property
    def hub(self):
        """The :class:`HubClient` (application setting ``hub``)."""
        return self.settings["hub"]

    @property
    def service_prefix(self):
        """The service's URL prefix, e.g. ``/services/course/``."""
        return self.settings["service_prefix"]

    async def prepare(self):
        """Identify the user through the hub (async: no blocking call per request)."""
        if not hasattr(self, "_hub_auth_user_cache"):
            model = await self.hub_auth.get_user(self, sync=False)
            self._hub_auth_user_cache = None
            if model:
                try:
                    self._hub_auth_user_cache = self.check_hub_user(model)
                except Exception:  # UserNotAllowed: no access to this service
                    self._hub_auth_user_cache = None
        model = self._hub_auth_user_cache
        if model and model.get("kind", "user") == "user":
            self.person = await self.hub.person(model["name"])

    def require_instructor(self):
        """Raise 403 unless the person is an instructor (group ``instructors``) or hub admin."""
        if self.person is None or not self.person.instructor:
            raise Forbidden("only instructors may do this")


@web.stream_request_body
class APIHandler(CourseHandler):
    """JSON API handler: JSON errors, small bodies, 403 (not a redirect) when logged out."""

    async def prepare(self):
        """Refuse large bodies from their Content-Length, then authenticate."""
        self._body = bytearray()
        length = self.request.headers.get("Content-Length", "0")
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            await self._refuse_body(length)
            return
        if "Content-Length" not in self.request.headers:
            # Chunked: tornado would drop a body above its own limit without an answer.
            self.request.connection.set_max_body_size(MAX_DISCARDED_BYTES)
        await super().prepare()
        if self.request.method != "OPTIONS" and self.person is None:
            if self.request.path.rstrip("/").endswith("/openapi.yaml"):
                return
            raise web.HTTPError(403, "not logged in to the hub (or no access to the course)")

    @staticmethod
    def _too_large(length):
        return (
            f"request body too large ({length} bytes): the API takes JSON up to "
            f"{MAX_BODY_BYTES} bytes; notebooks are read from your server, not uploaded"
        )

    async def _refuse_body(self, length):
        # A declared length above the limit: answer 413 at once and hang up,
        # rather than read (or let tornado answer 400 to) a body the API never
        # takes. The hub's proxy sends Expect: 100-continue, so no byte of the
        # body was sent yet and the answer reaches the client.
        message = self._too_large(length)
        self.set_status(413)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Connection", "close")
        await self.finish(json.dumps({"error": message}))
        self.request.connection.close()

    def data_received(self, chunk):
        """Collect the body; past :data:`MAX_BODY_BYTES` (chunked), drop it and refuse at its end.

        Answering mid-body and hanging up loses the answer: the client (or the
        hub's proxy) is still sending, and a connection closed with unread data
        is reset, which throws away the 413 before it is read. So the rest is
        read and dropped, and the method answers 413 (the :func:`api` wrapper).
        """
        if self._finished:
            return
        if getattr(self, "_refusal", None):
            self._dropped += len(chunk)
            return
        self._body += chunk
        if len(self._body) > MAX_BODY_BYTES:
            self._dropped = len(self._body)
            self._body = bytearray()
            self._refusal = self._too_large(f"more than {MAX_BODY_BYTES}")

    def json_body(self):
        """Return the request body as a JSON object (BadRequest otherwise)."""
        if not self._body:
            return {}
        try:
            data = json.loads(bytes(self._body))
        except ValueError:
            raise BadRequest("the request body is not JSON") from None
        if not isinstance(data, dict):
            raise BadRequest("the request body must be a JSON object")
        return data

    def write_json(self, data, status=200):
        """Send ``data`` as JSON."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(data, default=str))

    def write_error(self, status_code, **kwargs):
        """Answer every error as ``{"error": message}``."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = self._reason
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        elif status_code >= 500:
            message = "internal error of the course service (see its log)"
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps({"error": message}))

    def lab_arg(self, lab):
        """Check a lab id from the URL."""
        return check_lab_id(lab)

    async def in_thread(self, func, *args, **kwargs):
        """Run blocking library work (kernels, file writing) off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(func, *args, **kwargs))

    async def roster(self, lab):
        """Return the owners a lab is released to: name -> members (from hub groups)."""
        glab = self.course.lab(lab)
        releases = self.course.gradebook.releases(lab)
        groups = await self.hub.groups()
        people = set()
        for r in releases:
            people.update(groups.get(r.group, []))
        if not glab.lab.team:
            return {name: [name] for name in sorted(people)}
        from ai4scale.hub.teams import TEAM_PREFIX, WORKSPACES_GROUP

        teams = {}
        for group, members in groups.items():
            if group.startswith(TEAM_PREFIX) and group != WORKSPACES_GROUP:
                if set(members) & people:
                    teams[group[len(TEAM_PREFIX) :]] = members
        return teams


# -- meta ------------------------------------------------------------------------------


class OpenAPIHandler(APIHandler):
    """``GET /api/openapi.yaml``."""

    async def get(self):  # noqa: D102
        self.set_header("Content-Type", "application/yaml; charset=UTF-8")
        self.finish(OPENAPI_FILE.read_bytes())


class MeHandler(APIHandler):
    """``GET /api/me``."""

    @api
    async def get(self):  # noqa: D102
        p = self.person
        self.write_json(
            {
                "name": p.name,
                "instructor": p.instructor,
                "learner": LEARNERS_GROUP in p.groups,
                "teams": sorted(g for g in p.groups if g.startswith("team-")),
            }
        )


# -- learner ---------------------------------------------------------------------------


class LabsHandler(APIHandler):
    """``GET /api/labs``."""

    @api
    async def get(self):  # noqa: D102
        self.write_json(_labs.learner_labs(self.course, self.person))


class FetchHandler(APIHandler):
    """``POST /api/labs/{lab}/fetch``."""

    @api
    async def post(self, lab):  # noqa: D102
        lab = self.lab_arg(lab)
        self.write_json(await _transfer.fetch_lab(self.course, self.hub, self.person, lab))


class CheckHandler(APIHandler):
    """``POST /api/labs/{lab}/check``."""

    @api
    async def post(self, lab):  # noqa: D102
        lab = self.lab_arg(lab)
        self.write_json(await _transfer.check_lab(self.course, self.hub, self.person, lab))


class SubmitHandler(APIHandler):
    """``POST /api/labs/{lab}/submit``."""

    @api
    async def post(self, lab):  # noqa: D102
        lab = self.lab_arg(lab)
        info = await _transfer.submit_lab(self.course, self.hub, self.person, lab)
        self.write_json(receipt(info), status=201)


class SubmissionsHandler(APIHandler):
    """``GET /api/labs/{lab}/submissions``."""

    @api
    async def get(self, lab):  # noqa: D102
        from ._people import owner_of

        glab, _ = _labs.visible_lab(self.course, self.lab_arg(lab), self.person)
        owner = owner_of(glab, self.person)
        subs = self.course.gradebook.owner_submissions(lab, **owner.gradebook_key())
        self.write_json([receipt(s) for s in subs])


class FeedbackHandler(APIHandler):
    """``GET /api/labs/{lab}/feedback``."""

    @api
    async def get(self, lab):  # noqa: D102
        from ._people import owner_of

        glab, _ = _labs.visible_lab(self.course, self.lab_arg(lab), self.person)
        data = _grading.learner_feedback(self.course, lab, owner_of(glab, self.person))
        data["html"] = f"{self.service_prefix}api/labs/{lab}/feedback.html"
        self.write_json(data)


class FeedbackPageHandler(APIHandler):
    """``GET /api/labs/{lab}/feedback.html``: the page, for the logged-in owner only."""

    @api
    async def get(self, lab):  # noqa: D102
        from ._people import owner_of

        glab, _ = _labs.visible_lab(self.course, self.lab_arg(lab), self.person)
        page = _grading.feedback_page(self.course, lab, owner_of(glab, self.person))
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'",
        )
        self.set_header("Cache-Control", "no-store")
        self.finish(page.read_bytes())


class NotFoundHandler(APIHandler):
    """Any other ``/api/...`` path: a JSON 404 (400 for ``..`` segments)."""

    async def prepare(self):  # noqa: D102
        await super().prepare()
        if self._finished:
            return
        # The proxy decodes %2F, so "lab/../x" arrives split: say what is wrong with it.
        if any(part in ("..", ".") for part in self.request.path.split("/")):
            raise web.HTTPError(
                400, "invalid lab id or name in the path: '..' and '.' are not allowed"
            )
        raise web.HTTPError(404, "no such API endpoint: %s", self.request.path)


_LAB = r"([^/]+)"


def api_handlers(prefix):
    """Return the API's URL specs under ``prefix`` (e.g. ``/services/course/``)."""
    from . import _instructor as i

    base = prefix + "api"
    routes = [
        ("/openapi.yaml", OpenAPIHandler),
        ("/me", MeHandler),
        ("/labs", LabsHandler),
        (f"/labs/{_LAB}/fetch", FetchHandler),
        (f"/labs/{_LAB}/check", CheckHandler),
        (f"/labs/{_LAB}/submit", SubmitHandler),
        (f"/labs/{_LAB}/submissions", SubmissionsHandler),
        (f"/labs/{_LAB}/feedback", FeedbackHandler),
        (f"/labs/{_LAB}/feedback\\.html", FeedbackPageHandler),
        ("/instructor/labs", i.InstructorLabsHandler),
        ("/instructor/releases", i.ReleasesHandler),
        (f"/instructor/labs/{_LAB}/status", i.StatusHandler),
        (f"/instructor/labs/{_LAB}/collect", i.CollectHandler),
        (f"/instructor/labs/{_LAB}/autograde", i.AutogradeHandler),
        ("/instructor/jobs/([^/]+)", i.JobHandler),
        (f"/instructor/labs/{_LAB}/items", i.ItemsHandler),
        (f"/instructor/labs/{_LAB}/items/([^/]+)/answers", i.AnswersHandler),
        (f"/instructor/labs/{_LAB}/submissions/([^/]+)", i.OwnerSubmissionHandler),
        (f"/instructor/labs/{_LAB}/grades/([^/]+)/([^/]+)", i.GradeHandler),
        (f"/instructor/labs/{_LAB}/feedback/release", i.FeedbackReleaseHandler),
        ("/instructor/gradebook", i.GradebookHandler),
        ("/instructor/gradebook\\.csv", i.GradebookCSVHandler),
        ("/instructor/archive", i.ArchiveHandler),
        (f"/instructor/labs/{_LAB}/dashboard", i.DashboardHandler),
    ]
    from ai4scale.hub.usecase._handlers import usecase_handlers

    routes += usecase_handlers()
    routes.append(("/.*", NotFoundHandler))
    return [(base + path + "/?", handler) for path, handler in routes]
