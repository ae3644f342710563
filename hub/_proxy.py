"""The hub's proxy: configurable-http-proxy (PyPI) with two fixes.

configurable-http-proxy 0.4.0, the Python port the local and Docker
profiles run, differs from the Node.js original in two ways that break
real-time collaboration (team workspaces), found with its Yjs sync:

* It forwards a browser's *binary* websocket frames to the server as
  *text* frames (``ProxyHandler.on_message`` calls ``write_message``
  without ``binary=``). The server gets a ``str`` where it expects bytes:
  pycrdt fails with ``TypeError: unsupported operand type(s) for &: 'str'
  and 'int'``; so would any binary protocol (JupyterLab's v1 kernel
  protocol). Frames from the server to the browser keep their type already.
* It rebuilds the target path by percent-encoding the *decoded* path, so
  ``/api/collaboration/room/json:notebook:<id>`` reaches the server as
  ``json%3Anotebook%3A<id>``; jupyter-collaboration reads the room from
  the raw path, sees no document room and serves an empty one. (An encoded
  ``%2F`` in a contents API path would turn into ``/`` the same way.) The
  fix forwards the path as the client sent it.

* It answers a websocket handshake without the subprotocol the server
  chose: JupyterLab asks for ``v1.kernel.websocket.jupyter.org``, the
  server accepts it, but the browser gets no ``Sec-WebSocket-Protocol``
  back, fails the handshake ("Sent non-empty 'Sec-WebSocket-Protocol'
  header but no response was received") and reconnects with the legacy
  protocol: an error in the console on every notebook opened. The fix
  passes the server's choice on (:func:`select_subprotocol`).

* It leaves the browser's websocket open when the server's side closes
  (a server killed at its memory limit): the browser waited for ever. The
  fix closes it (:func:`start_ws_client`).

It also reads a whole request body before forwarding it, with tornado's
100 MB limit: a larger upload (a use case's table, up to 200 MB) got a bare
400, a service's early refusal (413 from the Content-Length) a 503, and an
interrupted upload never reached the service. Large bodies (more than 1 MiB,
or chunked) are therefore streamed to the target as they arrive
(:class:`StreamingProxyHandler`); the target's own limit applies, and its
early answer is passed on. Everything else goes through the port unchanged.

Run as ``python -m ai4scale.hub._proxy`` with configurable-http-proxy's
own options; the configurer sets ``ConfigurableHTTPProxy.command`` to it.
"""

from __future__ import annotations

import asyncio
import sys
import urllib.parse

from configurable_http_proxy import handlers
from configurable_http_proxy.cli import main
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.routing import PathMatches, Rule

__all__ = [
    "STREAM_ABOVE_BYTES",
    "proxy_request",
    "LargeBodyMatches",
    "StreamingProxyHandler",
    "forward_client_message",
    "main",
    "patch",
    "select_subprotocol",
    "start_ws_client",
    "target_url",
]

#: Request bodies larger than this (or chunked) are streamed to the target.
STREAM_ABOVE_BYTES = 1 << 20

#: Largest streamed body the proxy lets through; the target enforces its own limit.
MAX_STREAMED_BYTES = 64 << 30

#: Requests the proxy forwards at once. Tornado's client allows 10 and fails a
#: request that waits longer than 20 s for a slot: the proxy holds a slot for a
#: whole response, so 10 learners following a spawn's progress stream made every
#: other request wait, and 30 learners starting together got bare 503s
#: (benchmarks/load.py).
MAX_CLIENTS = 1000


def forward_client_message(self, message):
    """``ProxyHandler.on_message`` that keeps a binary frame binary."""
    if self.ws_client:
        # update timestamp on any request data (as the original does)
        prefix = self.target["prefix"] if self.target else ""
        if prefix:
            self.proxy.update_last_activity(prefix)
        self.ws_client.write_message(message, binary=isinstance(message, bytes))


_ORIGINAL_PROXY_REQUEST = handlers.ProxyHandler._get_proxy_request


def proxy_request(self, url):
    """``ProxyHandler._get_proxy_request`` that names the client in ``X-Real-Ip`` itself.

    The port passes a client's own ``X-Real-Ip`` header through, and the hub
    (tornado with ``xheaders``) takes it as the client's address: anyone could
    write any address into the hub's logs. The proxy's own view of the client
    replaces it (``X-Forwarded-For`` is already appended by the proxy).
    """
    request = _ORIGINAL_PROXY_REQUEST(self, url)
    request.headers["X-Real-Ip"] = self.request.remote_ip
    return request


_ORIGINAL_START_WS_CLIENT = handlers.ProxyHandler.start_ws_client


async def start_ws_client(self, path=None):
    """``ProxyHandler.start_ws_client`` closing the browser's websocket when the server's closes.

    The port ignores the end of the server's side (its message callback gets
    None and does nothing), so a browser kept a half-dead websocket to a
    server that had died (killed at its memory limit, or stopped): JupyterLab
    never learned it and waited for replies for ever.
    """
    await _ORIGINAL_START_WS_CLIENT(self, path)
    client = getattr(self, "ws_client", None)
    forward = getattr(client, "_on_message_callback", None)
    if forward is None:
        return

    def on_message(message):
        forward(message)
        if message is None and not self.closed:
            self.close()

    client._on_message_callback = on_message


def select_subprotocol(self, subprotocols):
    """``ProxyHandler.select_subprotocol``: the one the target server accepted, if offered."""
    client = getattr(self, "ws_client", None)
    chosen = getattr(client, "selected_subprotocol", None) if client is not None else None
    return chosen if chosen in subprotocols else None


async def target_url(self, path):
    """``ProxyHandler.get_target_url`` that forwards the request's path as sent."""
    self.target = self.proxy.target_for_req(None, path)
    if self.target is None:
        await self.handle_proxy_error(404, err=None)
        return None
    prefix, target = self.target["prefix"], self.target["target"]
    # The raw path, still percent-encoded as the client wrote it (not quote(path)).
    proxy_path = self.request.path
    if not self.proxy.include_prefix:
        proxy_path = proxy_path[len(urllib.parse.quote(prefix)) :]
    target = urllib.parse.urlparse(target)
    if self.proxy.prepend_path:
        queries = [q for q in (target.query, self.request.query) if q]
        target = target._replace(
            query="&".join(queries),
            path=target.path.rstrip("/") + "/" + proxy_path.lstrip("/"),
        )
    else:
        target = target._replace(query=self.request.query, path=proxy_path)
    return target.geturl()


class LargeBodyMatches(PathMatches):
    """Match requests whose body is streamed: POST/PUT/PATCH above 1 MiB, or chunked."""

    def match(self, request):  # noqa: D102
        if request.method not in ("POST", "PUT", "PATCH"):
            return None
        length = request.headers.get("Content-Length", "")
        chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
        if not chunked and not (length.isdigit() and int(length) > STREAM_ABOVE_BYTES):
            return None
        return super().match(request)


_DROPPED_HEADERS = ("transfer-encoding", "expect", "connection")


@web.stream_request_body
class StreamingProxyHandler(handlers.ProxyHandler):
    """Forward a large request body to the target while it arrives.

    The target request starts in :meth:`prepare` with ``Expect:
    100-continue``: a target that refuses from the headers (403, 413) answers
    before any byte of the body is sent, and that answer goes to the client
    at once (then the connection closes, the rest unread). When the client
    goes away mid-body, the target's connection is dropped too, so the
    target sees the interrupted upload.
    """

    _upstream = None
    _answered = False

    async def prepare(self):  # noqa: D102
        self._queue = asyncio.Queue(maxsize=16)
        self._aborted = asyncio.Event()
        url = await self.get_target_url(self.path_args[0] if self.path_args else None)
        if url is None or self._finished:
            return
        self.request.connection.set_max_body_size(MAX_STREAMED_BYTES)
        plain = self._get_proxy_request(url)
        headers = {k: v for k, v in plain.headers.items() if k.lower() not in _DROPPED_HEADERS}
        request = HTTPRequest(
            url,
            method=self.request.method,
            headers=headers,
            body_producer=self._produce,
            expect_100_continue=True,
            follow_redirects=False,
            allow_nonstandard_methods=True,
            request_timeout=self.proxy.proxy_timeout,
        )
        self._upstream = asyncio.ensure_future(AsyncHTTPClient().fetch(request, raise_error=False))
        self._upstream.add_done_callback(self._early_answer)

    async def _produce(self, write):
        while True:
            get = asyncio.ensure_future(self._queue.get())
            abort = asyncio.ensure_future(self._aborted.wait())
            await asyncio.wait((get, abort), return_when=asyncio.FIRST_COMPLETED)
            if abort.done():
                get.cancel()
                raise ConnectionAbortedError("the client went away mid-upload")
            abort.cancel()
            chunk = get.result()
            if chunk is None:
                return
            await write(chunk)

    def data_received(self, chunk):  # noqa: D102
        if self._upstream is None or self._upstream.done() or self._answered:
            return None  # answered already: the rest is not forwarded
        return self._queue.put(chunk)

    def _early_answer(self, future):
        # The target answered before the whole body arrived (a refusal from its headers).
        if self._answered or self.request._body_future.done() or future.cancelled():
            return
        asyncio.ensure_future(self._respond(future, close=True))

    async def _respond(self, future, *, close=False):
        if self._answered or self._finished or self._aborted.is_set():
            if future.done() and not future.cancelled():
                future.exception()  # retrieved: an aborted upload's error is expected
            return
        self._answered = True
        try:
            response = await future
        except Exception as err:  # noqa: BLE001 - no answer at all: as the port does
            await self.handle_proxy_error(503, err)
            return
        if response.code == 599:
            await self.handle_proxy_error(503, response.error)
            return
        self.set_status(response.code, response.reason)
        for key, val in response.headers.get_all():
            if key.lower() in ("content-length", "transfer-encoding", "content-encoding"):
                continue
            if key.lower() == "connection":
                continue
            self.set_header(key, val)
        if close:
            self.set_header("Connection", "close")
        if response.body:
            self.write(response.body)
        await self.finish()
        if close:
            self.request.connection.close()

    async def _stream_method(self, *args, **kwargs):
        if self._upstream is None:
            return
        await self._queue.put(None)  # the body is complete
        await self._respond(self._upstream)

    post = put = patch = _stream_method

    def on_connection_close(self):
        """Drop the target's request too: it sees the upload interrupted."""
        self._aborted.set()
        super().on_connection_close()


def _add_streaming_rule(init):
    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        rule = Rule(LargeBodyMatches(r"/(.*)"), StreamingProxyHandler, {"proxy": self})
        self.proxy_app.wildcard_router.rules.insert(0, rule)

    return __init__


def patch():
    """Replace the proxy handler's path building and client-to-server forwarding.

    Large request bodies get the :class:`StreamingProxyHandler`; up to
    :data:`MAX_CLIENTS` requests are forwarded at once.
    """
    from configurable_http_proxy import configproxy

    AsyncHTTPClient.configure(None, max_clients=MAX_CLIENTS)
    handlers.ProxyHandler.on_message = forward_client_message
    handlers.ProxyHandler.get_target_url = target_url
    handlers.ProxyHandler.select_subprotocol = select_subprotocol
    handlers.ProxyHandler._get_proxy_request = proxy_request
    handlers.ProxyHandler.start_ws_client = start_ws_client
    if not getattr(configproxy.PythonProxy, "_ai4scale_streaming", False):
        configproxy.PythonProxy.__init__ = _add_streaming_rule(configproxy.PythonProxy.__init__)
        configproxy.PythonProxy._ai4scale_streaming = True


if __name__ == "__main__":
    patch()
    sys.exit(main())
