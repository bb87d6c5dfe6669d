"""WalkStrategy: the skeleton root of a layer the build already extracted in full is made from
that extraction's headers (the blob is not read again) and equals one made from the blob."""

import hashlib
import io
import os
import stat
import tarfile

import pytest

from mason.executor.layers import LayerRef
from mason.executor.rootfs import WalkStrategy
from mason.oci.descriptor import Descriptor

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="extraction keeps the layer's owners")


def _layer() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add(name, kind=tarfile.REGTYPE, data=b"", **kw):
            info = tarfile.TarInfo(name)
            info.type, info.size, info.mtime = kind, len(data), kw.pop("mtime", 1_600_000_000)
            for k, v in kw.items():
                setattr(info, k, v)
            tar.addfile(info, io.BytesIO(data) if data else None)
        add("etc/", tarfile.DIRTYPE, mode=0o755)
        add("etc/passwd", data=b"root:x:0:0::/root:/bin/sh\n", mode=0o644)
        add("usr/", tarfile.DIRTYPE, mode=0o751, uid=7, gid=8, mtime=1_500_000_000)
        add("usr/bin/", tarfile.DIRTYPE, mode=0o755)
        add("usr/bin/sh", data=b"#!", mode=0o755)
        add("usr/bin/ash", tarfile.LNKTYPE, linkname="usr/bin/sh")
        add("bin", tarfile.SYMTYPE, linkname="usr/bin")
    return buf.getvalue()


def _ref(blob: bytes, opened: list) -> LayerRef:
    def opener():
        opened.append(1)
        return io.BytesIO(blob)
    diff_id = "sha256:" + hashlib.sha256(blob).hexdigest()
    desc = Descriptor("application/vnd.oci.image.layer.v1.tar", diff_id, len(blob))
    return LayerRef(diff_id, desc, opener)


def _shape(root) -> dict:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            out[os.path.relpath(path, root)] = (st.st_mode, st.st_uid, st.st_gid,
                                                None if stat.S_ISLNK(st.st_mode) else st.st_mtime_ns,
                                                os.readlink(path) if stat.S_ISLNK(st.st_mode) else None)
    return out


def test_skeleton_after_a_full_extraction_reads_no_blob_and_matches(tmp_path):
    blob, opened = _layer(), []
    walk = WalkStrategy(tmp_path / "a")
    build_stage, final_stage = [_ref(blob, opened)], [_ref(blob, opened)]
    with walk.view(build_stage) as root:          # the build stage's full root
        assert (root / "usr" / "bin" / "sh").read_bytes() == b"#!"
    assert len(opened) == 1
    hidden = walk.skeleton(final_stage)
    assert len(opened) == 1                       # from the recorded headers
    fresh, fresh_opened = WalkStrategy(tmp_path / "b"), []
    fresh_stage = [_ref(blob, fresh_opened)]
    expected = fresh.skeleton(fresh_stage)
    assert len(fresh_opened) == 1                 # this one from the blob
    assert hidden == expected == {"/etc/passwd", "/usr/bin/sh", "/usr/bin/ash"}
    made = _shape(walk.skeleton_root(final_stage))
    assert made == _shape(fresh.skeleton_root(fresh_stage))
    assert made["usr"][:4] == (stat.S_IFDIR | 0o751, 7, 8, 1_500_000_000 * 10**9)
    assert made["bin"][4] == "usr/bin"

