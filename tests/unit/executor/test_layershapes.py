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
