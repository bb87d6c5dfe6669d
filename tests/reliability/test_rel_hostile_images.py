"""Hostile base images at build level, through the CLI: ``FROM oci:<hand-made layout>``.

Layers that try to escape the root, tar bombs, malformed compression, hostile devices: the build
fails with exit 1 and a LayerError-style message naming the entry, never a traceback, and a
sentinel directory outside the root is untouched. Manifests, configs and indexes that lie: a
clear error. Duplicate entries are legal: the last one wins.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tarfile
from pathlib import Path

import pytest
import zstandard

from tests.reliability.relhelpers import (OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZ, OCI_LAYER_ZSTD, OCI_MANIFEST,
                                          assert_no_traceback, gz_layer, make_tar, mason, member, store_entries,
                                          text, tree_snapshot, work_dirs, write_layout)

pytestmark = pytest.mark.integration


@pytest.fixture(params=["namespaces", "chroot"])
def sentinel(tmp_path, request):
    """A directory outside the root an escape would reach; every test using it runs once per
    isolation level (``_build`` reads it from ``tmp_path/isolation``), so the levels' decisions
    on hostile layers cannot drift apart (host-root: test_rel_hostile_isolation.py)."""
    (tmp_path / "isolation").write_text(request.param)
    s = tmp_path / "sentinel"
    s.mkdir()
    (s / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    before = tree_snapshot(s)
    yield s
    assert tree_snapshot(s) == before, "something outside the root was touched"
    assert os.stat(s / "passwd").st_nlink == 1


def _build(tmp_path: Path, layout: Path, *extra: str, dockerfile: str | None = None):
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "f").write_text("f\n")
    (ctx / "Dockerfile").write_text(dockerfile or f"FROM oci:{layout}\nCOPY f /f\n")
    cache = tmp_path / "cache"
    cache.mkdir(exist_ok=True)
    level = tmp_path / "isolation"
    if level.exists():
        extra = (f"--isolation={level.read_text()}", *extra)
    proc = mason("build", "--context", str(ctx), "--no-push", "--oci-layout-path", str(tmp_path / "out"),
                 "--work-dir", str(tmp_path / "work"), "--cache-dir", str(cache), *extra)
    assert_no_traceback(proc)
    assert work_dirs(tmp_path / "work") == []
    return proc


def _refused(tmp_path, layout, pattern_words, code=1):
    proc = _build(tmp_path, layout)
    out = text(proc)
    assert proc.returncode == code, out[-2000:]
    assert any(w in out for w in pattern_words), out[-2000:]
    # a layer that failed is never published in the store
    assert store_entries(tmp_path / "cache") == []
    return out


def _up(sentinel: Path) -> str:
    return "../" * 30 + str(sentinel).lstrip("/")


def test_dotdot_traversal(tmp_path, sentinel):
    layout = write_layout(tmp_path / "l", [gz_layer([member(_up(sentinel) + "/pwned", data=b"x")])])
    _refused(tmp_path, layout, ["'..'"])


def test_absolute_names_stay_inside(tmp_path, sentinel):
    """``/abs/name`` is taken relative to the root (as tar does); never written outside."""
    layout = write_layout(tmp_path / "l", [gz_layer([member(str(sentinel) + "/pwned", data=b"x")])])
    proc = _build(tmp_path, layout)
    assert proc.returncode == 0, text(proc)
    assert not (sentinel / "pwned").exists()


@pytest.mark.parametrize("link", ["abs", "rel"])
def test_symlink_then_write(tmp_path, sentinel, link):
    target = str(sentinel) if link == "abs" else _up(sentinel)
    layout = write_layout(tmp_path / "l", [gz_layer([member("esc", tarfile.SYMTYPE, linkname=target),
                                                     member("esc/pwned", data=b"x")])])
    _refused(tmp_path, layout, ["symbolic link"])


def test_symlink_in_one_layer_write_in_the_next(tmp_path, sentinel):
    layout = write_layout(tmp_path / "l", [gz_layer([member("esc", tarfile.SYMTYPE, linkname=str(sentinel))]),
                                           gz_layer([member("esc/passwd", data=b"pwned")])])
    proc = _build(tmp_path, layout)
    # one policy in every level: 'esc' becomes a directory of layer 2 (as overlayfs shows it);
    # the link is never followed (the sentinel is checked by the fixture)
    assert proc.returncode == 0, text(proc)


@pytest.mark.parametrize("linkname", ["ABS", "UP", "etc/passwd", ".wh.x", "a/.wh..wh..opq"])
def test_hardlinks_outside_or_to_whiteouts(tmp_path, sentinel, linkname):
    linkname = {"ABS": str(sentinel / "passwd"), "UP": _up(sentinel) + "/passwd"}.get(linkname, linkname)
    layout = write_layout(tmp_path / "l", [gz_layer([member("a", tarfile.DIRTYPE, mode=0o755),
                                                     member("h", tarfile.LNKTYPE, linkname=linkname)])])
    _refused(tmp_path, layout, ["'h'", "'..'"])


@pytest.mark.parametrize("kind,major,minor", [(tarfile.BLKTYPE, 8, 0), (tarfile.CHRTYPE, 1, 1),
                                              (tarfile.CHRTYPE, 10, 237), (tarfile.CHRTYPE, 0, 0)])
def test_host_device_nodes_are_refused(tmp_path, sentinel, kind, major, minor):
    """/dev/sda (8:0), /dev/mem (1:1), /dev/loop-control: a RUN would reach the host through them."""
    layout = write_layout(tmp_path / "l", [gz_layer([member("dev", tarfile.DIRTYPE, mode=0o755),
                                                     member("dev/evil", kind, devmajor=major, devminor=minor)])])
    out = _refused(tmp_path, layout, ["device"])
    assert "dev/evil" in out


def test_safe_device_nodes_are_accepted(tmp_path, sentinel):
    layout = write_layout(tmp_path / "l", [gz_layer([member("dev", tarfile.DIRTYPE, mode=0o755),
                                                     member("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3,
                                                            mode=0o666)])])
    proc = _build(tmp_path, layout)
    assert proc.returncode == 0, text(proc)


@pytest.mark.parametrize("name", [".wh..", ".wh.", "./.wh..", ".wh..wh..opq/x"])
def test_whiteouts_of_the_root(tmp_path, sentinel, name):
    layout = write_layout(tmp_path / "l", [gz_layer([member("keep", data=b"k")]), gz_layer([member(name)])])
    proc = _build(tmp_path, layout)
    assert proc.returncode == 1, text(proc)
    assert "whiteout" in text(proc) or "'..'" in text(proc)


def test_duplicate_entries_last_wins(tmp_path, sentinel):
    from tests.integration.executor.buildhelpers import unpack

    layout = write_layout(tmp_path / "l", [gz_layer([member("d", tarfile.DIRTYPE, mode=0o755),
                                                     member("d/x", data=b"first"), member("d/x", data=b"second"),
                                                     member("y", data=b"file"),
                                                     member("y", tarfile.SYMTYPE, linkname="d/x")])])
    proc = _build(tmp_path, layout)
    assert proc.returncode == 0, text(proc)
    root = unpack(tmp_path / "out", tmp_path / "unpacked")
    assert (root / "d" / "x").read_bytes() == b"second"
    assert os.readlink(root / "y") == "d/x"


def test_huge_declared_size(tmp_path, sentinel):
    info, _ = member("big", size=10 ** 12)
    tar = info.tobuf(tarfile.PAX_FORMAT) + b"\0" * 4096
    layout = write_layout(tmp_path / "l", [(gzip.compress(tar), tar, OCI_LAYER_GZ)])
    _refused(tmp_path, layout, ["'big'"])


def test_many_entries_bounded_memory(tmp_path, sentinel):
    """5,000 entries plus a 256 MB file (a 260 MB tar that gzips to ~100 kB): extraction streams,
    so the process's peak memory stays far below the tar's size. (The 2,000,000-entry limit itself
    is tested on tarfs with a small limit: tests/unit/tarfs/test_tarfs_hostile.py::test_too_many_entries.)"""
    import subprocess
    import sys

    from tests.reliability.relhelpers import cli_env

    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    for i in range(5_000):
        os.symlink("x", src / "d" / str(i))
    with open(src / "zeros", "wb") as f:
        f.truncate(256 << 20)
    tar_path = tmp_path / "layer.tar"
    subprocess.run(["tar", "--sort=name", "--owner=0", "--group=0", "-C", str(src), "-cf", str(tar_path), "."],
                   check=True)
    sha = hashlib.sha256()
    with open(tar_path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha.update(chunk)
    blob = subprocess.run(["gzip", "-1", "-c", str(tar_path)], check=True, capture_output=True).stdout
    layout = write_layout(tmp_path / "l", [(blob, "sha256:" + sha.hexdigest(), OCI_LAYER_GZ)])
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "f").write_text("f")
    (ctx / "Dockerfile").write_text(f"FROM oci:{layout}\nCOPY f /f\n")
    proc = subprocess.run(["/usr/bin/env", sys.executable, "-c",
                           "import re, runpy, sys; sys.argv = ['mason'] + sys.argv[1:]\n"
                           "try:\n    runpy.run_module('mason', run_name='__main__')\n"
                           "finally:\n    print('PEAK', re.search(r'VmHWM:\\s+(\\d+)', "
                           "open('/proc/self/status').read()).group(1), file=sys.stderr)",
                           "build", "--context", str(ctx), "--no-push",
                           f"--isolation={(tmp_path / 'isolation').read_text()}",
                           "--work-dir", str(tmp_path / "work"), "--cache-dir", str(tmp_path / "cache")],
                          capture_output=True, env=cli_env(), timeout=240)
    err = proc.stderr.decode()
    assert proc.returncode == 0, err[-2000:]
    peak_kb = int(err.rsplit("PEAK", 1)[1].split()[0])
    print(f"peak RSS {peak_kb} kB")
    assert peak_kb < 100_000, f"peak RSS {peak_kb} kB while extracting a 260 MB tar"


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_malformed_compression(tmp_path, sentinel, kind):
    tar = make_tar([member("f", data=os.urandom(200_000))])
    blob = gzip.compress(tar) if kind == "gzip" else zstandard.ZstdCompressor(write_checksum=True).compress(tar)
    bad = bytearray(blob)
    for i in range(len(bad) // 2, len(bad) // 2 + 64):
        bad[i] ^= 0xFF
    layout = write_layout(tmp_path / "l", [(bytes(bad), tar, OCI_LAYER_GZ if kind == "gzip" else OCI_LAYER_ZSTD)])
    _refused(tmp_path, layout, ["cannot read", "malformed", "layer"])


# --- manifests, configs, indexes ------------------------------------------------------------------
def _base_layer():
    return gz_layer([member("etc", tarfile.DIRTYPE, mode=0o755), member("etc/x", data=b"x")])


def _set(d: dict, path: list, value) -> None:
    for key in path[:-1]:
        d = d[key]
    d[path[-1]] = value


BAD_DOCUMENTS = {
    "manifest media type": dict(manifest_media_type="application/x-not-a-manifest"),
    "config media type": dict(config_media_type="text/plain"),
    "manifest not JSON": dict(manifest_bytes=b"{not json"),
    "config not JSON": dict(config=b"\x00\x01garbage"),
    "layer size lies": dict(tweak_manifest=lambda m: _set(m, ["layers", 0, "size"], m["layers"][0]["size"] + 10)),
    "config size lies": dict(tweak_manifest=lambda m: _set(m, ["config", "size"], 3)),
    "unknown digest algorithm": dict(tweak_manifest=lambda m: _set(m, ["layers", 0, "digest"], "md5:" + "0" * 32)),
    "digest of other content": dict(tweak_manifest=lambda m: _set(m, ["layers", 0, "digest"],
                                                                  "sha256:" + hashlib.sha256(b"?").hexdigest())),
    "diff_ids count wrong": dict(config=json.dumps({"architecture": "amd64", "os": "linux",
                                                     "rootfs": {"type": "layers", "diff_ids": []}}).encode()),
    "diff_id wrong": dict(config=json.dumps({"architecture": "amd64", "os": "linux",
                                              "rootfs": {"type": "layers",
                                                         "diff_ids": ["sha256:" + "1" * 64]}}).encode()),
    "schema version": dict(tweak_manifest=lambda m: _set(m, ["schemaVersion"], 1)),
}


@pytest.mark.parametrize("case", sorted(BAD_DOCUMENTS))
def test_bad_manifests_and_configs(tmp_path, case):
    layout = write_layout(tmp_path / "l", [_base_layer()], **BAD_DOCUMENTS[case])
    proc = _build(tmp_path, layout)
    out = text(proc)
    assert proc.returncode in (1, 2), out[-2000:]
    assert "ERRO" in out or "error:" in out, out[-2000:]
    assert store_entries(tmp_path / "cache") == []


def test_index_pointing_at_itself(tmp_path):
    """An index whose only child is itself (a digest cycle can only be built by naming a blob
    whose content is the index): refused, not followed forever."""
    layout = tmp_path / "l"
    write_layout(layout, [_base_layer()])
    # an index blob that names itself cannot exist (its digest would have to be in its own content),
    # so the cycle is index -> nested index -> the first index by digest.
    inner = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    inner_bytes = json.dumps(inner).encode()
    inner_digest = hashlib.sha256(inner_bytes).hexdigest()
    outer = {"schemaVersion": 2, "mediaType": OCI_INDEX,
             "manifests": [{"mediaType": OCI_INDEX, "digest": f"sha256:{inner_digest}", "size": len(inner_bytes)}]}
    outer_bytes = json.dumps(outer).encode()
    outer_digest = hashlib.sha256(outer_bytes).hexdigest()
    (layout / "blobs/sha256" / inner_digest).write_bytes(inner_bytes)
    (layout / "blobs/sha256" / outer_digest).write_bytes(outer_bytes)
    # the blob stored under inner's digest is replaced by the outer index: a loop, and a digest lie
    (layout / "blobs/sha256" / inner_digest).write_bytes(outer_bytes)
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": OCI_INDEX, "digest": f"sha256:{outer_digest}", "size": len(outer_bytes),
         "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}))
    proc = _build(tmp_path, layout)
    assert proc.returncode in (1, 2), text(proc)[-2000:]


def test_index_with_no_matching_platform(tmp_path):
    layout = tmp_path / "l"
    write_layout(layout, [_base_layer()], tweak_index=lambda index, d: index["manifests"].__setitem__(
        0, {"mediaType": OCI_INDEX, **_nested_index(layout, d)}))
    proc = _build(tmp_path, layout)
    out = text(proc)
    assert proc.returncode in (1, 2), out[-2000:]
    assert "platform" in out, out[-2000:]


def _nested_index(layout: Path, manifest_descriptor: dict) -> dict:
    child = {k: manifest_descriptor[k] for k in ("mediaType", "digest", "size")}
    child["platform"] = {"os": "windows", "architecture": "riscv64"}
    data = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child]}).encode()
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs/sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data),
            "annotations": {"org.opencontainers.image.ref.name": "latest"}}


assert OCI_CONFIG and OCI_MANIFEST  # imported for readers of BAD_DOCUMENTS
