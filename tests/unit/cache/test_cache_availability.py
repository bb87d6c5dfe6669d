"""A cache repository found down is not asked again in the same build (``GuardedStore``)."""

from __future__ import annotations

import threading

import pytest

from mason.cache.availability import GuardedStore, is_unavailable
from mason.cache.lookup import Lookups
from mason.cache.pusher import BackgroundPushes
from mason.cache.store import NewEntry
from mason.errors import AuthError, ImageError, NotFoundError, RegistryError


class FlakyStore:
    """Counts requests; each raises what ``fail`` returns for it (None: answers)."""

    name = "127.0.0.1:1/cache"

    def __init__(self, fail):
        self.fail = fail
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def _ask(self, what: str, arg: str):
        with self.lock:
            self.calls.append((what, arg))
            exc = self.fail(what, arg)
        if exc is not None:
            raise exc

    def get(self, key):
        self._ask("get", key)
        return None

    def get_document(self, tag):
        self._ask("get_document", tag)
        return None

    def put(self, entry):
        self._ask("put", entry.key)

    def put_document(self, tag, document):
        self._ask("put_document", tag)


def refused(what, arg):
    return RegistryError("registry 127.0.0.1:1: GET … failed: ConnectionError: refused")


def test_the_first_unreachable_lookup_turns_the_cache_off_for_the_rest_of_the_build():
    warnings: list[str] = []
    inner = FlakyStore(refused)
    store = GuardedStore(inner, warn=warnings.append)
    lookups = Lookups(store, jobs=1, warn=warnings.append)
    try:
        assert lookups.result("sha256:" + "1" * 64) is None
        assert lookups.result("sha256:" + "2" * 64) is None
        assert store.get_document("record") is None
    finally:
        lookups.close()
    pushes = BackgroundPushes(store, warn=warnings.append)
    pushes.entry(NewEntry("sha256:" + "3" * 64, None, "RUN x"))
    pushes.document("memo", {"a": 1})
    pushes.close()
    assert inner.calls == [("get", "sha256:" + "1" * 64)]      # one request, then none
    assert store.down and "refused" in store.down
    off = [w for w in warnings if "no further cache lookups or pushes in this build" in w]
    assert len(off) == 1 and inner.name in off[0]
    assert not [w for w in warnings if "cache push of" in w]   # skipped, not failed one by one


def test_pushes_stop_after_a_push_finds_the_registry_down():
    inner = FlakyStore(lambda what, arg: RegistryError("503", status=503) if what == "put" else None)
    store = GuardedStore(inner)
    pushes = BackgroundPushes(store, jobs=1)
    for digit in "456":
        pushes.entry(NewEntry("sha256:" + digit * 64, None, "RUN x"))
    pushes.close()
    assert [c for c in inner.calls if c[0] == "put"] == [("put", "sha256:" + "4" * 64)]
    assert pushes.failed == ["sha256:" + "4" * 64]
    assert store.get("sha256:" + "7" * 64) is None and len(inner.calls) == 1


@pytest.mark.parametrize("exc", [NotFoundError("no such tag", status=404), AuthError("denied", status=403),
                                 ImageError("damaged manifest"), RegistryError("bad request", status=400)])
def test_errors_about_one_entry_leave_the_cache_on(exc):
    inner = FlakyStore(lambda what, arg: exc if arg.endswith("1" * 64) else None)
    store = GuardedStore(inner)
    with pytest.raises(type(exc)):
        store.get("sha256:" + "1" * 64)
    assert store.down is None
    assert store.get("sha256:" + "2" * 64) is None
    assert len(inner.calls) == 2


def test_what_counts_as_down():
    assert is_unavailable(RegistryError("refused"))                      # no HTTP answer at all
    assert is_unavailable(RegistryError("bad gateway", status=502))
    assert is_unavailable(RegistryError("slow down", status=429))
    assert is_unavailable(ConnectionResetError())
    assert not is_unavailable(NotFoundError("gone", status=404))
    assert not is_unavailable(AuthError("denied", status=401))
    assert not is_unavailable(ValueError("a bug"))


def test_two_builds_never_share_the_mark():
    down = GuardedStore(FlakyStore(refused))
    with pytest.raises(RegistryError):
        down.get("sha256:" + "1" * 64)
    fresh_inner = FlakyStore(lambda what, arg: None)
    fresh = GuardedStore(fresh_inner)
    assert down.down and fresh.down is None
    fresh.get("sha256:" + "2" * 64)
    assert fresh_inner.calls == [("get", "sha256:" + "2" * 64)]
