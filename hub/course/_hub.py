"""The service's own calls: the hub's REST API and the contents API of learners' servers.

Both with the service's hub API token. Learners' servers accept it because
its role grants ``access:servers!group=learners`` (and the team workspaces'
group), which the configurer's ``group_overrides`` put among those servers'
access scopes. Nothing here touches a learner's files directly: this is
what lets the service run where it shares no filesystem with the servers.
"""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import quote, urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from ._errors import Conflict, CourseError, TooLarge
from ._people import Person

__all__ = ["HubClient", "HubError"]


class HubError(CourseError):
    """The hub or a learner's server answered unexpectedly."""

    status = 502


def _path(path):
    return "/".join(quote(part, safe="") for part in path.split("/"))


class HubClient:
    """Async client of the hub API and of servers behind the hub's proxy.

    Parameters
    ----------
    api_url : str
        The hub API (``$JUPYTERHUB_API_URL``), e.g. ``http://127.0.0.1:8081/hub/api``.
    token : str
        The service's API token (``$JUPYTERHUB_API_TOKEN``).
    servers_url : str
        Where the proxy serves ``/user/<name>/`` (e.g. ``http://127.0.0.1:8000``).
    cache_seconds : float
        How long a user's groups are trusted before asking the hub again.
    """

    def __init__(self, api_url, token, servers_url, *, cache_seconds=5.0, timeout=60.0):
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.servers_url = servers_url.rstrip("/")
        self.cache_seconds = cache_seconds
        self.timeout = timeout
        self._people = {}

    async def _call(self, method, url, *, body=None, ok=(200,), max_body=None, timeout=None):
        headers = {"Authorization": f"token {self.token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(body)
        client = AsyncHTTPClient(force_instance=max_body is not None, max_body_size=max_body)
        request = HTTPRequest(
            url,
            method=method,
            headers=headers,
            body=body,
            request_timeout=timeout or self.timeout,
            follow_redirects=False,
        )
        try:
            response = await client.fetch(request, raise_error=False)
        except Exception as e:  # no HTTP answer: refused, timed out, body too long
            if max_body is not None and "too long" in str(e).lower():
                raise TooLarge(f"the file is larger than {max_body >> 20} MiB") from None
            raise HubError(f"{method} {url.split('?')[0]}: {e}") from None
        finally:
            if max_body is not None:
                client.close()
        if response.code not in ok:
            raise HubError(f"{method} {url.split('?')[0]}: {response.code} {response.reason}")
        if response.code == 404 or not response.body:
            return None
        return json.loads(response.body)

    # -- the hub ------------------------------------------------------------------

    async def person(self, name):
        """Return the :class:`Person` ``name`` as the hub knows them (cached briefly)."""
        cached = self._people.get(name)
        if cached is not None and time.monotonic() - cached[0] < self.cache_seconds:
            return cached[1]
        model = await self._call("GET", f"{self.api_url}/users/{quote(name)}", ok=(200, 404))
        person = Person.from_model(model) if model else Person(name)
        self._people[name] = (time.monotonic(), person)
        return person

    async def group_members(self, group):
        """Return the usernames of hub group ``group`` (empty when it does not exist)."""
        model = await self._call("GET", f"{self.api_url}/groups/{quote(group)}", ok=(200, 404))
        return sorted(model.get("users", [])) if model else []

    async def groups(self):
        """Return ``{group: [users]}`` of every hub group."""
        out, offset, limit = {}, 0, 200
        while True:
            query = urlencode({"offset": offset, "limit": limit})
            page = await self._call("GET", f"{self.api_url}/groups?{query}") or []
            for g in page:
                out[g["name"]] = sorted(g.get("users", []))
            if len(page) < limit:
                return out
            offset += len(page)

    async def require_server(self, user, *, team=False):
        """Raise Conflict unless ``user``'s default server is running and ready."""
        model = await self._call("GET", f"{self.api_url}/users/{quote(user)}", ok=(200, 404))
        server = ((model or {}).get("servers") or {}).get("")
        if not server or not server.get("ready"):
            where = "your team's workspace" if team else "your server"
            raise Conflict(f"{where} is not running: start it from the hub's home page, then retry")

    # -- the contents API of a server ------------------------------------------------

    def _contents(self, user, path, **query):
        url = f"{self.servers_url}/user/{quote(user)}/api/contents/{_path(path)}"
        return url + ("?" + urlencode(query) if query else "")

    async def stat(self, user, path):
        """Return the contents model of ``path`` without content, or None if absent."""
        return await self._call("GET", self._contents(user, path, content=0), ok=(200, 404))

    async def read(self, user, path, *, max_bytes):
        """Return the bytes of file ``path`` (refusing more than ``max_bytes``)."""
        # base64 makes the reply a third bigger; the JSON around it is small.
        limit = max_bytes * 4 // 3 + (64 << 10)
        model = await self._call(
            "GET",
            self._contents(user, path, type="file", format="base64", content=1),
            max_body=limit,
        )
        data = base64.b64decode(model["content"])
        if len(data) > max_bytes:
            raise TooLarge(f"{path} is larger than {max_bytes >> 20} MiB")
        return data

    async def write(self, user, path, data):
        """Create file ``path`` with ``data`` (bytes, written exactly)."""
        body = {
            "type": "file",
            "format": "base64",
            "content": base64.b64encode(data).decode("ascii"),
        }
        await self._call("PUT", self._contents(user, path), body=body, ok=(200, 201))

    async def mkdir(self, user, path):
        """Create directory ``path`` unless it exists."""
        found = await self.stat(user, path)
        if found is not None:
            if found.get("type") != "directory":
                raise Conflict(f"{path} exists and is not a folder: rename it, then retry")
            return
        await self._call(
            "PUT", self._contents(user, path), body={"type": "directory"}, ok=(200, 201)
        )
