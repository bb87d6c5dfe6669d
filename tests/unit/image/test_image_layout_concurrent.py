"""Writers starting on one new OCI layout at once (parallel stages pushing cache entries into
``--cache-repo=oci:DIR``): none may take another's half-made layout for a foreign directory."""

from __future__ import annotations

import threading

from mason.image.layout import LayoutSink, read_index_json


def test_concurrent_writers_on_a_new_layout_all_succeed(tmp_path):
    for attempt in range(20):             # the window is small: try it many times
        path = tmp_path / f"layout-{attempt}"
        start = threading.Barrier(8)
        errors: list[BaseException] = []

        def open_sink():
            start.wait()
            try:
                LayoutSink(path, "x")
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=open_sink) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert list(read_index_json(path).manifests) == []
