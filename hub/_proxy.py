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

Run as ``python -m ai4scale.hub._proxy`` with configurable-http-proxy's
own options; the configurer sets ``ConfigurableHTTPProxy.command`` to it.
"""

from __future__ import annotations

import sys
import urllib.parse

from configurable_http_proxy import handlers
from configurable_http_proxy.cli import main

__all__ = ["forward_client_message", "main", "patch", "target_url"]


def forward_client_message(self, message):
    """``ProxyHandler.on_message`` that keeps a binary frame binary."""
    if self.ws_client:
        # update timestamp on any request data (as the original does)
        prefix = self.target["prefix"] if self.target else ""
        if prefix:
            self.proxy.update_last_activity(prefix)
        self.ws_client.write_message(message, binary=isinstance(message, bytes))


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


def patch():
    """Replace the proxy handler's path building and client-to-server forwarding."""
    handlers.ProxyHandler.on_message = forward_client_message
    handlers.ProxyHandler.get_target_url = target_url


if __name__ == "__main__":
    patch()
    sys.exit(main())
