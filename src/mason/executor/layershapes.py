"""Tar headers of the layers a build extracted, so a later skeleton of one needs no blob.

Without mounts (chroot and host-root isolation) a stage whose remaining steps are COPYs gets
a *skeleton root*: its layers' directories, links and whiteouts, files left out
(``WalkStrategy.skeleton``). Made from the blob, that means decompressing and parsing the
whole layer again, although only headers matter: for the benchmark's final stage
``FROM debian`` + ``COPY --from=build``, 171 MB of tar read a second time, right after the
build stage extracted the same layer in full. Each full extraction therefore keeps its
members' headers (no file data), and a skeleton of a layer extracted earlier in the same
build is applied from them by the same ``Applier`` and policy (``tarfs.apply_skeleton``).

Only a successful extraction's headers are kept (its diff_id was checked against the
blob's), so they are exactly the verified layer's. A layer with more than ``MAX_ENTRIES``
members is not kept (memory stays bounded: ~300 bytes a member); its skeleton comes from
the blob as before. One instance per build: two builds never share headers.
"""

from __future__ import annotations

import threading

from pathlib import Path

# at module level: imported lazily from stage threads it raced (a partially initialised module)
from mason.executor.touching import HeaderIndex
from mason.tarfs.extract import read_headers
from mason.tarfs.reader import Member

MAX_ENTRIES = 20_000


class MemberLog(list):
    """A member list that gives up (empties itself) past ``cap`` entries."""

    def __init__(self, cap: int = MAX_ENTRIES):
        super().__init__()
        self.cap = cap
        self.overflowed = False

    def append(self, m: Member) -> None:
        if self.overflowed:
            return
        if len(self) >= self.cap:
            self.overflowed = True
            self.clear()
            return
        super().append(m)


class LayerShapes:
    """The recorded headers of one build's extracted layers, by diff_id."""

    def __init__(self, cap: int = MAX_ENTRIES):
        self._cap = cap
        self._lock = threading.Lock()
        self._kept: dict[str, list[Member]] = {}
        self._indexes: dict[str, HeaderIndex] = {}
        self._too_many: set[str] = set()       # blobs read once and found past the cap

    def recorder(self, diff_id: str) -> MemberLog | None:
        """A list for ``extract_layer(record=…)``, or None when this layer's headers are kept."""
        with self._lock:
            return None if diff_id in self._kept else MemberLog(self._cap)

    def keep(self, diff_id: str, log: MemberLog | None) -> None:
        """After a successful extraction: its headers are the layer's."""
        if log is None or log.overflowed:
            return
        with self._lock:
            self._kept.setdefault(diff_id, log)

    def get(self, diff_id: str) -> list[Member] | None:
        with self._lock:
            return self._kept.get(diff_id)

    def index(self, diff_id: str, blob_path: Path | None) -> HeaderIndex | None:
        """The ``HeaderIndex`` of ``headers(diff_id, blob_path)``, made once per layer."""
        with self._lock:
            made = self._indexes.get(diff_id)
        if made is not None:
            return made
        members = self.headers(diff_id, blob_path)
        if members is None:
            return None
        made = HeaderIndex(members)
        with self._lock:
            return self._indexes.setdefault(diff_id, made)

    def headers(self, diff_id: str, blob_path: Path | None) -> list[Member] | None:
        """The headers of layer ``diff_id``: recorded by its extraction in this build, or read
        from ``blob_path`` where this build wrote its blob (a step's own layer; kept for the
        next ask); else None (a blob elsewhere is not fetched for this)."""
        kept = self.get(diff_id)
        with self._lock:
            too_many = diff_id in self._too_many
        if kept is not None or blob_path is None or too_many:
            return kept
        log = self.recorder(diff_id)
        if log is None:
            return self.get(diff_id)
        for member in read_headers(blob_path, label=diff_id, expected_diff_id=diff_id):
            log.append(member)       # past the cap the log gives up: None, the files are hashed
        if log.overflowed:
            with self._lock:         # the blob is not read again for the next ask
                self._too_many.add(diff_id)
            return None
        self.keep(diff_id, log)
        return self.get(diff_id)
