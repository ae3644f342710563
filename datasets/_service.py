"""A kernel's client of the course service: use-case tables in, assessment results out.

A notebook in a team member's server or in the team workspace reaches the
course service (``/services/course/``) over HTTP, as notebooks travel between
servers and the service:

- where: ``$AI4SCALE_COURSE_URL``, set by the spawner (the service's address
  as seen from learners' servers);
- as whom: the server's own API token, ``$JUPYTERHUB_API_TOKEN``, which the
  hub scopes to the course service (``Spawner.server_token_scopes``); the
  service asks the hub whose token it is and decides what that person (or
  team workspace) may see.

Learner-readable and standard library only (``urllib``): a kernel may have
no ``requests``, and this module imports nothing of the hub or the grading
engine. Errors speak plain words (the people reading them are civil
servants, not programmers) and carry the HTTP status for code.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

from ._errors import (
    CourseServiceError,
    DataNotReadyError,
    NotInTeamError,
    NotLoggedInError,
    ServiceUnavailableError,
)

__all__ = [
    "API",
    "COURSE_URL_VARIABLE",
    "TOKEN_VARIABLE",
    "error_for",
    "get_bytes",
    "get_json",
    "post_json",
    "service_url",
]

#: Environment variable with the course service's URL (``.../services/course/``).
COURSE_URL_VARIABLE = "AI4SCALE_COURSE_URL"

#: Environment variable with the server's API token (set by JupyterHub).
TOKEN_VARIABLE = "JUPYTERHUB_API_TOKEN"

#: Where the REST API is, under the service's URL: paths given to
#: :func:`get_bytes` and :func:`post_json` are relative to it.
API = "api/"

#: Seconds to wait for the service to accept, or for the next bytes of an answer.
DEFAULT_TIMEOUT = 60.0

_NOT_ON_THE_SANDBOX = (
    "This notebook is not connected to the sandbox's course service: use case "
    "data opens only in a notebook on the sandbox, in your own server or in "
    "your team's workspace."
)
_NOT_LOGGED_IN = (
    "The course service did not accept this notebook's login. Open the notebook "
    "again from the sandbox (your own server or your team's workspace); if it "
    "keeps happening, stop and start your server from the hub's home page."
)
_NO_ANSWER = (
    "The course service does not answer right now. Try again in a minute; "
    "if it keeps failing, tell your instructor."
)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # The token must never follow a redirect (urllib would send it to the new address).
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


# No proxy from the environment either: the service's address is internal.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def service_url():
    """Return the course service's base URL, ending with ``/``.

    Returns
    -------
    str
        ``$AI4SCALE_COURSE_URL``, e.g. ``http://127.0.0.1:8082/services/course/``.

    Raises
    ------
    NotLoggedInError
        The variable or the server's token is missing: the notebook does not
        run in a server of the sandbox.
    """
    url = os.environ.get(COURSE_URL_VARIABLE, "").strip()
    if not url or not os.environ.get(TOKEN_VARIABLE):
        raise NotLoggedInError(_NOT_ON_THE_SANDBOX)
    return url if url.endswith("/") else url + "/"


def _detail(body):
    """Return the service's own message from an error body (``{"error": ...}``), or ''."""
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return data["error"]
    return ""


def error_for(status, detail):
    """Return the error to raise for an HTTP error answer of the service.

    Parameters
    ----------
    status : int
        HTTP status.
    detail : str
        The service's message (``{"error": ...}``), possibly empty.

    Returns
    -------
    CourseServiceError
        :class:`NotLoggedInError` (401, or 403 "not logged in"),
        :class:`NotInTeamError` (403 about a team), :class:`DataNotReadyError`
        (409), :class:`ServiceUnavailableError` (502, 503, 504: the proxy
        or a stopped service), else :class:`CourseServiceError` with the
        service's words (404 included: callers say what was not found).
    """
    said = f" (the service says: {detail})" if detail else ""
    if status == 401 or (status == 403 and detail.startswith("not logged in")):
        return NotLoggedInError(_NOT_LOGGED_IN, status=status, detail=detail)
    if status == 403 and detail and "team" not in detail:  # "only instructors may ..."
        return CourseServiceError(
            f"The course service does not allow this here{said}.", status=status, detail=detail
        )
    if status == 403:
        return NotInTeamError(
            "This belongs to a team you are not part of: it opens only in that team's "
            f"workspace and its members' servers{said}.",
            status=status,
            detail=detail,
        )
    if status == 409:
        return DataNotReadyError(
            "The use case's data is not ready yet: finish its steps on the Use cases "
            f"page (personal data checked and resolved){said}.",
            status=status,
            detail=detail,
        )
    if status in (502, 503, 504):
        return ServiceUnavailableError(_NO_ANSWER + said, status=status, detail=detail)
    if status >= 500:
        return CourseServiceError(
            "The course service failed on this request; tell your instructor" + said + ".",
            status=status,
            detail=detail,
        )
    return CourseServiceError(
        detail or f"The course service refused this request (HTTP {status}).",
        status=status,
        detail=detail,
    )


def _request(method, path, *, data=None, content_type=None, timeout=DEFAULT_TIMEOUT):
    url = service_url() + API + path.lstrip("/")
    headers = {"Authorization": f"token {os.environ[TOKEN_VARIABLE]}"}
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return response.read()
    except urllib.error.HTTPError as e:
        with e:
            body = e.read()
        raise error_for(e.code, _detail(body)) from None
    except OSError as e:  # URLError, refused connections, timeouts
        reason = getattr(e, "reason", e)
        raise ServiceUnavailableError(f"{_NO_ANSWER} ({reason})", detail=str(reason)) from None


def get_bytes(path, *, timeout=DEFAULT_TIMEOUT):
    """Return the body of ``GET <service>/api/<path>``.

    Parameters
    ----------
    path : str
        Path under the service's API, e.g. ``"usecases/x/datasets/y/table.parquet"``
        (segments already quoted).
    timeout : float
        Seconds to wait for the connection and for each read.

    Returns
    -------
    bytes

    Raises
    ------
    CourseServiceError
        A subclass saying why in plain words (see :func:`error_for`);
        :class:`ServiceUnavailableError` when nothing answers.
    """
    return _request("GET", path, timeout=timeout)


def get_json(path, *, timeout=DEFAULT_TIMEOUT):
    """Return the JSON answer of ``GET <service>/api/<path>`` (errors as :func:`get_bytes`)."""
    return _parse(get_bytes(path, timeout=timeout))


def post_json(path, payload, *, timeout=DEFAULT_TIMEOUT):
    """Send ``payload`` as JSON with ``POST <service>/api/<path>`` and return the JSON answer.

    Parameters
    ----------
    path : str
        Path under the service's API, e.g. ``"usecases/x/results"``.
    payload : dict
        JSON-serialisable: the whole request body (for results,
        ``{"payload": to_payload(...), "notebook_sha256": ...}``).
    timeout : float
        Seconds to wait for the connection and for each read.

    Returns
    -------
    object or None
        The decoded answer; None when the answer is empty.

    Raises
    ------
    CourseServiceError
        As :func:`get_bytes`.

    Examples
    --------
    >>> from ai4scale.datasets._service import post_json
    >>> post_json("usecases/benefit-checks/results", body)  # doctest: +SKIP
    """
    data = json.dumps(payload).encode()
    answer = _request(
        "POST", path, data=data, content_type="application/json; charset=UTF-8", timeout=timeout
    )
    return _parse(answer)


def _parse(body):
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        raise CourseServiceError(
            "The course service answered with something that is not data; tell your instructor."
        ) from None
