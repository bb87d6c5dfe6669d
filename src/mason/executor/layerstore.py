"""A content-addressed store of extracted layers, shared by builds and processes.

Each distinct layer (by diff_id: the digest of its uncompressed tar, so the same content
compressed two ways is stored once) is extracted at most once into
``<root>/<algorithm>/<hex>/`` in overlayfs lower-dir format (whiteouts as 0/0 character
devices, opaque directories marked with ``trusted.overlay.opaque``). Builds mount those
directories read-only as overlay lower dirs and never write into them.

Where this process can mount EROFS images (``mason.erofs``: root, Linux 6.12+), a layer is
instead written as one image file ``<root>/<algorithm>/<hex>.erofs`` and mounted read-only
under the build's own ``mounts`` directory (so the work dir's removal unmounts it, and a
killed build's mounts go with its stale work dir). The mount point is the layer's lower
dir: the rest of the build cannot tell the two apart. A layer the image writer cannot
encode (``Unrepresentable``) is extracted as before; so is every layer when the probe mount
fails (rootless builds, older kernels).

Concurrency: an entry is extracted into a temporary sibling and renamed into place, so a
reader sees either nothing or a complete directory (or image). A per-entry ``flock`` makes
concurrent builds (threads or processes) that need the same layer wait for one extraction
instead of doing it twice. Every writer of an entry holds its lock while its temporary
exists, so a temporary found under the lock was left by a killed process and is removed.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Callable

from mason.executor.dirspread import spread_subdirs
from mason.errors import LayerError
from mason.tarfs.extract import ExtractLimits

Extractor = Callable[[Path], None]  # fills the given empty directory (or writes the image file)


class LayerStore:
    """``mounts``: a callable giving this build's directory for image mounts; without it (or
    when the probe fails) every layer is a directory."""

    def __init__(self, root: Path | str, *, mounts: Callable[[], Path] | None = None,
                 limits: ExtractLimits = ExtractLimits()):
        self.root = Path(root)
        self.limits = limits              # every layer this store extracts meets them
        self._mounts_dir = mounts
        self._images: bool | None = None if mounts is not None else False
        self.images_refused: str | None = None if mounts is not None else "disabled"  # why not, once probed
        self._mounted: dict[str, Path] = {}
        self._mount_lock = threading.Lock()

    def images(self) -> bool:
        """Whether layers become mounted images here (probed once per store, on first use)."""
        if self._images is None:
            with self._mount_lock:
                if self._images is None:
                    from mason.erofs.mount import probe  # only where EROFS layer images are in use

                    self.images_refused = probe(self._mounts_dir() / ".probe")
                    self._images = self.images_refused is None
        return self._images

    def image_path_for(self, diff_id: str) -> Path:
        final = self.path_for(diff_id)
        return final.with_name(final.name + ".erofs")

    def ready(self, diff_id: str) -> Path | None:
        """The lower dir of ``diff_id`` if its directory or image exists already (mounting the
        image if this build has not yet), else None."""
        if self.has(diff_id):
            return self.path_for(diff_id)
        if self._images is not False and self.image_path_for(diff_id).is_file() and self.images():
            try:
                return self._mount(diff_id)
            except OSError:
                return None     # the caller extracts what it needs instead
        return None

    def lower(self, diff_id: str, extract: Extractor, write_image: Extractor | None = None) -> Path:
        """The lower dir of ``diff_id``: an existing directory, else a mounted image (written
        with ``write_image`` if absent), else a directory extracted with ``extract``."""
        from mason.erofs.layout import Unrepresentable  # only where EROFS layer images are in use

        if self.has(diff_id):
            return self.path_for(diff_id)
        if write_image is not None and self.images():
            try:
                self._publish(self.image_path_for(diff_id), write_image, dir_entry=False)
                return self._mount(diff_id)
            except Unrepresentable:
                pass            # a valid layer the writer cannot encode: extracted below
            except OSError:
                pass            # the store's filesystem refuses a file-backed mount (the probe ran
                                # in the work dir): extracted below, the image kept for no one
        return self.ensure(diff_id, extract)[0]

    def _mount(self, diff_id: str) -> Path:
        from mason.erofs.mount import mount_image  # only where EROFS layer images are in use

        with self._mount_lock:
            target = self._mounted.get(diff_id)
            if target is None:
                target = self._mounts_dir() / diff_id.replace(":", "-")
                target.mkdir(exist_ok=True)
                mount_image(self.image_path_for(diff_id), target)
                self._mounted[diff_id] = target
            return target

    def _publish(self, final: Path, write: Extractor, *, dir_entry: bool) -> bool:
        """Make ``final`` (a directory, or an image file) with ``write`` unless it exists; True
        when made now. Written into a temporary sibling under a per-entry ``flock`` and renamed
        into place, so readers see nothing or a complete entry and one writer does the work."""
        exists = final.is_dir if dir_entry else final.is_file
        if exists():
            return False
        final.parent.mkdir(parents=True, exist_ok=True)
        spread_subdirs(final.parent)  # each layer is its own tree: see dirspread
        lock_path = final.parent / f".{final.name}.lock"
        fd = os.open(lock_path, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if exists():  # another build made it while we waited
                return False
            for stale in final.parent.glob(f".{final.name}.tmp-*"):
                if stale.is_dir() and not stale.is_symlink():
                    shutil.rmtree(stale, ignore_errors=True)
                else:
                    stale.unlink(missing_ok=True)
            if dir_entry:
                tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
            else:
                tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}-{threading.get_ident()}")
            try:
                write(tmp)
                os.rename(tmp, final)
            except BaseException:
                if dir_entry:
                    shutil.rmtree(tmp, ignore_errors=True)
                else:
                    tmp.unlink(missing_ok=True)
                raise
            return True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def path_for(self, diff_id: str) -> Path:
        algorithm, _, hexpart = diff_id.partition(":")
        if not hexpart or not algorithm.isalnum() or not all(c in "0123456789abcdef" for c in hexpart):
            raise LayerError(f"invalid layer diff_id {diff_id!r}")
        return self.root / algorithm / hexpart

    def has(self, diff_id: str) -> bool:
        return self.path_for(diff_id).is_dir()

    def ensure(self, diff_id: str, extract: Extractor) -> tuple[Path, bool]:
        """Return the extracted directory of ``diff_id``, extracting it with ``extract`` if absent.

        Returns ``(path, extracted_now)``. ``extract`` receives an empty directory and must
        fill it completely (and verify the diff_id) or raise.
        """
        final = self.path_for(diff_id)
        return final, self._publish(final, extract, dir_entry=True)
