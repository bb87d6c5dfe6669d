import threading

import pytest

from mason.executor.layerstore import LayerStore
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


def test_a_killed_writers_temporary_is_removed_by_the_next(tmp_path):
    store = LayerStore(tmp_path / "store")
    parent = tmp_path / "store" / "sha256"
    parent.mkdir(parents=True)
    stale = parent / f".{'ab' * 32}.tmp-dead"
    (stale / "half").parent.mkdir()
    (stale / "half").write_text("x")
    stale_image = parent / f".{'ab' * 32}.erofs.tmp-1-2"
    stale_image.write_bytes(b"partial")
    store.ensure(DIFF, lambda d: (d / "file").write_text("content"))
    assert not stale.exists()
    assert sorted(p.name for p in parent.iterdir() if not p.name.endswith(".lock")) == sorted(["ab" * 32, stale_image.name])


@pytest.mark.root
def test_images_are_mounted_and_a_broken_one_falls_back_to_extraction(tmp_path):
    """A layer becomes a mounted image; an image in a shared store the kernel refuses to
    mount (here: garbage) costs an extraction, not the build."""
    import io

    from mason.erofs.image import build_image
    from mason.tarfs.extract import ExtractOptions, extract_layer
    from tests.unit.tarfs.tarfs_helpers import make_tar, member

    tar = make_tar([member("f", data=b"in the image")])
    options = ExtractOptions(mode="overlay")
    mounts = tmp_path / "mounts"
    mounts.mkdir()
    store = LayerStore(tmp_path / "store", mounts=lambda: mounts)
    try:
        lower = store.lower(DIFF, lambda d: extract_layer(io.BytesIO(tar), d, options=options),
                            lambda p: build_image(io.BytesIO(tar), p, options=options))
        assert store.images() and lower.parent == mounts
        assert (lower / "f").read_text() == "in the image"
        assert store.ready(DIFF) == lower
        other = "sha256:" + "cd" * 32
        broken = store.image_path_for(other)
        broken.write_bytes(b"\0" * 8192)
        assert store.ready(other) is None
        lower2 = store.lower(other, lambda d: extract_layer(io.BytesIO(tar), d, options=options),
                             lambda p: build_image(io.BytesIO(tar), p, options=options))
        assert lower2 == store.path_for(other) and (lower2 / "f").read_text() == "in the image"
    finally:
        from mason.executor.workdir import unmount_all_below

        unmount_all_below(mounts)
