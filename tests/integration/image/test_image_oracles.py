"""Every layout and docker-archive mason writes is read by skopeo and umoci (independent
oracles), and round trips keep the manifest digest."""

import subprocess
import sys

import pytest

from umocifixtures import run, skopeo_inspect, umoci_stat, umoci_unpack
from mason.errors import DigestMismatchError
from mason.image.copy import copy
from mason.image.docker_archive import DockerArchiveSink, open_docker_archive
from mason.image.layout import LayoutSink, open_layout
from mason.image.validate import validate

pytestmark = pytest.mark.integration


def mason(*args):
    return subprocess.run([sys.executable, "-m", "mason", *map(str, args)], capture_output=True, text=True)


def test_reads_umoci_layout(umoci_busybox):
    img = open_layout(umoci_busybox, "latest")
    validate(img)
    assert img.digest == skopeo_inspect(f"oci:{umoci_busybox}:latest")["Digest"]
    assert [l.digest for l in img.layers] == skopeo_inspect(f"oci:{umoci_busybox}:latest")["Layers"]


def test_layout_written_by_mason_accepted_by_umoci_and_skopeo(umoci_busybox, tmp_path):
    out = tmp_path / "out"
    r = mason("copy", "--validate", f"oci:{umoci_busybox}:latest", f"oci:{out}:copied")
    assert r.returncode == 0, r.stderr
    original = open_layout(umoci_busybox, "latest")
    assert skopeo_inspect(f"oci:{out}:copied")["Digest"] == original.digest
    stat = umoci_stat(out, "copied")
    assert len([h for h in stat["history"] if not h.get("empty_layer")]) == 2
    rootfs = umoci_unpack(out, "copied", tmp_path / "bundle")
    assert (rootfs / "bin" / "busybox").read_bytes() == open("/bin/busybox", "rb").read()
    assert (rootfs / "etc" / "motd").read_text() == "layer two\n"
    assert not (rootfs / "etc" / "passwd").exists()      # the whiteout was applied


def test_docker_archive_round_trip_read_by_skopeo(umoci_busybox, tmp_path):
    tar = tmp_path / "bb.tar"
    r = mason("copy", f"oci:{umoci_busybox}:latest", f"docker-archive:{tar}:localhost:5000/bb:v1")
    assert r.returncode == 0, r.stderr
    original = open_layout(umoci_busybox, "latest")
    # skopeo reads it (it reports decompressed layers for docker-archives, so compare configs)
    info = skopeo_inspect(f"docker-archive:{tar}")
    assert info["Architecture"] == "amd64" and len(info["Layers"]) == 2
    assert skopeo_inspect(f"docker-archive:{tar}", raw=True)["config"]["digest"] == original.config_descriptor.digest
    # skopeo can copy out of it, and umoci unpacks the result
    run("skopeo", "copy", "-q", f"docker-archive:{tar}", f"oci:{tmp_path / 'sk'}:fromarchive")
    rootfs = umoci_unpack(tmp_path / "sk", "fromarchive", tmp_path / "b")
    assert (rootfs / "bin" / "busybox").exists()
    # and mason gets the exact original manifest back
    r = mason("copy", "--validate", f"docker-archive:{tar}:localhost:5000/bb:v1", f"oci:{tmp_path / 'back'}:back")
    assert r.returncode == 0, r.stderr
    assert skopeo_inspect(f"oci:{tmp_path / 'back'}:back")["Digest"] == original.digest
    umoci_unpack(tmp_path / "back", "back", tmp_path / "b2")


def test_reads_skopeo_docker_archive(umoci_busybox, tmp_path):
    tar = tmp_path / "sk.tar"
    run("skopeo", "copy", "-q", f"oci:{umoci_busybox}:latest", f"docker-archive:{tar}:example.com/a/b:c")
    img = open_docker_archive(tar, "example.com/a/b:c")
    validate(img)
    assert img.config_bytes == open_layout(umoci_busybox, "latest").config_bytes
    copy(img, LayoutSink(tmp_path / "o", "x"))
    umoci_unpack(tmp_path / "o", "x", tmp_path / "bundle")


def test_corrupted_blob_refused_by_copy_command(umoci_busybox, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(umoci_busybox, bad)
    img = open_layout(bad, "latest")
    path = bad / "blobs" / "sha256" / img.layers[0].digest[7:]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    r = mason("copy", f"oci:{bad}:latest", f"docker-archive:{tmp_path / 'x.tar'}")
    assert r.returncode == 1 and "content hashes to" in r.stderr and img.layers[0].digest in r.stderr
    assert not (tmp_path / "x.tar").exists()
    with pytest.raises(DigestMismatchError):
        validate(open_layout(bad, "latest"))


def test_inspect_command(umoci_busybox):
    import json

    r = mason("inspect", "--json", f"oci:{umoci_busybox}:latest")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    img = open_layout(umoci_busybox, "latest")
    assert info["digest"] == img.digest and info["platform"] == "linux/amd64"
    assert [l["digest"] for l in info["layers"]] == [l.digest for l in img.layers]
    assert info["config"]["cmd"] == ["/bin/sh"]
    raw = subprocess.run([sys.executable, "-m", "mason", "inspect", "--raw", f"oci:{umoci_busybox}:latest"],
                         capture_output=True)
    assert raw.stdout == img.manifest_bytes
    text = mason("inspect", f"oci:{umoci_busybox}:latest").stdout
    assert img.digest in text and "linux/amd64" in text


def test_scratch_written_is_valid_for_umoci(tmp_path):
    r = mason("copy", "scratch", f"oci:{tmp_path / 's'}:empty")
    assert r.returncode == 0, r.stderr
    umoci_stat(tmp_path / "s", "empty")
    skopeo_inspect(f"oci:{tmp_path / 's'}:empty")
