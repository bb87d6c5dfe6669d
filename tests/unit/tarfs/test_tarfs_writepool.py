"""Pooled extraction (small files written by worker threads) gives exactly the tree the
sequential extraction gives, on layers that mix every ordering hazard."""

import os
import random
import tarfile

import pytest

from mason.errors import LayerError
from mason.tarfs.extract import ExtractOptions, extract_layer
from tarfs_helpers import make_tar, member, tree

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="overlay-mode extraction makes whiteout devices")


def _hazards():
    rng = random.Random(7)
    ms = [member("d/", tarfile.DIRTYPE, mode=0o750, mtime=1_500_000_000),
          member("e/", tarfile.DIRTYPE, mtime=1_500_000_001)]
    ms += [member(f"d/s{i}/", tarfile.DIRTYPE, mtime=1_500_000_100 + i) for i in (1, 2, 3)]
    for i in range(600):                                   # many small files, several dirs
        ms.append(member(f"d/s{i % 5}/f{i}", data=bytes([i % 251]) * rng.randrange(0, 5000),
                         mode=0o600 + (i % 3), uid=i % 7, gid=i % 11, mtime=1_600_000_000 + i))
    ms += [
        member("d/big", data=b"B" * (3 << 20)),                   # beyond the pooled size
        member("d/s1/f1", data=b"duplicate: the later wins"),     # duplicate of a pooled file
        member("d/link", tarfile.LNKTYPE, linkname="d/s2/f2"),    # hardlink to a pooled file
        member("d/sym", tarfile.SYMTYPE, linkname="s3/f3"),
        member("d/.wh.gone"),                                     # whiteout, then the same name
        member("d/gone", data=b"written after its whiteout"),
        member("d/s4/", tarfile.DIRTYPE, mode=0o700, mtime=1_400_000_000),  # dir after its files
        member("d/fifo", tarfile.FIFOTYPE),
        member("d/s0", data=b"a file replacing a directory full of pooled files"),
        member("e/.wh..wh..opq"),
        member("e/kept", data=b"kept"),
    ]
    return make_tar(ms)


@pytest.mark.parametrize("threads", [2, 4, 8])
def test_pooled_extraction_equals_sequential(tmp_path, threads):
    blob = tmp_path / "layer.tar"
    blob.write_bytes(_hazards())
    roots = {}
    for n in (0, threads):
        dest = tmp_path / f"x{n}"
        extract_layer(blob, dest, options=ExtractOptions(mode="overlay", write_threads=n))
        roots[n] = dest
    assert tree(roots[0]) == tree(roots[threads])
    assert (roots[threads] / "d" / "s1" / "f1").read_bytes() == b"duplicate: the later wins"
    assert (roots[threads] / "d" / "s0").read_bytes().startswith(b"a file replacing")
    assert os.lstat(roots[threads] / "d" / "link").st_ino == os.lstat(roots[threads] / "d" / "s2" / "f2").st_ino


def test_an_error_in_a_worker_fails_the_extraction(tmp_path):
    # A file whose parent is made read-only by a later directory entry cannot be the
    # failure here (modes are applied at the end); an xattr the kernel refuses can.
    layer = make_tar([member("a", data=b"x", pax={"SCHILY.xattr.user.bad": "v" * 70000})])
    blob = tmp_path / "layer.tar"
    blob.write_bytes(layer)
    with pytest.raises(LayerError, match="'a'"):
        extract_layer(blob, tmp_path / "dest", options=ExtractOptions(mode="overlay", write_threads=4))
