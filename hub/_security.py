"""Security headers of the hub's pages and the course service's, and the hub's own scripts.

Every HTML page we serve sends:

* ``Content-Security-Policy``: scripts only from files on the same origin (no
  ``'unsafe-inline'``, no ``'unsafe-eval'``: none of our pages, JupyterHub's
  ``admin-react.js``, RequireJS or jQuery needs either), no plugins, no
  ``<base>`` elsewhere, forms posting only back to the sandbox. Styles keep
  ``'unsafe-inline'``: JupyterHub's and our templates use ``style=``
  attributes, the admin page's React injects ``<style>``, and the dashboard's
  plots are matplotlib SVG inline, which carries its own ``<style>``.
  ``img-src data:`` is for Bootstrap's icons and the use-case figures.
* ``X-Content-Type-Options: nosniff``: an uploaded file is never run as a script.
* ``Referrer-Policy: same-origin``: the full address goes with requests inside
  the sandbox (JupyterHub logs it for failed requests) and nothing at all to
  other sites, not even the sandbox's host name, which
  ``strict-origin-when-cross-origin`` would still send to any linked page.

The hub's pages may not be framed (``frame-ancestors 'none'``, JupyterHub's
own default: learners' servers share the origin and must not frame the admin
page). The course service's pages may be framed by the same origin only: the
JupyterLab "My labs" panel embeds them (``X-Frame-Options: SAMEORIGIN`` says
the same to older browsers).

JupyterHub's templates carry inline scripts; ``hub/templates`` overrides each
one so that its code comes from ``hub/static`` (served under the hub's
``static/ai4scale/`` by :class:`StaticFilesHandler`), with data handed over in
``<script type="application/json">`` blocks or ``data-`` attributes.
"""

from __future__ import annotations

import os
from pathlib import Path

from jupyterhub.handlers.static import CacheControlStaticFilesHandler

__all__ = [
    "REFERRER_POLICY",
    "STATIC_DIR",
    "STATIC_PREFIX",
    "StaticFilesHandler",
    "content_security_policy",
    "security_headers",
    "update_security",
]

#: The hub's own scripts (``hub/static``), served under the hub's ``static/ai4scale/``.
STATIC_DIR = Path(__file__).with_name("static")
STATIC_PREFIX = "ai4scale/"

REFERRER_POLICY = "same-origin"


def content_security_policy(*, frame_ancestors="'none'", report_uri=None):
    """Return the Content-Security-Policy of our pages.

    Parameters
    ----------
    frame_ancestors : str
        Who may frame the page: ``"'none'"`` (the hub) or ``"'self'"`` (the
        course pages, embedded in JupyterLab's "My labs" panel).
    report_uri : str, optional
        Where browsers report violations (JupyterHub logs them at
        ``/hub/security/csp-report``).

    Returns
    -------
    str

    Examples
    --------
    >>> content_security_policy(frame_ancestors="'self'").split("; ")[1]
    "script-src 'self'"
    """
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        f"frame-ancestors {frame_ancestors}",
    ]
    if report_uri:
        directives.append(f"report-uri {report_uri}")
    return "; ".join(directives)


def security_headers(*, frame_ancestors="'none'", report_uri=None):
    """Return the security headers of our pages, as a dict.

    Parameters
    ----------
    frame_ancestors, report_uri
        As for :func:`content_security_policy`.

    Returns
    -------
    dict
        ``Content-Security-Policy``, ``X-Content-Type-Options`` and
        ``Referrer-Policy``.
    """
    return {
        "Content-Security-Policy": content_security_policy(
            frame_ancestors=frame_ancestors, report_uri=report_uri
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": REFERRER_POLICY,
    }


class StaticFilesHandler(CacheControlStaticFilesHandler):
    """JupyterHub's static files, plus ``ai4scale/...`` from :data:`STATIC_DIR`.

    Templates use ``static_url("ai4scale/page.js")`` as for JupyterHub's own
    files, with the same version query and caching.
    """

    def set_extra_headers(self, path):
        """JupyterHub's caching, and no type sniffing."""
        super().set_extra_headers(path)
        self.set_header("X-Content-Type-Options", "nosniff")

    @classmethod
    def get_absolute_path(cls, root, path):
        """Map ``ai4scale/...`` into :data:`STATIC_DIR`, the rest into JupyterHub's."""
        if path.replace(os.sep, "/").startswith(STATIC_PREFIX):
            return os.path.abspath(os.path.join(STATIC_DIR, path[len(STATIC_PREFIX) :]))
        return super().get_absolute_path(root, path)

    def validate_absolute_path(self, root, absolute_path):
        """Check our files against :data:`STATIC_DIR` (nothing outside it is served)."""
        ours = os.path.abspath(STATIC_DIR)
        if absolute_path.startswith(ours + os.sep):
            root = ours
        return super().validate_absolute_path(root, absolute_path)


def update_security(c, settings):
    """Send the security headers on the hub's pages and serve its scripts.

    JupyterHub's ``BaseHandler.set_default_headers`` sets every header of
    ``tornado_settings["headers"]``, and its own ``frame-ancestors 'none'``
    policy only when none is given there.
    """
    c.JupyterHub.tornado_settings = {
        "headers": security_headers(
            frame_ancestors="'none'", report_uri="/hub/security/csp-report"
        ),
        "static_handler_class": StaticFilesHandler,
    }
