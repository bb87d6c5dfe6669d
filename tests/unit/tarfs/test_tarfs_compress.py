import io
import zlib

import pytest
import zstandard

from mason.errors import LayerError
from mason.tarfs.compress import (Compression, compression_from_media_type, detect_compression,
                                  media_type_for, open_auto, open_compressor)

DATA = b"".join(b"line %d of a layer\n" % i for i in range(200_000))


def compress(data, compression, **kw):
    raw = io.BytesIO()
    w = open_compressor(raw, compression, **kw)
    for i in range(0, len(data), 70_000):
        w.write(data[i:i + 70_000])
    w.close()
    assert not raw.closed  # the caller owns the target stream
    return raw.getvalue()


def test_gzip_is_one_deterministic_member_without_mtime_or_name():
    out = compress(DATA, Compression.GZIP)
    assert out[:4] == b"\x1f\x8b\x08\x00"  # no FNAME/FEXTRA flags
    assert out[4:8] == b"\0\0\0\0"  # mtime zero
    d = zlib.decompressobj(31)
    assert d.decompress(out) == DATA and d.eof and d.unused_data == b""
    assert compress(DATA, Compression.GZIP, threads=1) == compress(DATA, Compression.GZIP, threads=2)


def test_zstd_round_trip_and_thread_independent():
    out = compress(DATA, Compression.ZSTD, threads=1)
    assert zstandard.ZstdDecompressor().decompressobj().decompress(out) == DATA
    assert out == compress(DATA, Compression.ZSTD, threads=2)


@pytest.mark.parametrize("compression", list(Compression))
def test_open_auto_detects(compression):
    blob = compress(DATA, compression)
    found, reader = open_auto(io.BytesIO(blob))
    assert found is compression
    assert reader.read() == DATA


def test_detect_by_magic():
    assert detect_compression(b"\x1f\x8b\x08\x00") is Compression.GZIP
    assert detect_compression(b"\x28\xb5\x2f\xfd") is Compression.ZSTD
    assert detect_compression(b"usr/") is Compression.NONE


def test_media_types_both_ways():
    for c in Compression:
        assert compression_from_media_type(media_type_for(c)) is c
        assert compression_from_media_type(media_type_for(c, docker=True)) is c
    assert media_type_for(Compression.GZIP, docker=True) == "application/vnd.docker.image.rootfs.diff.tar.gzip"
    assert media_type_for(Compression.ZSTD) == "application/vnd.oci.image.layer.v1.tar+zstd"
    with pytest.raises(LayerError, match="application/x-bogus"):
        compression_from_media_type("application/x-bogus")


def test_levels_out_of_range_are_refused():
    with pytest.raises(LayerError, match="gzip level 9"):
        open_compressor(io.BytesIO(), Compression.GZIP, level=9)
    with pytest.raises(LayerError, match="zstd level 30"):
        open_compressor(io.BytesIO(), Compression.ZSTD, level=30)
