"""Streaming a sandboxed command's output line by line while watching time and cancellation."""

from __future__ import annotations

import os
import selectors
import threading
import time
from typing import Callable

OutputCallback = Callable[[str, str], None]
"""``callback(stream, line)``: stream is ``"stdout"`` or ``"stderr"``, line without its newline."""

_MAX_LINE = 64 * 1024  # a line longer than this is delivered in pieces


def pump(streams: dict[int, str], output: OutputCallback, *, status_fd: int | None = None,
         deadline: float | None = None, cancel: threading.Event | None = None) -> tuple[str, list[bytes]]:
    """Read ``streams`` (fd -> name) and ``status_fd`` until all reach EOF.

    Returns ``(outcome, status_lines)`` where outcome is ``"eof"``, ``"timeout"`` or
    ``"cancelled"``; on the latter two the caller kills the process tree and calls again to drain.
    Status lines (from ``status_fd``) are collected, not shown.
    """
    sel = selectors.DefaultSelector()
    buffers: dict[int, bytearray] = {}
    status: list[bytes] = []
    status_buf = bytearray()
    for fd in streams:
        sel.register(fd, selectors.EVENT_READ)
        buffers[fd] = bytearray()
    if status_fd is not None:
        sel.register(status_fd, selectors.EVENT_READ)
    open_fds = set(streams) | ({status_fd} if status_fd is not None else set())
    try:
        while open_fds:
            if cancel is not None and cancel.is_set():
                return "cancelled", status
            wait = 0.1 if cancel is not None else None
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return "timeout", status
                wait = left if wait is None else min(wait, left)
            for key, _ in sel.select(wait):
                fd = key.fd
                chunk = os.read(fd, 65536)
                if fd == status_fd:
                    if not chunk:
                        sel.unregister(fd)
                        open_fds.discard(fd)
                    status_buf.extend(chunk)
                    *done, rest = status_buf.split(b"\n")
                    status.extend(done)
                    status_buf[:] = rest
                    continue
                if not chunk:
                    sel.unregister(fd)
                    open_fds.discard(fd)
                    if buffers[fd]:
                        output(streams[fd], buffers[fd].decode("utf-8", "replace"))
                        buffers[fd].clear()
                    continue
                buf = buffers[fd]
                buf.extend(chunk)
                while True:
                    nl = buf.find(b"\n")
                    if nl < 0:
                        if len(buf) >= _MAX_LINE:
                            output(streams[fd], buf[:_MAX_LINE].decode("utf-8", "replace"))
                            del buf[:_MAX_LINE]
                            continue
                        break
                    output(streams[fd], buf[:nl].decode("utf-8", "replace"))
                    del buf[:nl + 1]
        status.extend(line for line in status_buf.split(b"\n") if line)
        return "eof", status
    finally:
        sel.close()
