"""TarLayerWriter's own header path must give exactly tarfile's PAX bytes.

The reference below is the writer mason used before (``tarfile.TarFile`` in mode 'w',
PAX format): for the same entries both streams must be byte-identical, end blocks and
record padding included, so layer digests did not change with the faster writer.
"""

import hashlib
import io
import random
import tarfile

import pytest

from mason.tarfs.entries import EntryType, LayerEntry, LayerOptions
from mason.tarfs.paths import split_relative
from mason.tarfs.writer import _TAR_TYPES, TarLayerWriter


def reference_tar(entries, options: LayerOptions) -> bytes:
    out = io.BytesIO()
    tar = tarfile.TarFile(fileobj=out, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8",
                          errors="surrogateescape")
    for e in entries:
        info = tarfile.TarInfo("/".join(split_relative(e.path, what="t")))  # as the old writer did
        info.type = _TAR_TYPES[e.type]
        info.mode = e.mode
        info.uid, info.gid = options.owner(e.uid, e.gid)
        info.uname = info.gname = ""
        info.mtime = int(options.mtime(int(e.mtime)))
        if e.type is EntryType.SYMLINK:
            info.linkname = e.linkname
        if e.type is EntryType.HARDLINK:
            info.linkname = "/".join(split_relative(e.linkname, what="t"))
        if e.type in (EntryType.CHAR, EntryType.BLOCK):
            info.devmajor, info.devminor = e.devmajor, e.devminor
        xattrs = [(k, v) for k, v in sorted(e.xattrs) if options.keeps_xattr(k)]
        if xattrs:
            info.pax_headers = {f"SCHILY.xattr.{k}": v.decode("utf-8", "surrogateescape") for k, v in xattrs}
        if e.type is EntryType.FILE:
            data = e.content or b""
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        else:
            tar.addfile(info)
    tar.close()
    return out.getvalue()


def new_tar(entries, options: LayerOptions) -> bytes:
    out = io.BytesIO()
    writer = TarLayerWriter(out, options)
    for e in entries:
        writer.add(e)
    writer.close()
    return out.getvalue()


def _name(rng: random.Random, depth: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789._-"
    parts = []
    for _ in range(depth):
        kind = rng.random()
        if kind < 0.08:
            part = "é" + "ü" * rng.randint(0, 3)                 # non-ASCII: PAX path
        elif kind < 0.12:
            part = "raw\udcff"                                   # undecodable byte (surrogateescape)
        elif kind < 0.2:
            part = "x" * rng.randint(40, 120)                    # long: PAX path
        else:
            part = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
            if set(part) == {"."}:
                part += "d"                                      # "." and ".." are not member names
        parts.append(part)
    return "/".join(parts)


def random_entries(seed: int, count: int = 300):
    rng = random.Random(seed)
    out = []
    for i in range(count):
        path = _name(rng, rng.randint(1, 6)) + f"{i}"
        pick = rng.random()
        common = dict(mode=rng.choice([0o644, 0o755, 0o4755, 0o2711, 0o1777, 0o600, 0]),
                      uid=rng.choice([0, 1000, 65534, 8 ** 7 - 1, 8 ** 7, 2 ** 31]),
                      gid=rng.choice([0, 100, 8 ** 7 - 1, 8 ** 7, 3 * 10 ** 9]),
                      mtime=rng.choice([0, 1, 1_700_000_000, 8 ** 11 - 1, 8 ** 11]))
        if rng.random() < 0.1:
            common["xattrs"] = (("user.k", b"v" * rng.randint(0, 40)), ("security.capability", b"\x01\x00"))
        if pick < 0.45:
            size = rng.choice([0, 1, 511, 512, 513, 1024, rng.randint(0, 20000)])
            out.append(LayerEntry(path, EntryType.FILE, content=rng.randbytes(size), **common))
        elif pick < 0.6:
            out.append(LayerEntry(path, EntryType.DIR, **common))
        elif pick < 0.75:
            target = rng.choice(["/bin/busybox", "../lib", "x" * rng.randint(90, 110), "ü/ber", "t\udcfe"])
            out.append(LayerEntry(path, EntryType.SYMLINK, linkname=target, **common))
        elif pick < 0.85 and out:
            target = rng.choice(out).path
            out.append(LayerEntry(path, EntryType.HARDLINK, linkname=target, **common))
        elif pick < 0.93:
            kind = rng.choice([EntryType.CHAR, EntryType.BLOCK])
            out.append(LayerEntry(path, kind, devmajor=rng.choice([0, 1, 8, 259, 8 ** 7 - 1]),
                                  devminor=rng.choice([0, 3, 255, 1048575 % 8 ** 7]), **common))
        else:
            out.append(LayerEntry(path, EntryType.FIFO, **common))
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("options", [LayerOptions(), LayerOptions(fixed_mtime=0),
                                     LayerOptions(mtime_clamp=1_000_000, uid=0, gid=0)])
def test_bytes_identical_to_tarfile(seed, options):
    entries = random_entries(seed)
    ref, new = reference_tar(entries, options), new_tar(entries, options)
    assert hashlib.sha256(new).hexdigest() == hashlib.sha256(ref).hexdigest()
    assert new == ref


@pytest.mark.parametrize("count", [1, 19, 20, 21])
def test_record_padding_identical(count):
    entries = [LayerEntry(f"f{i}", EntryType.FILE, content=b"x" * i) for i in range(count)]
    assert new_tar(entries, LayerOptions()) == reference_tar(entries, LayerOptions())


def test_an_empty_layer_is_the_end_marker_alone_as_buildkit_writes_it():
    data = new_tar([], LayerOptions())
    assert data == b"\0" * 1024          # tarfile pads to 10240 bytes; Go's archive/tar does not
    assert hashlib.sha256(data).hexdigest() == "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
    assert list(tarfile.open(fileobj=io.BytesIO(data))) == []


def test_output_is_read_back_by_tarfile():
    entries = random_entries(99, 60)
    names = [m.name for m in tarfile.open(fileobj=io.BytesIO(new_tar(entries, LayerOptions())))]
    assert names == ["/".join(split_relative(e.path, what="t")) for e in entries]
