import threading

import pytest

from mason.build.layerstore import LayerStore
from mason.errors import LayerError

DIFF = "sha256:" + "ab" * 32


def test_extracts_once_even_when_raced(tmp_path):
    store = LayerStore(tmp_path / "store")
    calls = []

    def extract(d):
        calls.append(d)
        (d / "file").write_text("content")

    results = []
    threads = [threading.Thread(target=lambda: results.append(store.ensure(DIFF, extract))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    paths = {p for p, _ in results}
    assert len(paths) == 1
    assert (paths.pop() / "file").read_text() == "content"
    assert sum(1 for _, now in results if now) == 1


def test_failed_extraction_leaves_nothing(tmp_path):
    store = LayerStore(tmp_path / "store")

    def bad(d):
        (d / "half").write_text("x")
        raise LayerError("corrupt")

    with pytest.raises(LayerError):
        store.ensure(DIFF, bad)
    assert not store.has(DIFF)
    leftovers = [p.name for p in (tmp_path / "store" / "sha256").iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []


@pytest.mark.parametrize("bad", ["sha256:../../etc", "sha256:", "nope", "sha256:ABCD"])
def test_rejects_bad_diff_ids(tmp_path, bad):
    with pytest.raises(LayerError):
        LayerStore(tmp_path).path_for(bad)
