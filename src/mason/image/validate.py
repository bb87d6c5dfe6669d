"""The validation oracle: read every byte of an image and check it against what names it.

Checks manifest and config digests (done by loading), each layer's digest and size, and each
layer's diff_id (by decompressing). Used by tests after every write and by ``--validate``.
"""

from __future__ import annotations

from mason.errors import ImageError
from mason.image.view import Image, ImageIndex


def validate(view: Image | ImageIndex, *, check_diff_ids: bool = True) -> None:
    """Raise :class:`ImageError`/``DigestMismatchError`` on the first inconsistency."""
    if isinstance(view, ImageIndex):
        if not view.manifests:
            raise ImageError(f"{view.name}: index {view.digest} lists no manifests")
        for child in view.children():
            validate(child, check_diff_ids=check_diff_ids)
        return
    for layer in view.layers:
        with (layer.open_uncompressed() if check_diff_ids else layer.open()) as stream:
            stream.drain()
