"""HTML pages of the course service (learner and instructor views).

The pages are thin: the server renders a layout (Jinja2 templates in
``templates/``, the hub's stylesheet and navigation bar) and the scripts in
``static/`` fill it from the JSON API with ``fetch``, sending the XSRF token
the page carries. The one exception is the dashboard, whose plots are drawn
on the server (:mod:`._plots`). Instructor pages are refused with 403 on the
server to anyone who is not an instructor: hiding links is not the check.
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

import jinja2
from tornado import web
from tornado.log import app_log

from ._errors import CourseError
from ._handlers import APIHandler, CourseHandler
from ._names import check_grade_id, check_lab_id, check_owner

__all__ = ["PageHandler", "page_handlers"]

_HERE = Path(__file__).parent
TEMPLATES_DIR = _HERE / "templates"
STATIC_DIR = _HERE / "static"

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@functools.cache
def _branding():
    # The service runs with AI4SCALE_CONFIG set (hub/_configurer.py): the hub's own names.
    from ai4scale.hub._settings import load_settings

    try:
        return dict(load_settings()["branding"])
    except Exception:  # noqa: BLE001 - a page must render even if the file is unreadable
        return {"name": "AI4Scale Sandbox"}


@functools.cache
def _static_version(path):
    # Cache-busting query: a changed script is fetched again after an upgrade.
    return web.StaticFileHandler.get_version({"static_path": str(STATIC_DIR)}, path)


def page(method):
    """Show a refused course operation as an error page with its status and message."""

    @functools.wraps(method)
    async def wrapper(self, *args, **kwargs):
        try:
            return await method(self, *args, **kwargs)
        except CourseError as e:
            raise web.HTTPError(e.status, "%s", str(e)) from e

    return wrapper


class PageHandler(CourseHandler):
    """Base of the HTML pages: login redirect, the layout's context, error pages."""

    #: Page id (``data-page`` of ``<body>``), used by the page's script.
    page_id = ""
    #: Which navigation entry is current.
    nav = "learner"
    #: Instructors only (403 page for everyone else).
    instructor_only = False

    async def prepare(self):
        """Identify the user; send them to the hub's login when they are not logged in."""
        await super().prepare()
        if self.person is None:
            if self.current_user or self.request.method not in ("GET", "HEAD"):
                # A service token, or a user the hub does not know: not a person of the course.
                raise web.HTTPError(403, "only people with a hub account can use the course")
            # The hub's OAuth login; its state brings the browser back to this page.
            self.redirect(self.get_login_url())
            return
        if self.instructor_only and not self.person.instructor:
            app_log.warning("%s refused instructor page %s", self.person.name, self.request.path)
            self.set_status(403)
            self.render_page("forbidden.html", page_title="Not allowed")

    def context(self, **extra):
        """Return the variables every template gets.

        ``grading_notice``: on instructor pages, that grading runs without the
        sandbox or is refused because the sandbox cannot run (``""`` when fine).
        """
        from ._grading import grading_notice

        branding = self.settings.get("branding") or _branding()
        instructor = bool(self.person and self.person.instructor)
        ctx = {
            "base_url": self.service_prefix,
            "hub_url": self.hub_auth.hub_prefix,
            "static": self.static,
            "xsrf_token": self.xsrf_token.decode()
            if isinstance(self.xsrf_token, bytes)
            else self.xsrf_token,
            "user": self.person.name if self.person else "",
            "instructor": bool(self.person and self.person.instructor),
            "in_team": bool(self.person and self.person.team),
            "brand": branding.get("name") or "AI4Scale Sandbox",
            "page_id": self.page_id,
            "nav": self.nav,
            "page_title": "",
            "grading_notice": grading_notice(self.course.config) if instructor else "",
            # Inside JupyterLab's "My labs" panel (?embed=1): the list only, no navigation.
            "embed": self.get_query_argument("embed", "") == "1",
        }
        ctx.update(extra)
        return ctx

    def static(self, path):
        """Return the URL of a file in ``static/``, with its version for caching."""
        return f"{self.service_prefix}static/{path}?v={_static_version(path)}"

    def render_page(self, template, **extra):
        """Render ``template`` with the layout's context and finish the response."""
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(_ENV.get_template(template).render(self.context(**extra)))

    def write_error(self, status_code, **kwargs):
        """Answer errors with a page in the layout, the message meant for a person."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = ""
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        if not message:
            message = {
                400: "The address of this page is not valid.",
                403: "You are not allowed to see this page.",
                404: "This page does not exist.",
            }.get(status_code, "Something went wrong in the course service.")
        if status_code >= 500:
            message = "Something went wrong in the course service. Please try again later."
        try:
            self.render_page("error.html", page_title="Error", status=status_code, message=message)
        except Exception:  # noqa: BLE001 - the layout itself failed: plain text
            self.finish(f"{status_code}: {message}")

    async def in_thread(self, func, *args, **kwargs):
        """Run blocking work (database, matplotlib) off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(func, *args, **kwargs))


class LearnerPage(PageHandler):
    """``/services/course/``: my labs (a trainer lands on the teaching page instead)."""

    page_id = "learner"

    async def get(self):  # noqa: D102
        embed = self.get_query_argument("embed", "") == "1"
        as_learner = self.get_query_argument("as", "") == "learner"
        if self.person.instructor and not (embed or as_learner):
            self.redirect(f"{self.service_prefix}instructor/")
            return
        self.render_page("learner.html", page_title="My labs")


class NotFoundPage(PageHandler):
    """Every other address: a 404 page in the course's layout (JSON under ``api/``)."""

    async def prepare(self):
        """Answer unknown API paths in JSON, before asking anyone to log in."""
        if self.request.path.startswith(f"{self.service_prefix}api/"):
            self.set_status(404)
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            self.finish({"error": f"no such API path: {self.request.path}"})
            return
        await super().prepare()

    async def get(self, *args):  # noqa: D102
        raise web.HTTPError(404, "%s", "There is no page at this address. Check it, or go back.")

    post = put = delete = get


class InstructorPage(PageHandler):
    """Base of the instructor pages."""

    instructor_only = True
    nav = "instructor"


class InstructorIndexPage(InstructorPage):
    """``/services/course/instructor/``: all labs, release form."""

    page_id = "instructor-index"

    async def get(self):  # noqa: D102
        self.render_page("instructor/index.html", page_title="Teaching")


class InstructorLabPage(InstructorPage):
    """``/services/course/instructor/labs/<lab>``: status, collect, autograde, feedback."""

    page_id = "instructor-lab"

    @page
    async def get(self, lab):  # noqa: D102
        lab = check_lab_id(lab)
        self.render_page("instructor/lab.html", page_title=lab, lab=lab)


class GradeItemPage(InstructorPage):
    """``.../labs/<lab>/items/<grade_id>``: one question across all learners."""

    page_id = "grade-item"

    @page
    async def get(self, lab, grade_id):  # noqa: D102
        lab, grade_id = check_lab_id(lab), check_grade_id(grade_id)
        self.render_page(
            "instructor/grade_item.html",
            page_title=f"Grade {grade_id}",
            lab=lab,
            grade_id=grade_id,
        )


class GradeOwnerPage(InstructorPage):
    """``.../labs/<lab>/owners/<owner>``: one learner (or team) at a time."""

    page_id = "grade-owner"

    @page
    async def get(self, lab, owner):  # noqa: D102
        lab, owner = check_lab_id(lab), check_owner(owner)
        self.render_page(
            "instructor/grade_owner.html", page_title=f"Grade {owner}", lab=lab, owner=owner
        )


class DashboardPage(InstructorPage):
    """``.../labs/<lab>/dashboard``: plots drawn on the server."""

    page_id = "dashboard"
    roster = APIHandler.roster  # who the lab is released to, as the API computes it

    @page
    async def get(self, lab):  # noqa: D102
        from . import _grading, _reports
        from ._plots import dashboard_plots

        lab = check_lab_id(lab)
        glab = await self.in_thread(_grading._gradebook_lab, self.course, lab)
        roster = await self.roster(lab)
        data = await self.in_thread(_reports.dashboard, self.course, lab, roster)
        plots = await self.in_thread(dashboard_plots, data)
        scores = data["score_distribution"].get("scores") or []
        self.render_page(
            "instructor/dashboard.html",
            page_title=f"Dashboard {lab}",
            lab=lab,
            title=glab.lab.title,
            data=data,
            plots=plots,
            mean_score=sum(scores) / len(scores) if scores else None,
            max_score=float(glab.lab.points),
        )


class GradebookPage(InstructorPage):
    """``/services/course/instructor/gradebook``: the table and the CSV export."""

    page_id = "gradebook"
    nav = "gradebook"

    async def get(self):  # noqa: D102
        self.render_page("instructor/gradebook.html", page_title="Gradebook")


class StaticHandler(web.StaticFileHandler):
    """The pages' scripts and stylesheet (public: no learner data in them)."""

    def set_extra_headers(self, path):  # noqa: D102
        self.set_header("X-Content-Type-Options", "nosniff")


_LAB = r"([^/]+)"


def page_handlers():
    """Return the tornado URL specs of the course service's pages.

    The service app appends them to its API handlers. The paths are relative
    to the service prefix (``/services/course/``).

    Returns
    -------
    list
        ``(pattern, handler[, kwargs])`` tuples.
    """
    from ..usecase._page import UseCasesPage

    return [
        (r"", LearnerPage),
        (r"instructor/?", InstructorIndexPage),
        (r"instructor/gradebook/?", GradebookPage),
        (rf"instructor/labs/{_LAB}/?", InstructorLabPage),
        (rf"instructor/labs/{_LAB}/items/([^/]+)/?", GradeItemPage),
        (rf"instructor/labs/{_LAB}/owners/([^/]+)/?", GradeOwnerPage),
        (rf"instructor/labs/{_LAB}/dashboard/?", DashboardPage),
        (r"usecases(?:/([^/]+))?/?", UseCasesPage),
        (r"static/(.*)", StaticHandler, {"path": str(STATIC_DIR)}),
        (r".*", NotFoundPage),
    ]
