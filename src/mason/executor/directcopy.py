"""COPY layers written straight from the sources: the files of a COPY are never created.

In overlay mode a COPY step used to write every file into the step's overlay, diff the upper
dir and tar it; most of those files are never read again by the build (a final stage's
``COPY --from``), and creating them was most of the step's time. Now the copier records
each regular file it would have created at a free path (``mason.fsops.deferred``) and
still does everything else (directories, symlinks, parents, overwrites) on the real root.
At commit the layer is the upper dir's changes plus these records, content streamed from
the sources, in ``write_layer``'s order: the same bytes as if the files had been written
(``tests/integration/executor/test_build_directcopy.py`` builds both ways and compares digests).

The step's ``LayerRef`` then has no directory: a later step that needs the filesystem gets
the layer extracted from its blob by the layer store, like a cached layer. A later COPY of
the same stage does not need the recorded files themselves, only to know where they are:
it runs over the layer's upper dir (a *skeleton*: directories, links, the files that were
written) with the recorded paths marked hidden; if it reaches one (an overwrite, a
directory where a file is) it stops, and runs again over the full view (``HiddenFileReached``).

The overlay strategy records files in every COPY; the walk strategies (chroot's stage roots,
host-root's ``/``) only in a stage's tail, where no later step of the stage reads its root,
and while the stage has no full root (its COPYs run over a skeleton root): the layer is then
not marked as produced in a root, and whoever needs the stage's files later (a COPY that
falls back to the full root, a ``COPY --from`` view) gets it applied from its blob. Over a walk strategy's *skeleton root* (directories and
links of the stage's layers, files left out, ``mason.executor.rootfs``) the same hidden-path
checks apply as over overlay skeletons. Only when ``BuildOptions.direct_copy`` is on, and
only when this process maps every uid and gid to itself: in a user namespace a ``chown`` to an unmapped id fails,
and a record would hide that failure.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from mason.errors import BuildError
from mason.executor.layers import LayerRef
from mason.executor.layerstore import LayerStore
from mason.executor.skeletons import Skeletons
from mason.executor.stagestate import DirectLayer
from mason.fsops.deferred import DeferredFile, DeferredFiles, write_real
from mason.tarfs.entries import EntryType, LayerEntry
from mason.tarfs.paths import sort_key, split_relative

_FULL_RANGE = 4294967295


def deferred_for(direct_copy: bool, strategy: str, *, tail: bool = False) -> DeferredFiles | None:
    """A recorder for one COPY/ADD step (``direct_copy``: the option; ``strategy``: the
    snapshot strategy's name), or None to write files as before.

    The walk strategies (``walk``, ``host-root``) record only in a stage's ``tail`` (no later
    step of the stage needs its filesystem, and the stage has no full root yet): a later
    reader of the stage (a ``COPY --from`` view) gets the layer applied from its blob."""
    if not direct_copy or not (strategy == "overlay" or (tail and strategy in ("walk", "host-root"))):
        return None
    if not (_identity_map("/proc/self/uid_map") and _identity_map("/proc/self/gid_map")):
        return None
    return DeferredFiles()


def skeleton_lowers(layers: list[LayerRef], direct: list[DirectLayer], store: LayerStore, skeletons: Skeletons,
                    *, hits: bool = False) -> tuple[list[LayerRef], frozenset[str]]:
    """``layers`` with this stage's not yet extracted ``direct`` layers replaced by their upper
    dirs, and the in-root paths those do not show. With ``hits``, every other layer not
    extracted yet (cache hits, base layers) is replaced by its skeleton (``skeletons``):
    worth it only when no later step of the stage needs the whole filesystem anyway."""
    out: list[LayerRef] = []
    hidden: set[str] = set()
    for ref in layers:
        found: tuple[LayerRef, Path, frozenset[str]] | None = None
        if ref.directory is None:
            own = next((entry for entry in direct if entry.ref is ref), None)
            if own is not None:
                found = (own.ref, own.upper, own.files)
            elif hits:
                ready = store.ready(ref.diff_id)
                if ready is not None:           # extracted already (another stage): use it whole
                    found = (ref, ready, frozenset())
                else:
                    directory, skipped = skeletons.get(ref)
                    found = (ref, directory, skipped)
        if found is None:
            out.append(ref)
            continue
        out.append(replace(ref, directory=found[1]))
        hidden |= found[2]
    return out, frozenset(hidden)


def _identity_map(path: str) -> bool:
    try:
        with open(path) as f:
            lines = [line.split() for line in f if line.strip()]
    except OSError:
        return False
    return lines == [["0", "0", str(_FULL_RANGE)]]


def layer_entries(deferred: DeferredFiles, ignored: tuple[str, ...]) -> tuple[list[LayerEntry], bool]:
    """The tar members of the deferred files, and whether some were left out (ignored paths).

    Members are exactly what ``FsEntryReader`` reads back from a written file: permission
    bits, owner, mtime in whole seconds as ``int(st_mtime)`` computes it, sorted xattrs; in
    a hardlink group the first member in layer order carries the content and the others
    are hardlinks to it.
    """
    kept: list[tuple[str, DeferredFile]] = []
    dropped = False
    for record in deferred.files.values():
        rel = record.inroot.lstrip("/")
        if any(rel == i or rel.startswith(i + "/") for i in ignored):
            dropped = True
            continue
        kept.append((rel, record))
    firsts: dict[int, str] = {}
    for rel, record in sorted(kept, key=lambda item: sort_key(split_relative(item[0], what="layer path"))):
        if record.group is not None:
            firsts.setdefault(record.group, rel)
    out = []
    for rel, record in kept:
        meta = record.meta
        common = dict(mode=meta.mode, uid=meta.uid, gid=meta.gid, mtime=_seconds(meta.mtime_ns))
        first = firsts.get(record.group) if record.group is not None else None
        if first is not None and first != rel:
            out.append(LayerEntry(rel, EntryType.HARDLINK, linkname=first, **common))
        else:
            out.append(LayerEntry(rel, EntryType.FILE, content=Path(record.source), xattrs=record.xattrs,
                                  **common))
    return out, dropped


def _seconds(mtime_ns: int | None) -> int:
    """``int(os.stat(...).st_mtime)`` of a file whose mtime was set to ``mtime_ns``
    (CPython builds st_mtime as ``sec + nsec * 1e-9``, which can round up)."""
    if mtime_ns is None:
        raise BuildError("internal: a deferred file must keep its source's mtime")
    sec, nsec = divmod(mtime_ns, 10**9)
    return int(sec + nsec * 1e-9)


def write_into_upper(deferred: DeferredFiles, upper: Path) -> None:
    """Write the deferred files into the step's upper dir, where the overlay would have put
    them: used when the layer leaves some out (``--ignore-path``, ``/var/run``), so the upper
    dir stays the step's view for later steps as before. Parents keep their mtimes."""
    groups: dict[int | None, list[DeferredFile]] = {}
    for record in deferred.files.values():
        key = record.group if record.group is not None else -id(record)
        groups.setdefault(key, []).append(record)
    parents: dict[str, os.stat_result] = {}
    for record in deferred.files.values():
        parent = os.path.join(str(upper), os.path.dirname(record.inroot).lstrip("/"))
        if parent not in parents:
            parents[parent] = os.lstat(parent)
    for members in groups.values():
        write_real(str(upper), members)
    for parent, st in parents.items():
        os.utime(parent, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
