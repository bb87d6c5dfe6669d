"""LayerShapes: a build's recorded layer headers, kept only for a complete, bounded record."""

from mason.executor.layershapes import LayerShapes, MemberLog


def test_a_record_is_kept_once_and_returned():
    shapes = LayerShapes()
    log = shapes.recorder("sha256:a")
    assert log is not None and shapes.get("sha256:a") is None
    log.extend(["m1"])
    log.append("m2")
    shapes.keep("sha256:a", log)
    assert shapes.get("sha256:a") == ["m1", "m2"]
    assert shapes.recorder("sha256:a") is None        # kept already: nothing to record


def test_a_record_past_its_cap_is_dropped_and_holds_nothing():
    shapes = LayerShapes(cap=3)
    log = shapes.recorder("sha256:b")
    assert isinstance(log, MemberLog)
    for i in range(10):
        log.append(i)
    assert log.overflowed and list(log) == []
    shapes.keep("sha256:b", log)
    assert shapes.get("sha256:b") is None


def test_two_builds_never_share_records():
    one, two = LayerShapes(), LayerShapes()
    log = one.recorder("sha256:c")
    log.append("m")
    one.keep("sha256:c", log)
    assert two.get("sha256:c") is None


def test_a_written_blobs_headers_are_read_once_even_past_the_cap(tmp_path, monkeypatch):
    import gzip
    import hashlib
    import io
    import tarfile

    import mason.executor.layershapes as layershapes

    def blob_of(count: int):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            for i in range(count):
                tf.addfile(tarfile.TarInfo(f"f{i}"), io.BytesIO(b""))
        path = tmp_path / f"blob{count}"
        path.write_bytes(gzip.compress(buf.getvalue()))
        return "sha256:" + hashlib.sha256(buf.getvalue()).hexdigest(), path

    reads = []
    real = layershapes.read_headers
    monkeypatch.setattr(layershapes, "read_headers", lambda path, **kw: reads.append(path) or real(path, **kw))
    shapes = LayerShapes(cap=3)
    (small_id, small), (big_id, big) = blob_of(2), blob_of(5)
    assert [m.name for m in shapes.headers(small_id, small)] == ["f0", "f1"]
    assert shapes.headers(small_id, small) is not None
    assert shapes.headers(big_id, big) is None and shapes.headers(big_id, big) is None
    assert reads == [small, big]
