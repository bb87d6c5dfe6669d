"""The media types mason understands, and what each one means.

Docker schema 1 manifests are recognised only to refuse them with a clear message: they carry
no content-addressed config and cannot be copied without rewriting (and re-signing) them.
"""

from __future__ import annotations

from mason.errors import ImageError, NotSupportedError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDIST = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDIST_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_LAYER_NONDIST_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

IMAGE_MANIFESTS = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEXES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
CONFIGS = frozenset({OCI_CONFIG, DOCKER_CONFIG})
SCHEMA1 = frozenset({DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED})

# The Accept list for manifest requests: what mason can read (schema 1 is not asked for, so a
# registry that can convert will hand out schema 2 instead).
MANIFEST_ACCEPT = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST)

# layer media type -> compression ("gzip", "zstd" or None)
_LAYERS = {
    OCI_LAYER: None,
    OCI_LAYER_GZIP: "gzip",
    OCI_LAYER_ZSTD: "zstd",
    OCI_LAYER_NONDIST: None,
    OCI_LAYER_NONDIST_GZIP: "gzip",
    OCI_LAYER_NONDIST_ZSTD: "zstd",
    DOCKER_LAYER: None,
    DOCKER_LAYER_GZIP: "gzip",
    DOCKER_LAYER_FOREIGN: "gzip",
}
FOREIGN_LAYERS = frozenset({DOCKER_LAYER_FOREIGN, OCI_LAYER_NONDIST, OCI_LAYER_NONDIST_GZIP,
                            OCI_LAYER_NONDIST_ZSTD})


def is_manifest(media_type: str) -> bool:
    return media_type in IMAGE_MANIFESTS


def is_index(media_type: str) -> bool:
    return media_type in INDEXES


def is_layer(media_type: str) -> bool:
    return media_type in _LAYERS


def is_foreign(media_type: str) -> bool:
    """Foreign/non-distributable layers may be absent from a registry; copies must say so."""
    return media_type in FOREIGN_LAYERS


def layer_compression(media_type: str) -> str | None:
    """``"gzip"``, ``"zstd"`` or ``None`` (uncompressed) for a layer media type."""
    try:
        return _LAYERS[media_type]
    except KeyError:
        raise ImageError(f"unsupported layer media type {media_type!r}") from None


def refuse_schema1(media_type: str | None, where: str) -> None:
    """Raise the one clear error for Docker schema 1 content."""
    if media_type in SCHEMA1:
        raise NotSupportedError(
            f"{where}: Docker schema 1 manifests ({media_type}) are not supported",
            hint="re-push the image with a current Docker or skopeo to convert it to schema 2 / OCI")


def check_manifest_type(media_type: str, where: str) -> str:
    """Accept a manifest or index media type; refuse schema 1 and anything else clearly."""
    refuse_schema1(media_type, where)
    if media_type not in IMAGE_MANIFESTS and media_type not in INDEXES:
        raise ImageError(f"{where}: unsupported manifest media type {media_type!r}",
                         hint="mason reads OCI and Docker schema 2 manifests and indexes")
    return media_type
