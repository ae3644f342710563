"""Failed sign-ins counted per network address, and the address a request came from.

The roster login (:mod:`ai4scale.hub.auth`) locks an *account* after a few
failures; :class:`FailureWindow` also limits the failures from one *address*,
whatever usernames they try, so nobody can guess one password for each of
many accounts. A whole office may reach the sandbox through one address
(NAT), so the limit is meant to be generous (``[auth] ip_failed_logins``
within ``ip_window_seconds``).
"""

from __future__ import annotations

import collections
import ipaddress
import threading
import time

__all__ = ["FailureWindow", "client_address", "network_key"]

#: Above this many tracked addresses, expired ones are dropped on the next failure.
_PRUNE_ABOVE = 10_000


def client_address(request):
    """Return the address a request came from, as the hub's proxy saw it.

    The proxy (configurable-http-proxy) *appends* the address of whoever
    connected to it to ``X-Forwarded-For``; what a client wrote there itself
    comes before it. So the last entry that is not a trusted downstream
    proxy (``JupyterHub.trusted_downstream_ips``, e.g. a TLS front end) is
    the client. ``X-Real-Ip`` is ignored: the proxy passes on whatever the
    client sent in it (tornado's ``remote_ip`` would believe it). Without
    the header (a request straight to the hub), the connection's own peer.

    Parameters
    ----------
    request : tornado.httputil.HTTPServerRequest

    Returns
    -------
    str
    """
    context = getattr(request.connection, "context", None)
    trusted = set(getattr(context, "trusted_downstream", None) or ())
    forwarded = [e.strip() for e in request.headers.get("X-Forwarded-For", "").split(",")]
    for candidate in reversed([e for e in forwarded if e]):
        if candidate in trusted:
            continue
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            break  # not an address: fall back to the connection's peer
    peer = getattr(context, "_orig_remote_ip", None) or request.remote_ip
    return str(peer)


def network_key(address):
    """Return what the limit counts by: the IPv4 address, or the IPv6 /64 network.

    One IPv6 host usually holds a whole /64 and could change address at will.

    Examples
    --------
    >>> network_key("192.0.2.7")
    '192.0.2.7'
    >>> network_key("2001:db8::1")
    '2001:db8::/64'
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class FailureWindow:
    """Failures per key within a sliding time window (in memory, thread-safe).

    Parameters
    ----------
    limit : int
        Failures allowed within ``window`` seconds; at ``limit`` the key is blocked.
    window : float
        Seconds a failure counts.
    clock : callable, optional
        Returns the time in seconds (``time.monotonic``); tests pass their own.
    """

    def __init__(self, limit, window, *, clock=time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._failures = {}
        self._lock = threading.Lock()

    def _recent(self, key, now):
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def blocked_for(self, key):
        """Return the seconds until ``key`` may try again (0: not blocked).

        Parameters
        ----------
        key : str

        Returns
        -------
        float
        """
        with self._lock:
            now = self.clock()
            times = self._recent(key, now)
            if times is None or len(times) < self.limit:
                return 0.0
            # Blocked until enough failures have left the window.
            return max(0.0, times[len(times) - self.limit] + self.window - now)

    def record(self, key):
        """Count one failure of ``key``.

        Parameters
        ----------
        key : str
        """
        with self._lock:
            now = self.clock()
            if len(self._failures) > _PRUNE_ABOVE:
                for stale in list(self._failures):
                    self._recent(stale, now)
            times = self._recent(key, now)
            if times is None:
                times = self._failures[key] = collections.deque()
            times.append(now)
            while len(times) > self.limit:  # older ones no longer decide anything
                times.popleft()
