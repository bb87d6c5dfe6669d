"""The canonical normal form shared by the overlay and walker methods."""

from pathlib import Path

from mason.snapshot.changeset import ChangeSet, canonical


def _cs(changed, deleted, dirs_after, before_children):
    return canonical(Path("/src"), changed, deleted, lambda p: p in dirs_after,
                     lambda p: set(before_children.get(p, ())))


def test_parents_are_added_but_never_the_root():
    cs = _cs(["a/b/c"], [], {"", "a", "a/b"}, {})
    assert cs.paths == ("a", "a/b", "a/b/c")


def test_whiteout_parents_are_listed():
    cs = _cs([], ["a/b/x"], {"", "a", "a/b"}, {"a/b": ["x", "y"]})
    assert cs.whiteouts == ("a/b/x",)
    assert cs.paths == ("a", "a/b")


def test_descendants_of_deleted_dirs_are_dropped():
    cs = _cs([], ["d", "d/x", "d/y"], {""}, {"": ["d", "e"], "d": ["x", "y"]})
    assert cs.whiteouts == ("d",)


def test_every_child_gone_means_opaque_but_never_at_root():
    cs = _cs(["d/new"], ["d/x", "d/y"], {"", "d"}, {"d": ["x", "y"]})
    assert cs.opaque_dirs == ("d",) and cs.whiteouts == () and cs.paths == ("d", "d/new")
    root = _cs([], ["x"], {""}, {"": ["x"]})
    assert root.opaque_dirs == () and root.whiteouts == ("x",)


def test_changeset_is_frozen_value():
    cs = ChangeSet(Path("/r"), ("a",))
    assert not cs.empty and ChangeSet(Path("/r"), ()).empty
    try:
        cs.paths = ()
    except AttributeError:
        pass
    else:
        raise AssertionError("ChangeSet must be frozen")
