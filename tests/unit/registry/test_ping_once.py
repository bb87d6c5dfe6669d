"""Concurrent first requests to one registry wait for one ``GET /v2/``, not one each (the push
pre-flight checks each destination and the cache repository at once, on one client)."""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

from tests.unit.registry.test_client_fake import MANIFEST, OCI, REF, FakeRegistry, make_client


class SlowPing(FakeRegistry):
    """The bearer registry, whose ``/v2/`` answers slowly: the others must wait for it."""

    def __init__(self):
        super().__init__()
        self.pings = 0

    def __call__(self, req):
        if urlsplit(req.url).path == "/v2/":
            self.pings += 1
            time.sleep(0.05)
        return super().__call__(req)


def test_concurrent_first_requests_ping_once():
    registry = SlowPing()
    client, _, _ = make_client(registry)
    start = threading.Barrier(6)
    got: list[bytes] = []

    def fetch():
        start.wait()
        got.append(client.get_manifest(REF, [OCI])[0])

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [MANIFEST] * 6
    assert registry.pings == 1
