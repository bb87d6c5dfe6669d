"""Cutting a registry transfer from another thread when the build's ``CancelToken`` is set.

A download of a base layer runs on a worker thread; blocked in ``recv`` on a slow registry it
would keep a SIGTERMed build alive until its body ends (minutes at a few KB/s, while a
cancelled CI job gets ~30 s before SIGKILL): only the main thread runs signal handlers, and
``close()`` from another thread does not wake a blocked read. ``shutdown()`` of the socket
does, at once, whatever the request is doing, connecting included: Linux aborts a TCP
connect still waiting for the SYN-ACK when its socket is shut down (a registry that drops SYNs
would otherwise hold the build for the whole connect timeout, 30 s). :class:`InFlight` knows
every connection a transport has checked out, and every socket still connecting (urllib3
assigns a connection's socket only once it is connected, so the pools' connections make their
sockets through :meth:`InFlight.open_socket`); the build's ``CancelToken`` cuts them all, and
the transfer, seeing the token set, raises :class:`TransferCancelled` instead of retrying or
resuming.
"""

from __future__ import annotations

import socket
import threading
import weakref

from urllib3.exceptions import ConnectTimeoutError, LocationParseError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family

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
        self._connecting: set[socket.socket] = set()
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
        """Shut down every connection in use and every socket connecting; any checked out or
        opened later is cut at once."""
        with self._guard:
            self.cut_once = True
            live = [getattr(conn, "sock", None) for conn in self._live] + list(self._connecting)
        for sock in live:
            _shutdown(sock)

    def connecting(self) -> int:
        """How many sockets are connecting now."""
        with self._guard:
            return len(self._connecting)

    def open_socket(self, address: tuple[str, int], timeout, source_address, socket_options) -> socket.socket:
        """urllib3's ``create_connection``, with each socket known to :meth:`cut` while it
        connects. Raises what the stdlib raises (``socket.gaierror``, ``TimeoutError``, ``OSError``)."""
        host, port = address
        host = host.strip("[]")
        try:
            host.encode("idna")
        except UnicodeError:
            raise LocationParseError(f"'{host}', label empty or too long") from None
        error: OSError | None = None
        for family, kind, proto, _, where in socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM):
            sock = socket.socket(family, kind, proto)
            with self._guard:
                self._connecting.add(sock)
                cut = self.cut_once
            try:
                if cut:
                    raise ConnectionAbortedError("the build is stopping")
                for option in socket_options or ():
                    sock.setsockopt(*option)
                if timeout is None or isinstance(timeout, (int, float)):   # else urllib3's "default" marker
                    sock.settimeout(timeout)
                if source_address:
                    sock.bind(source_address)
                sock.connect(where)
                return sock
            except OSError as exc:
                error = exc
                sock.close()
                if self.cut_once:
                    break
            finally:
                with self._guard:
                    self._connecting.discard(sock)
        raise error if error is not None else OSError("getaddrinfo returned no address")


def _tracking_connection(base, inflight: InFlight):
    class Tracking(base):
        def _new_conn(self) -> socket.socket:
            # urllib3's own _new_conn, its socket made by InFlight (so a cut reaches a connect)
            try:
                return inflight.open_socket((self._dns_host, self.port), self.timeout,
                                            self.source_address, self.socket_options)
            except socket.gaierror as exc:
                raise NameResolutionError(self.host, self, exc) from exc
            except TimeoutError as exc:
                raise ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})") from exc
            except OSError as exc:
                raise NewConnectionError(self, f"Failed to establish a new connection: {exc}") from exc

    Tracking.__name__ = f"Tracking{base.__name__}"
    return Tracking


def _tracking_pool(base, inflight: InFlight):
    class Tracking(base):
        ConnectionCls = _tracking_connection(base.ConnectionCls, inflight)

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
