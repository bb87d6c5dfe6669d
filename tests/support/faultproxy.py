"""A small HTTP proxy in front of a plain-HTTP registry that injects faults for tests.

It forwards every request (streaming bodies both ways) unless a rule says otherwise:
answer the next N matching requests with an error status (e.g. 503 with Retry-After),
or flip a byte in blob downloads so digest verification must catch it.

Rules of other kinds (``fault_next``), each for the next N matching requests:

* ``reset_response``: forward, send the headers and ``after_bytes`` of the body, then reset
  the connection (a download cut mid-blob);
* ``truncate``: the same, but close cleanly (a body shorter than its Content-Length);
* ``reset_request``: read ``after_bytes`` of the request body, then reset (an upload cut
  mid-blob; the upstream never sees the request);
* ``corrupt``: forward with the first body byte flipped (the wrong bytes for a digest);
* ``delay``: wait ``seconds`` before forwarding (a slow registry);
* ``throttle``: forward, but spread the body over ``seconds`` (a slow link: the client is
  mid-body for that long).
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}
_CHUNK = 1 << 16


@dataclass
class FailRule:
    remaining: int
    status: int
    method: str | None
    path_contains: str
    retry_after: str | None
    kind: str = "status"         # status | reset_response | truncate | reset_request | corrupt | delay | throttle
    after_bytes: int = 0
    seconds: float = 0.0
    body: bytes | None = None    # the error document a status fault answers (default: UNAVAILABLE)


KINDS = ("status", "reset_response", "truncate", "reset_request", "corrupt", "delay", "throttle")
_THROTTLE_CHUNK = 1024


class FaultProxy:
    def __init__(self, upstream_host: str):
        self.upstream_host = upstream_host
        self.corrupt_blobs = False
        self.log: list[tuple[str, str, int]] = []   # (method, path, status answered)
        self.fired: list[tuple[str, str, str]] = []  # (fault kind, method, path) of each fault injected
        self._rules: list[FailRule] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def fail_next(self, count: int, status: int = 503, *, method: str | None = None, path_contains: str = "",
                  retry_after: str | None = None, body: bytes | None = None) -> None:
        with self._lock:
            self._rules.append(FailRule(count, status, method, path_contains, retry_after, body=body))

    def fault_next(self, count: int, kind: str, *, method: str | None = None, path_contains: str = "",
                   after_bytes: int = 0, seconds: float = 0.0) -> None:
        """Inject a fault of ``kind`` (see the module docstring) into the next ``count`` matches."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        with self._lock:
            self._rules.append(FailRule(count, 0, method, path_contains, None, kind, after_bytes, seconds))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def requests(self, method: str | None = None, path_contains: str = "") -> list[tuple[str, str, int]]:
        with self._lock:
            return [e for e in self.log if method in (None, e[0]) and path_contains in e[1]]

    def _take_rule(self, method: str, path: str, response_length: int | None = None,
                   request_length: int = 0) -> FailRule | None:
        """The first live rule matching the request. Response faults (cut, corrupt) only match once
        the upstream answered 200 with a body long enough to be cut, so a rule is never used up on
        a request it could not fault; every other kind matches before forwarding."""
        late = ("reset_response", "truncate", "corrupt", "throttle")
        with self._lock:
            for rule in self._rules:
                if rule.remaining <= 0 or rule.method not in (None, method) or rule.path_contains not in path:
                    continue
                if (rule.kind in late) != (response_length is not None):
                    continue
                if response_length is not None and response_length <= rule.after_bytes:
                    continue
                if rule.kind == "reset_request" and request_length <= rule.after_bytes:
                    continue
                rule.remaining -= 1
                self.fired.append((rule.kind, method, path))
                return rule
        return None

    def _record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.log.append((method, path, status))

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                rule = proxy._take_rule(self.command, self.path, request_length=length)
                if rule is not None and rule.kind == "delay":
                    time.sleep(rule.seconds)
                    rule = None
                if rule is not None and rule.kind == "reset_request":
                    left = min(length, rule.after_bytes)
                    while left:
                        chunk = self.rfile.read(min(left, _CHUNK))
                        if not chunk:
                            break
                        left -= len(chunk)
                    proxy._record(self.command, self.path, -1)
                    self._reset()
                    return
                if rule is not None and rule.kind == "status":
                    # consume the body so the connection stays usable, then answer the fault
                    left = length
                    while left:
                        left -= len(self.rfile.read(min(left, _CHUNK)))
                    proxy._record(self.command, self.path, rule.status)
                    body = rule.body or b'{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}'
                    self.send_response(rule.status)
                    if rule.retry_after is not None:
                        self.send_header("Retry-After", rule.retry_after)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                upstream = http.client.HTTPConnection(proxy.upstream_host, timeout=120)
                try:
                    upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for key, value in self.headers.items():
                        if key.lower() not in _HOP_BY_HOP:
                            upstream.putheader(key, value)
                    upstream.endheaders()
                    left = length
                    while left:
                        chunk = self.rfile.read(min(left, _CHUNK))
                        if not chunk:
                            break
                        upstream.send(chunk)
                        left -= len(chunk)
                    response = upstream.getresponse()
                    proxy._record(self.command, self.path, response.status)
                    if response.status == 200 and self.command == "GET":
                        rule = proxy._take_rule(self.command, self.path, int(response.getheader("Content-Length") or 0))
                    self.send_response(response.status, response.reason)
                    for key, value in response.getheaders():
                        if key.lower() not in _HOP_BY_HOP:
                            self.send_header(key, value)
                    self.end_headers()
                    corrupt = ((proxy.corrupt_blobs or (rule is not None and rule.kind == "corrupt"))
                               and self.command == "GET" and "/blobs/sha256:" in self.path
                               and response.status == 200)
                    if self.command == "HEAD":
                        return
                    cut = rule is not None and rule.kind in ("reset_response", "truncate")
                    if rule is not None and rule.kind == "throttle":
                        self._throttled(response, rule.seconds, int(response.getheader("Content-Length") or 0))
                        return
                    first = True
                    sent = 0
                    while True:
                        chunk = response.read(_CHUNK)
                        if not chunk:
                            break
                        if corrupt and first:
                            chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                        first = False
                        if cut and sent + len(chunk) >= rule.after_bytes:
                            self.wfile.write(chunk[:rule.after_bytes - sent])
                            self.wfile.flush()
                            if rule.kind == "reset_response":
                                self._reset()
                            else:
                                self.close_connection = True
                            return
                        self.wfile.write(chunk)
                        sent += len(chunk)
                finally:
                    upstream.close()

            def _throttled(self, response, seconds: float, length: int):
                """Send the body in small pieces, paced so the whole takes ``seconds``."""
                start, sent = time.monotonic(), 0
                while True:
                    chunk = response.read(_THROTTLE_CHUNK)
                    if not chunk:
                        return
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    sent += len(chunk)
                    if sent >= length:
                        return
                    due = start + seconds * sent / max(length, 1)
                    time.sleep(max(0.0, due - time.monotonic()))

            def _reset(self):
                # SO_LINGER 0: close() sends RST, so the client sees "connection reset by peer"
                self.close_connection = True
                try:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                except OSError:
                    pass

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

        return Handler

    def start(self) -> "FaultProxy":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        # clients closing early (e.g. after a digest mismatch) are expected: no tracebacks
        self._server.handle_error = lambda request, address: None
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True).start()
        return self

    @property
    def host(self) -> str:
        assert self._server is not None
        return f"127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
