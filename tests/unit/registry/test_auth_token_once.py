"""Concurrent requests needing the same token wait for one token request, not one each."""

from __future__ import annotations

import threading
import time

from mason.registry.auth import Authenticator, _Token, pull_scope
from mason.registry.challenge import Challenge


def test_concurrent_requests_for_one_scope_fetch_one_token():
    auth = Authenticator(None, transport=None)  # type: ignore[arg-type]
    auth.learn("reg.example", 'Bearer realm="https://auth.example/token",service="reg"')
    fetched: list[frozenset[str]] = []

    def fetch(registry, challenge: Challenge, credential, scopes):
        fetched.append(scopes)
        time.sleep(0.05)                  # the token service is slow: the others must wait for it
        return _Token(f"t{len(fetched)}", time.monotonic() + 300)

    auth._fetch_token = fetch  # type: ignore[method-assign]
    start = threading.Barrier(8)
    headers: list[str | None] = []

    def lookup():
        start.wait()
        headers.append(auth.authorization("reg.example", [pull_scope("app/cache")]))

    threads = [threading.Thread(target=lookup) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fetched == [frozenset({pull_scope("app/cache")})]
    assert headers == ["Bearer t1"] * 8
    # another scope is another token
    assert auth.authorization("reg.example", [pull_scope("app/base")]) == "Bearer t2"


def test_an_expired_token_is_fetched_again():
    now = [1000.0]
    auth = Authenticator(None, transport=None, clock=lambda: now[0])  # type: ignore[arg-type]
    auth.learn("reg.example", 'Bearer realm="https://auth.example/token"')
    count = [0]

    def fetch(registry, challenge, credential, scopes):
        count[0] += 1
        return _Token(f"t{count[0]}", now[0] + 300)

    auth._fetch_token = fetch  # type: ignore[method-assign]
    assert auth.authorization("reg.example", [pull_scope("a")]) == "Bearer t1"
    assert auth.authorization("reg.example", [pull_scope("a")]) == "Bearer t1"
    now[0] += 1000
    assert auth.authorization("reg.example", [pull_scope("a")]) == "Bearer t2"
