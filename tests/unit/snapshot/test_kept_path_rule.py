"""A layer extracted straight onto a host root obeys the kept paths exactly as a copy from the
layer store does (``KeptPaths.rule`` in ``extract_layer`` against ``hostapply.apply_lower``).

Each case starts from one root holding the container's own entries (a mount's content, mason's
runtime, a work dir, an ancestor's other files), applies the same layers both ways and compares
the trees, the warnings and the refusals. Needs root (overlay whiteouts are 0/0 devices).
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from mason.errors import BuildError, LayerError
from mason.snapshot.hostapply import apply_lower
from mason.snapshot.keptpaths import KeptPaths
from mason.tarfs.extract import SAFE_DEVICES, ExtractOptions, extract_layer
from tests.unit.tarfs.tarfs_helpers import make_tar, member, tree

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: whiteout devices, ownership")

KEPT = KeptPaths(mounts=("/proc", "/etc/resolv.conf"), runtime=("/kaniko",), own=("/work/build",))
DIR = tarfile.DIRTYPE


def _container(root: Path) -> None:
    """What the container has before any layer: the kept entries and an ancestor's other files."""
    for d in ("proc", "etc", "kaniko", "work/build", "work/other"):
        (root / d).mkdir(parents=True)
    (root / "proc/cpuinfo").write_text("the kernel's\n")
    (root / "etc/resolv.conf").write_text("nameserver 10.0.0.1\n")
    (root / "etc/old").write_text("a lower layer's\n")
    (root / "kaniko/executor").write_text("mason\n")
    (root / "work/build/state").write_text("this build's\n")
    (root / "work/other/x").write_text("an earlier stage's\n")


def _both(tmp_path: Path, layers: list[bytes]) -> tuple[dict, dict, list[str], list[str]]:
    """The root after ``layers`` copied from store dirs, and extracted directly; their warnings."""
    copied, direct = tmp_path / "copied", tmp_path / "direct"
    warned_copy: list[str] = []
    warned_direct: list[str] = []
    for root in (copied, direct):
        root.mkdir()
        _container(root)
    for i, tar in enumerate(layers):
        lower = tmp_path / f"lower{i}"
        extract_layer(io.BytesIO(tar), lower, options=ExtractOptions(mode="overlay", allowed_devices=SAFE_DEVICES))
        apply_lower(str(lower), str(copied), KEPT, warn=warned_copy.append)
        extract_layer(io.BytesIO(tar), direct, options=ExtractOptions(
            mode="apply", allowed_devices=SAFE_DEVICES, kept=KEPT.rule(warned_direct.append)))
    # mtimes left out: the two roots were made moments apart, and a removal touches its directory
    return tree(copied, mtimes=False), tree(direct, mtimes=False), warned_copy, warned_direct


def test_mount_content_is_skipped_and_the_rest_applied(tmp_path):
    layer = make_tar([member("proc", DIR, mode=0o555), member("proc/cpuinfo", data=b"the image's\n"),
                      member("etc", DIR), member("etc/resolv.conf", data=b"nameserver 8.8.8.8\n"),
                      member("etc/passwd", data=b"root:x:0:0::/root:/bin/sh\n"),
                      member("usr/bin/tool", data=b"#!/bin/sh\n", mode=0o755)])
    copied, direct, w1, w2 = _both(tmp_path, [layer])
    assert copied == direct
    assert (tmp_path / "direct/proc/cpuinfo").read_text() == "the kernel's\n"
    assert (tmp_path / "direct/etc/resolv.conf").read_text() == "nameserver 10.0.0.1\n"
    assert (tmp_path / "direct/etc/passwd").read_text().startswith("root:")
    assert w1 == w2 == []


@pytest.mark.parametrize("name, why", [("kaniko/executor", "mason's own runtime path /kaniko"),
                                       ("kaniko", "mason's own runtime path /kaniko"),
                                       ("work/build/state", "mason's own own path /work/build"),
                                       ("work/build/new", "mason's own own path /work/build")])
def test_a_runtime_or_own_path_refuses_the_layer_with_the_same_words(tmp_path, name, why):
    layer = make_tar([member(name, data=b"planted\n")])
    with pytest.raises(BuildError) as copy_err:
        _both(tmp_path, [layer])
    root = tmp_path / "again"
    root.mkdir()
    _container(root)
    with pytest.raises(LayerError) as direct_err:
        extract_layer(io.BytesIO(layer), root, options=ExtractOptions(mode="apply", kept=KEPT.rule(print)))
    assert why in copy_err.value.message and why in direct_err.value.message
    assert direct_err.value.message.startswith(f"entry {name!r}: the image has /{name},")
    assert (root / "kaniko/executor").read_text() == "mason\n"
    assert (root / "work/build/state").read_text() == "this build's\n"


def test_an_ancestor_stays_a_directory_with_a_warning(tmp_path):
    layer = make_tar([member("work", tarfile.SYMTYPE, linkname="/elsewhere"),
                      member("etc", DIR, mode=0o750)])
    copied, direct, w1, w2 = _both(tmp_path, [layer])
    assert copied == direct
    assert (tmp_path / "direct/work").is_dir() and not (tmp_path / "direct/work").is_symlink()
    assert w1 == w2 and len(w2) == 1 and "/work is not applied" in w2[0] and "/work/build" in w2[0]
    assert os.stat(tmp_path / "direct/etc").st_mode & 0o777 == 0o750   # an ancestor's own metadata is the image's


def test_whiteouts_of_kept_paths_remove_nothing_kept(tmp_path):
    layer = make_tar([member("etc", DIR), member("etc/.wh.resolv.conf"), member("etc/.wh.old"),
                      member(".wh.work")])
    copied, direct, w1, w2 = _both(tmp_path, [layer])
    assert copied == direct
    assert (tmp_path / "direct/etc/resolv.conf").exists()
    assert not (tmp_path / "direct/etc/old").exists()
    assert (tmp_path / "direct/work/build/state").exists()
    assert w1 == w2 and len(w2) == 1 and "/work is not applied" in w2[0]


def test_an_opaque_directory_keeps_the_kept_entries_only(tmp_path):
    layer = make_tar([member("etc", DIR), member("etc/.wh..wh..opq"), member("etc/passwd", data=b"p\n"),
                      member("work", DIR), member("work/.wh..wh..opq")])
    copied, direct, _, _ = _both(tmp_path, [layer])
    assert copied == direct
    have = {str(p.relative_to(tmp_path / "direct")) for p in (tmp_path / "direct").rglob("*")}
    assert {"etc/resolv.conf", "etc/passwd", "work/build/state"} <= have
    assert not {"etc/old", "work/other", "work/other/x"} & have


def test_a_hardlink_to_a_skipped_mount_entry_is_refused(tmp_path):
    layer = make_tar([member("etc", DIR), member("etc/resolv.conf", data=b"nameserver 8.8.8.8\n"),
                      member("etc/alias", tarfile.LNKTYPE, linkname="etc/resolv.conf")])
    root = tmp_path / "root"
    root.mkdir()
    _container(root)
    with pytest.raises(LayerError, match="keeps out of the layer"):
        extract_layer(io.BytesIO(layer), root, options=ExtractOptions(mode="apply", kept=KEPT.rule(print)))
    assert not (root / "etc/alias").exists()
    assert os.stat(root / "etc/resolv.conf").st_nlink == 1


def test_a_rule_lookup_names_the_deepest_kept_path():
    rule = KeptPaths(mounts=("/builds/project",), own=("/builds/project/.cache/work",)).rule(print)
    assert rule.is_kept(("builds", "project", "src"))
    assert rule.holds_kept(("builds",)) and rule.holds_kept(("builds", "project", ".cache"))
    assert not rule.is_kept(("builds",)) and not rule.is_kept(("usr", "bin"))
    with pytest.raises(LayerError, match="own path /builds/project/.cache/work"):
        rule.applies(("builds", "project", ".cache", "work", "x"), directory=False, entry="x")
    assert not rule.applies(("builds", "project", ".cache"), directory=True, entry="d")   # in the mount
    assert not rule.applies(("builds", "project", "README"), directory=False, entry="r")
    assert rule.applies(("builds",), directory=True, entry="b")


def test_an_opaque_directory_hides_the_lower_content_of_its_subdirectories_too(tmp_path):
    """As overlayfs shows it: below an opaque directory nothing of the lower layers is left,
    also in a subdirectory the upper layer has as well."""
    lower = make_tar([member("d", DIR), member("d/keep", data=b"lower\n"), member("d/sub", DIR),
                      member("d/sub/old", data=b"lower\n"), member("d/sub/deeper", DIR),
                      member("d/sub/deeper/x", data=b"lower\n")])
    upper = make_tar([member("d", DIR), member("d/.wh..wh..opq"), member("d/sub", DIR),
                      member("d/sub/new", data=b"upper\n"), member("d/sub/deeper", DIR)])
    copied, direct, _, _ = _both(tmp_path, [lower, upper])
    assert copied == direct
    have = {str(p.relative_to(tmp_path / "copied")) for p in (tmp_path / "copied").rglob("*")}
    assert {"d/sub/new", "d/sub/deeper"} <= have
    assert not {"d/keep", "d/sub/old", "d/sub/deeper/x"} & have


def test_an_opaque_directory_empties_an_ancestor_of_a_kept_path_around_it(tmp_path):
    """An ancestor of a kept path below an opaque directory keeps only what leads to the kept
    path, whether the layer has that ancestor or not."""
    kept = KeptPaths(own=("/data/deep/state",))
    layer = make_tar([member("data", DIR), member("data/.wh..wh..opq"), member("data/new", data=b"n\n")])
    roots = {}
    for how in ("copied", "direct"):
        root = tmp_path / how
        (root / "data/deep/state").mkdir(parents=True)
        (root / "data/deep/state/f").write_text("the build's\n")
        (root / "data/deep/other").write_text("a lower layer's\n")
        (root / "data/gone").write_text("a lower layer's\n")
        if how == "copied":
            lower = tmp_path / "lower"
            extract_layer(io.BytesIO(layer), lower, options=ExtractOptions(mode="overlay"))
            apply_lower(str(lower), str(root), kept, warn=print)
        else:
            extract_layer(io.BytesIO(layer), root, options=ExtractOptions(mode="apply", kept=kept.rule(print)))
        roots[how] = {str(p.relative_to(root)) for p in root.rglob("*")}
    assert roots["copied"] == roots["direct"] == {"data", "data/new", "data/deep", "data/deep/state",
                                                  "data/deep/state/f"}
