"""Blob downloads that survive a connection cut mid-body.

A layer download can be hundreds of megabytes; a reset or a body shorter than its
``Content-Length`` halfway through must not fail the build when the registry is otherwise
fine. ``ResumingBody`` reads the response stream and, when it breaks, asks again from the
byte it stopped at (``Range: bytes=N-``, which distribution and the big registries honour).
A registry that ignores the range (answers 200) is read again from the start and the bytes
already delivered are skipped. Attempts are bounded by the client's retry policy; the bytes
are still verified end to end by the ``VerifyingReader`` wrapped around this.

A stopping build must not wait for the body: its ``CancelToken`` (``mason.cancel``) shuts
the socket down (``mason.registry.interrupt``) so a read blocked on another thread returns
at once, and from then on every read raises ``TransferCancelled`` instead of resuming;
:meth:`ResumingBody.interrupt` does the same for this body alone. Reads ask the socket for at most ``PIECE`` bytes at a time, so a
consumer asking for a megabyte on a slow link still comes back between pieces.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import requests
import urllib3

from mason.errors import RegistryError
from mason.registry.interrupt import TransferCancelled, shutdown_response
from mason.registry.retry import Retrier

# What a broken body looks like from requests/urllib3 (reset, truncated, read timeout).
BROKEN_STREAM = (urllib3.exceptions.HTTPError, requests.exceptions.RequestException, OSError)
_CONTENT_RANGE = re.compile(r"bytes (\d+)-\d+/(\d+|\*)")
# urllib3 fills a read of n bytes before returning: a bounded piece keeps a slow body's reads short
PIECE = 1 << 16


class ResumingBody:
    """``read(n)`` over a blob response, reopening from the current offset when the stream breaks.

    ``reopen(headers)`` sends the GET again (with ``Range``) and returns the response;
    ``expected_size`` (when known) tells a clean early end apart from a complete body.
    """

    def __init__(self, response: requests.Response, reopen: Callable[[dict[str, str]], requests.Response],
                 retrier: Retrier, *, expected_size: int | None, what: str, registry: str,
                 cancelled: Callable[[], bool] = lambda: False):
        self._response = response
        self._reopen = reopen
        self._retrier = retrier
        self._size = expected_size
        self._what = what
        self._registry = registry
        self.offset = 0
        self.resumed = 0
        self._interrupted = False
        self._cancelled = cancelled

    def interrupt(self) -> None:
        """Stop the transfer from any thread: the socket is shut down, reads raise from now on."""
        self._interrupted = True
        shutdown_response(self._response)

    def _check(self) -> None:
        if self._interrupted or self._cancelled():
            raise TransferCancelled(f"{self._what} cancelled after {self.offset} bytes: the build is stopping")

    def read(self, n: int) -> bytes:
        while True:
            self._check()
            try:
                data = self._response.raw.read(min(n, PIECE) if n and n > 0 else PIECE, decode_content=False)
            except BROKEN_STREAM as exc:
                self._check()
                self._resume(f"{type(exc).__name__}: {exc}")
                continue
            self._check()
            if not data and self._size is not None and self.offset < self._size:
                self._resume(f"the body ended after {self.offset} of {self._size} bytes")
                continue
            self.offset += len(data)
            return data

    def _resume(self, reason: str) -> None:
        """Reopen at ``self.offset``; a reopened stream that breaks again (even while skipping)
        costs another attempt of the same budget."""
        while True:
            self.close()
            self._check()
            if not self._retrier.wait_before_retry():
                raise RegistryError(f"registry {self._registry}: {self._what} broke after {self.offset} bytes "
                                    f"and could not be resumed ({self.resumed} resumptions): {reason}",
                                    temporary=True, hint="check the network path to the registry; "
                                    "--image-download-retry raises the number of attempts")
            self._check()
            self.resumed += 1
            headers = {"Range": f"bytes={self.offset}-"} if self.offset else {}
            self._response = response = self._reopen(headers)
            if self._interrupted or self._cancelled():     # cut while the new request was on its way
                self.close()
                self._check()
            if response.status_code == 206:
                match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
                if not match or int(match.group(1)) != self.offset:
                    raise RegistryError(f"registry {self._registry}: {self._what}: asked to resume at byte "
                                        f"{self.offset}, got Content-Range {response.headers.get('Content-Range')!r}")
                return
            if response.status_code != 200:
                raise RegistryError(f"registry {self._registry}: {self._what}: resuming at byte {self.offset} "
                                    f"was answered HTTP {response.status_code}", status=response.status_code,
                                    temporary=response.status_code >= 500)
            try:
                self._skip(response, self.offset)   # the registry ignored Range
                return
            except BROKEN_STREAM as exc:
                reason = f"while skipping to byte {self.offset}: {type(exc).__name__}: {exc}"

    def _skip(self, response: requests.Response, count: int) -> None:
        """Drop the ``count`` bytes already delivered (a registry that answers a Range with 200)."""
        left = count
        while left:
            chunk = response.raw.read(min(left, 1 << 20), decode_content=False)
            if not chunk:
                raise OSError(f"the body ended {left} bytes short of byte {count}")
            left -= len(chunk)

    def close(self) -> None:
        try:
            self._response.close()
        except BROKEN_STREAM:
            pass
