"""Helpers for the browser tests: headless Debian Chromium, and JavaScript errors on our pages.

Index:
- :data:`CHROMIUM`, :data:`CHROMIUM_ARGS` -- the browser and its flags (no `playwright install`).
- :func:`launch` -- start Chromium with Playwright, failing when it is missing.
- :func:`watch` -- record console errors and uncaught exceptions of a context's pages.
- :func:`expect_errors` -- errors a test provokes on purpose (a refused page's 403).
- :func:`take_errors` -- the errors recorded since the last call; ``conftest.py``
  fails every browser test that leaves one.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from urllib.parse import urlparse

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

#: Our own pages, by path: the hub's (login, home, set-password, codes, spawn)
#: and the course service's. JupyterLab (``/user/...``) is not ours.
OWN_PAGES = ("/hub/", "/services/course/")

#: Known third-party noise on our pages, as (pattern, reason). Empty: add one
#: only with the reason it is not ours and cannot be fixed here.
ALLOWED = ()

_errors = []
_expected = []


def launch(playwright):
    """Launch Debian's Chromium headless; fail (not skip) when it is not installed."""
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: ./sandbox test installs Debian's chromium")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def _own(url):
    return urlparse(url).path.startswith(OWN_PAGES)


def _record(page, kind, text):
    url = page.url
    if not _own(url):
        return
    for pattern in [*_expected, *(p for p, _ in ALLOWED)]:
        if re.search(pattern, text):
            return
    _errors.append(f"{kind} on {url}: {text}")


def _watch_page(page):
    page.on(
        "console",
        lambda msg: msg.type == "error" and _record(page, "console error", _describe(msg)),
    )
    page.on("pageerror", lambda error: _record(page, "uncaught exception", str(error)))


def _describe(msg):
    where = msg.location or {}
    source = where.get("url", "")
    if source:
        return f"{msg.text} ({source}:{where.get('lineNumber', '?')})"
    return msg.text


def watch(target):
    """Record JavaScript errors of ``target`` (a browser context, or a page) and later pages.

    Console messages of type ``error`` and uncaught exceptions (``pageerror``)
    count when the page is one of :data:`OWN_PAGES`; a failed request logs a
    console error too ("Failed to load resource: ... 500").
    """
    pages = getattr(target, "pages", None)
    if pages is None:  # a page
        _watch_page(target)
        return target
    target.on("page", _watch_page)
    for page in pages:
        _watch_page(page)
    return target


@contextlib.contextmanager
def expect_errors(*patterns):
    """Allow console errors matching ``patterns`` inside the block (provoked by the test)."""
    _expected.extend(patterns)
    try:
        yield
    finally:
        for pattern in patterns:
            _expected.remove(pattern)


def take_errors():
    """Return and forget the errors recorded so far."""
    found = list(_errors)
    _errors.clear()
    return found
