"""One hostile-layer policy for every layer writer, so for every isolation level.

Each case of ``hostilecases.CASES`` (a pulled image's layers) goes through the writer of each
isolation level, exactly as the build uses it:

* ``namespaces-erofs``: one EROFS image per layer (``mason.erofs.image.build_image``), mounted,
  stacked with overlayfs (privileged builds where the kernel mounts EROFS files);
* ``namespaces-dirs``: one overlay lower directory per layer (``extract_layer`` overlay mode),
  stacked with overlayfs (privileged builds elsewhere);
* ``host-root``: the same lower directories copied onto a root by
  ``mason.snapshot.hostapply.apply_lower`` (what host-root isolation does to ``/``);
* ``host-root-direct``: a layer the store does not hold, extracted from its blob straight onto
  the root under the kept-path rule (``KeptPaths.rule``; here none is kept);
* ``chroot``: every layer applied to one directory (``extract_layer`` apply mode).

Every mode must reach the case's expected decision (refused, with its words, or accepted), and
an accepted image must look the same in every mode. A sentinel directory outside the root is
never touched. Needs root (mounts, devices, ownership).
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from pathlib import Path

import pytest

from mason.errors import LayerError
from mason.tarfs.extract import SAFE_DEVICES, ExtractLimits, ExtractOptions, extract_layer
from tests.reliability.hostilecases import CASES, MAX_ENTRIES, layer_tar

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: mounts and device nodes")

MODES = ("namespaces-erofs", "namespaces-dirs", "host-root", "host-root-direct", "chroot")
LIMITS = ExtractLimits(max_entries=MAX_ENTRIES, max_bytes=1 << 30)


def _overlay_options() -> ExtractOptions:
    return ExtractOptions(mode="overlay", allowed_devices=SAFE_DEVICES, limits=LIMITS)


def _lowers(tars: list[bytes], work: Path, mode: str) -> list[Path]:
    """Each layer as an overlay lower dir (an extracted directory or a mounted EROFS image)."""
    out = []
    for i, tar in enumerate(tars):
        lower = work / f"lower{i}"
        if mode == "namespaces-erofs":
            from mason.erofs.image import build_image
            from mason.erofs.mount import mount_image

            image = work / f"layer{i}.erofs"
            build_image(io.BytesIO(tar), image, options=_overlay_options())
            lower.mkdir()
            mount_image(image, lower)
        else:
            extract_layer(io.BytesIO(tar), lower, options=_overlay_options())
        out.append(lower)
    return out


def _overlay(lowers: list[Path], work: Path) -> Path:
    from mason.sandbox import linux

    empty = work / "empty"
    empty.mkdir()
    merged = work / "merged"
    merged.mkdir()
    stack = ":".join(str(p) for p in reversed([empty, *lowers]))
    linux.mount("overlay", str(merged), "overlay", linux.MS_RDONLY, f"lowerdir={stack}")
    return merged


def _unmount_all(work: Path) -> None:
    from mason.sandbox import linux

    for path in [work / "merged", *sorted(work.glob("lower*"))]:
        if os.path.ismount(path):
            linux.umount2(str(path), linux.MNT_DETACH)


def _listing(root: Path) -> dict[str, tuple]:
    """What a RUN would see: type, mode of non-directories, link targets, file contents.

    A name that readdir lists but lstat does not find is left out: overlayfs lists a whiteout
    in a directory only one layer has (nothing below it to hide) and its lookup says ENOENT."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            p = Path(dirpath) / name
            try:
                st = os.lstat(p)
            except FileNotFoundError:
                continue
            kind = stat.S_IFMT(st.st_mode)
            if stat.S_ISDIR(st.st_mode):
                out[str(p.relative_to(root))] = (kind,)
            elif stat.S_ISLNK(st.st_mode):
                out[str(p.relative_to(root))] = (kind, os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                out[str(p.relative_to(root))] = (kind, stat.S_IMODE(st.st_mode),
                                                 hashlib.sha256(p.read_bytes()).hexdigest())
            else:
                out[str(p.relative_to(root))] = (kind, stat.S_IMODE(st.st_mode), st.st_rdev)
    return out


def apply_in_mode(mode: str, tars: list[bytes], work: Path) -> dict[str, tuple]:
    """The image's root as ``mode`` builds it (LayerError if refused)."""
    work.mkdir()
    if mode in ("chroot", "host-root-direct"):
        from mason.snapshot.keptpaths import KeptPaths

        kept = KeptPaths().rule(lambda _msg: None) if mode == "host-root-direct" else None
        root = work / "root"
        for tar in tars:
            extract_layer(io.BytesIO(tar), root, options=ExtractOptions(
                mode="apply", allowed_devices=SAFE_DEVICES, limits=LIMITS, kept=kept))
        return _listing(root)
    try:
        lowers = _lowers(tars, work, mode)
        if mode == "host-root":
            from mason.snapshot.hostapply import apply_lower
            from mason.snapshot.keptpaths import KeptPaths

            root = work / "root"
            root.mkdir()
            for lower in lowers:
                apply_lower(str(lower), str(root), KeptPaths(), warn=lambda _msg: None)
            return _listing(root)
        return _listing(_overlay(lowers, work))
    finally:
        _unmount_all(work)


@pytest.fixture
def sentinel(tmp_path):
    s = tmp_path / "sentinel"
    s.mkdir()
    (s / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    before = _listing(s)
    yield s
    assert _listing(s) == before, "something outside the root was touched"
    assert os.stat(s / "passwd").st_nlink == 1


def _outcome(mode: str, name: str, tmp_path: Path, sentinel: Path):
    tars = [layer_tar(layer, str(sentinel)) for layer in CASES[name].layers]
    try:
        return "accepted", apply_in_mode(mode, tars, tmp_path / mode)
    except LayerError as err:
        return "refused", str(err)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_decision_is_the_policys_in_every_mode(name, mode, tmp_path, sentinel):
    case = CASES[name]
    decision, detail = _outcome(mode, name, tmp_path, sentinel)
    if case.refuse is None:
        assert decision == "accepted", f"{mode} refused {name!r}: {detail}"
    else:
        assert decision == "refused", f"{mode} accepted {name!r}: {detail}"
        assert case.refuse in detail, detail


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c.refuse is None))
def test_accepted_layers_look_the_same_in_every_mode(name, tmp_path, sentinel):
    trees = {mode: _outcome(mode, name, tmp_path, sentinel) for mode in MODES}
    reference = trees["chroot"]
    for mode, tree in trees.items():
        assert tree == reference, f"{name!r}: {mode} differs from chroot:\n{tree}\n{reference}"
