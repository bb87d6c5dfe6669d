"""The build's CancelToken cuts registry requests in flight: one waiting for its headers (a
registry that never answers) and a body being read on another thread both end with
TransferCancelled as soon as the token is set, not at the read timeout (300 s here)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from mason.cancel import CancelToken
from mason.registry import RegistryClient, RegistryOptions
from mason.registry.interrupt import TransferCancelled
from mason.registry.transport import Transport


@pytest.fixture
def silent_server():
    """Accepts connections and reads requests, never answers (or, with ``body``, answers
    headers and a first byte, then nothing)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    state = {"body": False, "conns": []}

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            state["conns"].append(conn)
            conn.recv(65536)
            if state["body"]:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n"
                             b"Docker-Content-Digest: sha256:" + b"0" * 64 + b"\r\n\r\nx")

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1], state
    listener.close()
    for conn in state["conns"]:
        conn.close()


def _in_thread(fn):
    outcome = {}

    def run():
        try:
            outcome["value"] = fn()
        except BaseException as exc:   # what the worker thread ended with
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def _wait_connected(state, count=1):
    deadline = time.monotonic() + 30
    while len(state["conns"]) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(state["conns"]) >= count


def test_a_request_waiting_for_its_headers_is_cut(silent_server):
    port, state = silent_server
    token = CancelToken()
    transport = Transport(RegistryOptions(read_timeout=300.0), cancel=token)
    thread, outcome = _in_thread(lambda: transport.request("GET", f"http://127.0.0.1:{port}/v2/", registry="r"))
    _wait_connected(state)
    time.sleep(0.2)
    token.set()
    thread.join(60)       # generous: the point is that it ends long before the 300 s read timeout
    assert not thread.is_alive()
    assert isinstance(outcome.get("error"), TransferCancelled), outcome


def test_a_blob_body_being_read_is_cut(silent_server):
    port, state = silent_server
    state["body"] = True
    token = CancelToken()
    client = RegistryClient(options=RegistryOptions(read_timeout=300.0, insecure_registries=(f"127.0.0.1:{port}",)),
                            cancel=token)
    from mason.oci.reference import parse_reference

    repo = parse_reference(f"127.0.0.1:{port}/a/b:latest")
    client._auth.knows = lambda registry: True      # no /v2/ ping: straight to the blob
    thread, outcome = _in_thread(lambda: client.open_blob(repo.repo(), "sha256:" + "0" * 64, 1_000_000).read(65536))
    _wait_connected(state)
    time.sleep(0.2)
    token.set()
    thread.join(60)
    assert not thread.is_alive()
    assert isinstance(outcome.get("error"), TransferCancelled), outcome


def test_a_callback_registered_after_set_runs_at_once():
    token = CancelToken()
    token.set()
    ran = []
    token.on_set(lambda: ran.append(1))
    assert ran == [1]
    unregister = CancelToken().on_set(lambda: ran.append(2))
    unregister()


@pytest.fixture
def full_backlog():
    """A port whose accept queue is full and never drained: Linux drops further SYNs there, so
    a connect to it waits in SYN-SENT for the whole connect timeout (a registry that drops them)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(8):          # fill the queue (its length is the backlog + 1 on Linux)
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    yield port
    for sock in [*fillers, listener]:
        sock.close()


def test_a_request_still_connecting_is_cut(full_backlog):
    token = CancelToken()
    transport = Transport(RegistryOptions(connect_timeout=300.0, read_timeout=300.0), cancel=token)
    thread, outcome = _in_thread(lambda: transport.request("GET", f"http://127.0.0.1:{full_backlog}/v2/",
                                                           registry="r"))
    deadline = time.monotonic() + 30
    while not transport.inflight.connecting() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert transport.inflight.connecting(), outcome      # really waiting in connect
    time.sleep(0.3)
    assert thread.is_alive(), outcome
    token.set()
    thread.join(60)       # generous: the point is that it ends long before the 300 s connect timeout
    assert not thread.is_alive()
    assert isinstance(outcome.get("error"), TransferCancelled), outcome
