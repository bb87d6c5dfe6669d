"""Cutting a registry transfer from another thread when the build's ``CancelToken`` is set.

A download of a base layer runs on a worker thread; blocked in ``recv`` on a slow registry it
would keep a SIGTERMed build alive until its body ends (minutes at a few KB/s, while a
cancelled CI job gets ~30 s before SIGKILL): only the main thread runs signal handlers, and
``close()`` from another thread does not wake a blocked read. ``shutdown()`` of the socket
does, at once, whatever the request is doing (connecting excepted: there is no socket to cut
until it connects, bounded by the connect timeout). :class:`InFlight` knows every connection
a transport has checked out; the build's ``CancelToken`` cuts them all, and the transfer,
seeing the token set, raises :class:`TransferCancelled` instead of retrying or resuming.
"""

from __future__ import annotations

import socket
import threading
import weakref

from mason.errors import BuildError


class TransferCancelled(BuildError):
    """A registry transfer was cut because the build is stopping (a signal, a failed sibling
    stage). A BuildError, so a stage cancelled this way is never the build's reported error."""


def shutdown_response(response) -> None:
    """Shut the socket under a streamed ``requests`` response down (both ways): a read
    blocked on it in another thread returns at once. The connection is not reused: urllib3
    finds it dropped."""
    raw = getattr(response, "raw", None)
    connection = getattr(raw, "connection", None) or getattr(raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    if sock is None:
        fp = getattr(raw, "_fp", None)              # http.client's response: fp.raw is the SocketIO
        sock = getattr(getattr(getattr(fp, "fp", None), "raw", None), "_sock", None)
    _shutdown(sock)


class InFlight:
    """The connections a ``Transport``'s adapters have checked out (a request on its way, a
    body being read), so :meth:`cut` can shut every one down: a request waiting for its
    headers, a token request, an upload and a download are all woken at once. Installed on
    an adapter's pool manager by :meth:`track` (pools are made lazily, so before first use)."""

    def __init__(self) -> None:
        self._live: weakref.WeakSet = weakref.WeakSet()
        self._guard = threading.Lock()
        self.cut_once = False

    def track(self, adapter) -> None:
        manager = getattr(adapter, "poolmanager", None)
        if manager is None:
            return
        classes = dict(manager.pool_classes_by_scheme)     # the module's dict is shared: copy
        for scheme, base in list(classes.items()):
            classes[scheme] = _tracking_pool(base, self)
        manager.pool_classes_by_scheme = classes

    def _checked_out(self, conn) -> None:
        with self._guard:
            self._live.add(conn)
            cut = self.cut_once
        if cut:
            _shutdown(getattr(conn, "sock", None))

    def _returned(self, conn) -> None:
        with self._guard:
            self._live.discard(conn)

    def cut(self) -> None:
        """Shut down every connection in use; any checked out later is cut at once."""
        with self._guard:
            self.cut_once = True
            live = list(self._live)
        for conn in live:
            _shutdown(getattr(conn, "sock", None))


def _tracking_pool(base, inflight: InFlight):
    class Tracking(base):
        def _get_conn(self, timeout=None):
            conn = super()._get_conn(timeout)
            inflight._checked_out(conn)
            return conn

        def _put_conn(self, conn):
            if conn is not None:
                inflight._returned(conn)
            super()._put_conn(conn)

    Tracking.__name__ = f"Tracking{base.__name__}"
    return Tracking


def _shutdown(sock) -> None:
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
