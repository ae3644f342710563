"""The hub's view of the proxy that runs on its own: routes put back when it restarts.

JupyterHub checks the proxy's routes when it starts, and watches the proxy
only when it started it itself (``ConfigurableHTTPProxy.should_start``). The
proxy of :mod:`.proxy` is started by ``ai4scale up`` or systemd instead, and
may be restarted without the hub (an upgrade, systemd's ``Restart=always``
after a crash): it then comes back with no routes, and every learner would
get "404" until the next hub restart. :class:`KeptProxy` asks the proxy for
its routes every :attr:`~KeptProxy.route_check_interval` seconds and, when
the hub's own route is missing, adds them all again.
"""

from __future__ import annotations

from jupyterhub.proxy import ConfigurableHTTPProxy
from tornado.ioloop import PeriodicCallback
from traitlets import Integer

__all__ = ["KeptProxy"]


class KeptProxy(ConfigurableHTTPProxy):
    """ConfigurableHTTPProxy, started elsewhere, whose routes the hub keeps."""

    route_check_interval = Integer(
        5,
        help="""
        Seconds between checks that the proxy still has the hub's route.

        A proxy restarted on its own has no routes; the hub adds them again
        at the next check. 0 turns the check off.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    _watch = None
    _known = None

    async def check_routes(self, user_dict, service_dict, routes=None):
        """Check the routes as JupyterHub does, then keep checking them."""
        self._known = (user_dict, service_dict)
        if self._watch is None and self.route_check_interval and not self.should_start:
            self._watch = PeriodicCallback(self._recheck, 1e3 * self.route_check_interval)
            self._watch.start()
        return await super().check_routes(user_dict, service_dict, routes)

    async def _recheck(self):
        try:
            routes = await self.get_all_routes()
        except Exception as e:  # noqa: BLE001 - the proxy is away: try again later
            self.log.warning("The proxy does not answer (%s); checking again later", e)
            return
        if self.app.hub.routespec in routes:
            return
        self.log.warning("The proxy has lost its routes (restarted on its own): adding them again")
        await super().check_routes(*self._known, routes)

    def stop(self):
        """Stop watching; the proxy itself keeps running."""
        if self._watch is not None:
            self._watch.stop()
            self._watch = None
