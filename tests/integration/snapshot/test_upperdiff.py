"""Upper dir -> ChangeSet, and the same ChangeSet from the stat walker for identical changes."""

import os
import shutil

import pytest

from mason.snapshot import walker
from mason.snapshot.overlay import OverlayRoot
from mason.snapshot.upperdiff import diff_upper

from tests.support.busyroot import make_busybox_root


def _base(tmp_path):
    """Two overlay-format layers: busybox at the bottom, a data layer deleting a busybox file."""
    bottom = make_busybox_root(tmp_path / "layer0")
    top = tmp_path / "layer1"
    (top / "data/sub").mkdir(parents=True)
    (top / "bin").mkdir()
    for n in "abc":
        (top / "data" / n).write_text(n * 100)
    (top / "data/sub/deep").write_text("deep")
    os.mknod(top / "bin/vi", 0o20000 | 0o600, os.makedev(0, 0))  # overlay whiteout of /bin/vi
    os.setxattr(top / "data", "trusted.overlay.opaque", b"y")     # layer1 owns /data entirely
    (bottom / "data").mkdir()
    (bottom / "data/hidden").write_text("never visible")
    old = 1_600_000_000_000_000_000
    for p in [top, *top.rglob("*")]:
        os.utime(p, ns=(old, old), follow_symlinks=False)
    os.utime(bottom / "data", ns=(old, old))
    return [top, bottom]


def _merge_copy(lowers, dest):
    """The walker's root: the same layers applied to a plain directory."""
    with OverlayRoot(lowers, dest.parent / "merge-state") as ov:
        shutil.copytree(ov.merged, dest, symlinks=True, copy_function=shutil.copy2)
        shutil.copystat(ov.merged, dest)
    shutil.rmtree(dest.parent / "merge-state")


SCENARIOS = {
    "add_modify_delete": """
        echo new > /data/new; echo more >> /data/a; rm /data/b; mkdir -p /opt/x; echo y > /opt/x/y
        rm /bin/ls""",
    "metadata_noops": """
        chown 0:0 /data/a; chmod 644 /data/c; touch -r /data/c /data/c; wc -c /data/a
        chmod 644 /data/sub/deep""",
    "real_metadata_changes": "chmod 600 /data/a; chown 1000:1000 /data/c; touch -d @1000 /data/sub/deep",
    "recreate_dir": "rm -rf /data; mkdir /data; echo z > /data/z",
    "empty_dir_contents": "rm -rf /data/*; echo z > /data/z",
    "delete_tree": "rm -rf /data/sub",
    "replace_file_by_dir_and_symlink": "rm /data/a; mkdir /data/a; ln -s /etc/passwd /data/c -f",
    "hardlink_and_fifo": "ln /data/a /data/a2; mkfifo /data/fifo",
    "nothing": "true",
}


# Where the walker reports more than the overlay method: files whose ctime moved with nothing
# layer-visible changed (a metadata no-op; a hard link added, which changes the link count).
# By stat alone that is indistinguishable from a rewrite with the mtime put back, so the walker
# lists them (their bytes and attributes are the lower's: the extracted image is the same).
WALKER_ALSO_LISTS = {
    "metadata_noops": {"data", "data/a", "data/c", "data/sub", "data/sub/deep"},  # and their parents
    "hardlink_and_fifo": {"data/a"},
}


def _run(root, script):
    # The sandbox is tested separately; here a chroot'ed busybox applies the same change to both roots.
    import subprocess
    subprocess.run([shutil.which("chroot"), str(root), "/bin/sh", "-ec", script], check=True,
                   env={"PATH": "/bin"}, capture_output=True)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_overlay_and_walker_agree(tmp_path, name):
    lowers = _base(tmp_path)
    with OverlayRoot(lowers, tmp_path / "step") as ov:
        _run(ov.merged, SCENARIOS[name])
    by_overlay = diff_upper(ov.upper, lowers)

    copy = tmp_path / "copy"
    _merge_copy(lowers, copy)
    snap = walker.take(copy)
    _run(copy, SCENARIOS[name])
    by_walker = snap.diff()

    assert by_overlay.source_root == ov.upper and by_walker.source_root == copy
    extra = WALKER_ALSO_LISTS.get(name, set())
    assert (by_overlay.whiteouts, by_overlay.opaque_dirs) == (by_walker.whiteouts, by_walker.opaque_dirs)
    assert set(by_walker.paths) - set(by_overlay.paths) == extra
    assert set(by_overlay.paths) <= set(by_walker.paths)
    for p in by_overlay.paths:  # every listed path can be read from its source root
        assert os.path.lexists(ov.upper / p) and os.path.lexists(copy / p)


def test_expected_change_sets(tmp_path):
    lowers = _base(tmp_path)
    results = {}
    for name in ("add_modify_delete", "metadata_noops", "recreate_dir", "delete_tree"):
        with OverlayRoot(lowers, tmp_path / name) as ov:
            _run(ov.merged, SCENARIOS[name])
        results[name] = diff_upper(ov.upper, lowers)
    cs = results["add_modify_delete"]
    assert cs.paths == ("bin", "data", "data/a", "data/new", "opt", "opt/x", "opt/x/y")
    assert cs.whiteouts == ("bin/ls", "data/b")
    assert results["metadata_noops"].empty
    assert results["recreate_dir"].opaque_dirs == ("data",)
    assert results["recreate_dir"].paths == ("data", "data/z")
    assert results["delete_tree"].whiteouts == ("data/sub",)
    assert results["delete_tree"].paths == ("data",)


def test_xattr_whiteouts_in_lower_layers(tmp_path):
    lowers = _base(tmp_path)
    extra = tmp_path / "layer2"
    (extra / "data").mkdir(parents=True)
    (extra / "data/a").write_text("")
    os.setxattr(extra / "data/a", "trusted.overlay.whiteout", b"")
    os.utime(extra / "data", ns=(1_600_000_000_000_000_000,) * 2)
    from mason.snapshot.lowerview import LowerView
    view = LowerView(tuple([extra, *lowers]))
    assert view.lookup("data/a") is None
    assert view.children("data") == {"b", "c", "sub"}
    assert view.lookup("data/hidden") is None  # under layer1's opaque dir
    assert view.lookup("bin/vi") is None and view.lookup("bin/ls") is not None
