"""A content-addressed store of extracted layers, shared by builds and processes.

Each distinct layer (by diff_id: the digest of its uncompressed tar, so the same content
compressed two ways is stored once) is extracted at most once into
``<root>/<algorithm>/<hex>/`` in overlayfs lower-dir format (whiteouts as 0/0 character
devices, opaque directories marked with ``trusted.overlay.opaque``). Builds mount those
directories read-only as overlay lower dirs and never write into them.

Concurrency: an entry is extracted into a temporary sibling and renamed into place, so a
reader sees either nothing or a complete directory. A per-entry ``flock`` makes concurrent
builds (threads or processes) that need the same layer wait for one extraction instead of
doing it twice. A stale temporary from a killed process is simply overwritten.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from mason.build.dirspread import spread_subdirs
from mason.errors import LayerError

Extractor = Callable[[Path], None]  # fills the given empty directory


class LayerStore:
    def __init__(self, root: Path | str):
        self.root = Path(root)

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
        if final.is_dir():
            return final, False
        final.parent.mkdir(parents=True, exist_ok=True)
        spread_subdirs(final.parent)  # each layer is its own tree: see dirspread
        lock_path = final.parent / f".{final.name}.lock"
        fd = os.open(lock_path, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if final.is_dir():  # another build extracted it while we waited
                return final, False
            tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
            try:
                extract(tmp)
                os.rename(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            return final, True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
