"""Skeletons of lower layers that are not extracted: their directories, links and whiteouts.

A COPY that misses after a cache hit needs the hit layer as an overlay lower dir, but only
for the shape of the tree: where directories and symlinks are, what a whiteout hides. Its
files matter only if the COPY reaches one of them, which ``mason.fsops.deferred`` detects
(``HiddenFileReached``, and the step runs again over the full view). In the benchmark's
one-file rebuild, ``COPY --from=build /src /opt/src`` after the hit ``COPY --from=build /gen
/opt/gen`` used to extract 7 000 files only to write beside them; a skeleton reads the same
tar and creates one directory.

A skeleton is extracted at most once per build, into the build's work dir (never into the
shared layer store, which holds complete layers only), and its diff_id is verified like any
extraction.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Callable

# at module level: imported lazily from stage threads it raced (a partially initialised module)
from mason.executor.layers import base_errors
from mason.tarfs.extract import SAFE_DEVICES, ExtractOptions, extract_layer


class Skeletons:
    """One build's skeletons, by diff_id: (directory, in-root paths of the files left out)."""

    def __init__(self, root: Callable[[], Path], cancel: threading.Event | None = None, *, limits=None):
        self._root = root
        self._limits = limits     # ExtractLimits of the build (None: tarfs's defaults)
        self._cancel = cancel
        self._lock = threading.Lock()
        self._made: dict[str, tuple[Path, frozenset[str]]] = {}

    def get(self, ref) -> tuple[Path, frozenset[str]]:

        with self._lock:       # stages asking at once wait for one extraction
            made = self._made.get(ref.diff_id)
            if made is not None:
                return made
            dest = self._root() / ref.diff_id.replace(":", "-")
            options = ExtractOptions(mode="overlay", skeleton=True, allowed_devices=SAFE_DEVICES,
                                     cancel=self._cancel, **({"limits": self._limits} if self._limits else {}))
            try:
                with base_errors(ref), ref.opener() as blob:
                    result = extract_layer(blob, dest, media_type=ref.descriptor.media_type, options=options,
                                           expected_diff_id=ref.diff_id)
            except BaseException:
                shutil.rmtree(dest, ignore_errors=True)
                raise
            self._made[ref.diff_id] = made = (dest, result.skipped)
            return made
