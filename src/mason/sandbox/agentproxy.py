"""``RUN --mount=type=ssh``: the builder's ssh agent, reached through a socket of the RUN's own.

BuildKit never shows the RUN the client's agent socket: it makes a new socket in the container
(owner ``uid``/``gid``, ``mode``, 0600 by default) and forwards each connection to the agent.
mason does the same: ``AgentProxy`` listens on a socket in the build's work dir, owned and
moded as the mount asks, and copies bytes between each connection and the agent socket the
build was given (``--ssh``). The RUN sees only that socket (bound at its target, or moved into
place where mounts are refused); the agent's own path and its other clients stay out of reach.
The proxy lives for one RUN and its socket is removed after it.
"""

from __future__ import annotations

import os
import selectors
import socket
import threading
from types import TracebackType
from typing import cast

from mason.errors import BuildError

CHUNK = 1 << 16


class AgentProxy:
    """A listening socket at ``path`` forwarding to the agent at ``agent`` (a context manager)."""

    def __init__(self, agent: str, path: str, *, uid: int = 0, gid: int = 0, mode: int = 0o600):
        self.agent, self.path = agent, path
        self.uid, self.gid, self.mode = uid, gid, mode
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> "AgentProxy":
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # A socket's path holds 107 bytes; a deep work dir is reached through its descriptor.
        name = os.path.basename(self.path)
        try:
            parent = os.open(os.path.dirname(self.path), os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            listener.close()
            raise BuildError(f"cannot make the ssh agent socket for RUN --mount=type=ssh: {exc.strerror}") from None
        try:
            listener.bind(f"/proc/self/fd/{parent}/{name}")
            os.chown(name, self.uid, self.gid, dir_fd=parent)
            os.chmod(name, self.mode, dir_fd=parent)
            listener.listen(16)
        except OSError as exc:
            listener.close()
            raise BuildError(f"cannot make the ssh agent socket for RUN --mount=type=ssh: {exc.strerror}") from None
        finally:
            os.close(parent)
        listener.settimeout(0.2)
        self._listener = listener
        self._spawn(self._accept)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        if self._listener is not None:
            self._listener.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass    # moved into the root and not back (the RUN's failure is reported instead)

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="ssh-agent-proxy")
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                connect_path(upstream, self.agent)
            except OSError:
                client.close()      # the agent went away: the RUN's ssh sees a closed connection
                upstream.close()
                continue
            self._spawn(self._pump, client, upstream)

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        """Copy both ways until either side closes or the proxy stops."""
        peer = {a: b, b: a}
        with selectors.DefaultSelector() as sel, a, b:
            sel.register(a, selectors.EVENT_READ)
            sel.register(b, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.2):
                    side = cast(socket.socket, key.fileobj)
                    try:
                        data = side.recv(CHUNK)
                        if not data:
                            return
                        peer[side].sendall(data)
                    except OSError:
                        return


def connect_path(sock: socket.socket, path: str) -> None:
    """``connect`` to a socket at ``path``, however long (through its directory's descriptor)."""
    if len(os.fsencode(path)) < 100:
        sock.connect(path)
        return
    parent = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        sock.connect(f"/proc/self/fd/{parent}/{os.path.basename(path)}")
    finally:
        os.close(parent)
