"""Builds small OCI layouts for unit tests with tarfile/hashlib/json only (not mason's code),
so mason's readers are checked against content produced independently."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_layer(files: dict[str, bytes], compression: str | None = "gzip") -> tuple[bytes, str, str]:
    """(blob, diff_id, media type)"""
    tar = make_tar(files)
    if compression == "gzip":
        return gzip.compress(tar, mtime=0), sha(tar), "application/vnd.oci.image.layer.v1.tar+gzip"
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdCompressor().compress(tar), sha(tar), "application/vnd.oci.image.layer.v1.tar+zstd"
    return tar, sha(tar), "application/vnd.oci.image.layer.v1.tar"


class LayoutBuilder:
    def __init__(self, root: Path):
        self.root = Path(root)
        (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (self.root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        self.entries: list[dict] = []

    def blob(self, data: bytes) -> str:
        digest = sha(data)
        (self.root / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(data)
        return digest

    def image(self, layers: list[dict[str, bytes]], *, arch: str = "amd64", variant: str | None = None,
              compression: str | None = "gzip", media_type: str = OCI_MANIFEST) -> dict:
        """Writes config, layers, manifest (indented JSON, as other tools do); returns its descriptor."""
        built = [make_layer(files, compression) for files in layers]
        config = {"architecture": arch, "os": "linux", "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
                  "rootfs": {"type": "layers", "diff_ids": [d for _, d, _ in built]}}
        if variant:
            config["variant"] = variant
        config_raw = json.dumps(config, indent=2).encode()
        manifest = {"schemaVersion": 2, "mediaType": media_type,
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": self.blob(config_raw), "size": len(config_raw)},
                    "layers": [{"mediaType": mt, "digest": self.blob(b), "size": len(b)} for b, _, mt in built]}
        raw = json.dumps(manifest, indent=3).encode()
        desc = {"mediaType": media_type, "digest": self.blob(raw), "size": len(raw)}
        platform = {"architecture": arch, "os": "linux"}
        if variant:
            platform["variant"] = variant
        desc["platform"] = platform
        return desc

    def index(self, manifests: list[dict]) -> dict:
        raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}, indent=1).encode()
        return {"mediaType": OCI_INDEX, "digest": self.blob(raw), "size": len(raw)}

    def tag(self, desc: dict, name: str | None) -> None:
        entry = {k: v for k, v in desc.items() if k != "platform"}
        if name:
            entry["annotations"] = {"org.opencontainers.image.ref.name": name}
        self.entries.append(entry)
        (self.root / "index.json").write_text(json.dumps(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.entries}))

    def blob_path(self, digest: str) -> Path:
        return self.root / "blobs" / "sha256" / digest.split(":")[1]


BUSYBOX_FILES = [{"bin/hello": b"hello world\n", "etc/passwd": b"root:x:0:0:root:/root:/bin/sh\n"},
                 {"etc/motd": b"second layer\n"}]
