"""The course service process: ``python -m ai4scale.hub.course --settings FILE``.

Started by the hub as a managed service, which passes ``JUPYTERHUB_API_TOKEN``,
``JUPYTERHUB_API_URL``, ``JUPYTERHUB_SERVICE_URL`` (where to listen) and
``JUPYTERHUB_SERVICE_PREFIX`` (``/services/course/``) in the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from urllib.parse import urlparse

from tornado import web
from tornado.httpserver import HTTPServer
from tornado.log import app_log, enable_pretty_logging

__all__ = ["main", "make_app", "servers_url"]


def servers_url(settings):
    """Return where the proxy serves learners' servers, as seen from the service.

    ``[course] servers_url`` when set, else ``$AI4SCALE_COURSE_SERVERS_URL``
    (set by the Kubernetes profile: the proxy's Service), else the hub's own
    address on this machine.
    """
    if settings["course"]["servers_url"]:
        return settings["course"]["servers_url"]
    if os.environ.get("AI4SCALE_COURSE_SERVERS_URL"):
        return os.environ["AI4SCALE_COURSE_SERVERS_URL"]
    from ai4scale.hub.cli_up import hub_url

    return hub_url(settings)


def _page_specs(prefix):
    """Return the pages' URL specs (from ``_pages.page_handlers``) under ``prefix``."""
    from ._pages import page_handlers

    specs = []
    for spec in page_handlers():
        if isinstance(spec, web.URLSpec):
            pattern = spec.regex.pattern.rstrip("$")
            specs.append(
                web.URLSpec(prefix + pattern.lstrip("/"), spec.target, spec.kwargs, spec.name)
            )
        else:
            pattern, *rest = spec
            specs.append((prefix + pattern.lstrip("/"), *rest))
    return specs


def make_app(course, hub, *, prefix="/services/course/", cookie_secret=None):
    """Return the tornado Application of the service.

    Parameters
    ----------
    course : Course
    hub : HubClient
    prefix : str
        The service's URL prefix (``$JUPYTERHUB_SERVICE_PREFIX``).
    cookie_secret : bytes, optional
        Signs the OAuth cookie; random when omitted.

    Returns
    -------
    tornado.web.Application
    """
    from jupyterhub.services.auth import HubOAuthCallbackHandler

    from ._handlers import api_handlers
    from ._jobs import JobStore

    if not prefix.endswith("/"):
        prefix += "/"
    handlers = [(prefix + "oauth_callback", HubOAuthCallbackHandler)]
    handlers += api_handlers(prefix)
    handlers += _page_specs(prefix)
    return web.Application(
        handlers,
        course=course,
        hub=hub,
        jobs=JobStore(course.path("jobs")),
        service_prefix=prefix,
        # The hub logs the pages' Content-Security-Policy violations.
        csp_report_uri=os.environ.get("JUPYTERHUB_BASE_URL", "/").rstrip("/")
        + "/hub/security/csp-report",
        cookie_secret=cookie_secret or os.urandom(32),
        xsrf_cookies=False,  # HubOAuth checks XSRF for cookie-authenticated requests
    )


def main(argv=None):
    """Run the service until SIGTERM."""
    from ai4scale.hub._settings import load_settings
    from ai4scale.hub._state import read_or_create_secret

    from ._course import Course
    from ._hub import HubClient

    parser = argparse.ArgumentParser(prog="python -m ai4scale.hub.course")
    parser.add_argument("--settings", help="settings file (default: $AI4SCALE_CONFIG)")
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    enable_pretty_logging()
    app_log.setLevel(logging.DEBUG if args.debug else logging.INFO)
    settings = load_settings(args.settings)
    course = Course.from_settings(settings)
    course.gradebook  # migrate now: fail at start, not at the first request  # noqa: B018
    from ._grading import grading_notice

    notice = grading_notice(course.config)  # said at start too, not only on the pages
    if notice:
        app_log.warning("%s", notice)
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/course/")
    secret = read_or_create_secret(course.path("cookie_secret")).encode()
    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", ""))

    async def run():
        hub = HubClient(
            os.environ["JUPYTERHUB_API_URL"],
            os.environ["JUPYTERHUB_API_TOKEN"],
            servers_url(settings),
        )
        app = make_app(course, hub, prefix=prefix, cookie_secret=secret)
        server = HTTPServer(app, xheaders=True)
        # AI4SCALE_COURSE_BIND: all addresses when the proxy is in another pod.
        host = os.environ.get("AI4SCALE_COURSE_BIND") or url.hostname or "127.0.0.1"
        server.listen(url.port or settings["course"]["port"], host)
        app_log.info("course service at %s (labs: %s)", prefix, course.config.labs_dir)
        from ._jobs import resume_jobs

        resume_jobs(course, app.settings["jobs"])
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        server.stop()
        course.close()

    asyncio.run(run())
    return 0
