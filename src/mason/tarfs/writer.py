"""Writing layers: from explicit entries (COPY) or from paths under a directory (snapshots).

Tar is produced by the stdlib ``tarfile`` in mode ``'w'`` (PAX format) straight into a
``BlobSink``, which hashes and compresses in the same pass: 1.0 s for 20k files where
stream mode ``'w|'`` took 2.6 s. Output is deterministic: entries sorted parents first
(opaque marker, then whiteouts, then other names in each directory), no uname/gname,
no atime/ctime, mtimes as whole seconds (as Docker truncates them), xattrs sorted.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path
from typing import BinaryIO, Iterable

from mason.errors import LayerError
from mason.tarfs.entries import EntryType, LayerEntry, LayerOptions
from mason.tarfs.paths import OPAQUE_MARKER, WHITEOUT_PREFIX, sort_key, split_relative
from mason.tarfs.rootdir import RootDir
from mason.tarfs.sink import BlobSink, LayerBlob

_TAR_TYPES = {
    EntryType.FILE: tarfile.REGTYPE, EntryType.DIR: tarfile.DIRTYPE,
    EntryType.SYMLINK: tarfile.SYMTYPE, EntryType.HARDLINK: tarfile.LNKTYPE,
    EntryType.CHAR: tarfile.CHRTYPE, EntryType.BLOCK: tarfile.BLKTYPE,
    EntryType.FIFO: tarfile.FIFOTYPE,
}
_COPY_BUFFER = 1024 * 1024


class TarLayerWriter:
    """Appends ``LayerEntry`` objects to an uncompressed tar stream (``out`` needs
    ``write`` and ``tell``, e.g. a ``BlobSink``). Call ``close()`` to write the end
    blocks; the caller is responsible for the order of entries."""

    def __init__(self, out: BinaryIO, options: LayerOptions):
        self._options = options
        self._tar = tarfile.TarFile(fileobj=out, mode="w", format=tarfile.PAX_FORMAT,
                                    encoding="utf-8", errors="surrogateescape",
                                    copybufsize=_COPY_BUFFER)

    def add(self, entry: LayerEntry, fileobj: BinaryIO | None = None, size: int | None = None) -> None:
        """Write ``entry``; a FILE's content comes from ``fileobj``/``size`` when given
        (already opened by the caller), else from ``entry.content``."""
        parts = split_relative(entry.path, what="layer entry")
        if not parts:
            raise LayerError(f"layer entry {entry.path!r}: the root itself cannot be an entry")
        info = tarfile.TarInfo("/".join(parts))
        info.type = _TAR_TYPES[entry.type]
        info.mode = entry.mode
        info.uid, info.gid = self._options.owner(entry.uid, entry.gid)
        info.uname = info.gname = ""
        info.mtime = int(self._options.mtime(int(entry.mtime)))
        if entry.type in (EntryType.SYMLINK, EntryType.HARDLINK):
            if entry.type is EntryType.HARDLINK:
                target = split_relative(entry.linkname, what=f"hardlink target of {entry.path!r}")
                info.linkname = "/".join(target)
            else:
                info.linkname = entry.linkname
        if entry.type in (EntryType.CHAR, EntryType.BLOCK):
            info.devmajor, info.devminor = entry.devmajor, entry.devminor
        xattrs = [(k, v) for k, v in sorted(entry.xattrs) if self._options.keeps_xattr(k)]
        if xattrs:
            info.pax_headers = {f"SCHILY.xattr.{k}": v.decode("utf-8", "surrogateescape")
                                for k, v in xattrs}
        if entry.type is not EntryType.FILE:
            self._tar.addfile(info)
            return
        opened = None
        try:
            if fileobj is None:
                fileobj, size, opened = _open_content(entry)
            info.size = size
            self._tar.addfile(info, fileobj)
        except OSError as err:
            raise LayerError(f"layer entry {entry.path!r}: cannot read its content: {err}") from err
        finally:
            if opened is not None:
                opened.close()

    def close(self) -> None:
        self._tar.close()


def _open_content(entry: LayerEntry):
    if entry.content is None or isinstance(entry.content, bytes):
        data = entry.content or b""
        return io.BytesIO(data), len(data), None
    fd = os.open(entry.content, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise LayerError(f"layer entry {entry.path!r}: content {entry.content} is not a regular file")
    f = os.fdopen(fd, "rb", buffering=0)
    return f, st.st_size, f


def write_entries(entries: Iterable[LayerEntry], out_dir: Path,
                  options: LayerOptions = LayerOptions(), *, sort: bool = True) -> LayerBlob:
    """Write ``entries`` as one layer blob in ``out_dir`` (named by its digest's hex).

    With ``sort`` (the default) entries are ordered parents first, so the caller's
    iteration order cannot change the digest; duplicate paths are refused.
    """
    entries = list(entries)
    if sort:
        keyed = {}
        for entry in entries:
            parts = split_relative(entry.path, what="layer entry")
            if parts in keyed:
                raise LayerError(f"layer entry {entry.path!r} is given twice")
            keyed[parts] = entry
        entries = [keyed[k] for k in sorted(keyed, key=sort_key)]
    with BlobSink(out_dir, options.compression, level=options.level, threads=options.threads) as sink:
        writer = TarLayerWriter(sink, options)
        for entry in entries:
            writer.add(entry)
        writer.close()
    return sink.result


def whiteout_entry(path: str) -> LayerEntry:
    """The OCI whiteout member deleting ``path`` (an empty file ``.wh.<name>``)."""
    parts = split_relative(path, what="whiteout")
    if not parts:
        raise LayerError("whiteout of the root itself is not possible")
    return LayerEntry("/".join(parts[:-1] + (WHITEOUT_PREFIX + parts[-1],)), EntryType.FILE,
                      mode=0o644)


def opaque_entry(directory: str) -> LayerEntry:
    """The OCI marker hiding all lower content of ``directory``."""
    parts = split_relative(directory, what="opaque directory")
    return LayerEntry("/".join(parts + (OPAQUE_MARKER,)), EntryType.FILE, mode=0o644)


def write_layer(source_root: Path, paths: Iterable[str], *, whiteouts: Iterable[str] = (),
                opaque_dirs: Iterable[str] = (), out_dir: Path,
                options: LayerOptions = LayerOptions()) -> LayerBlob:
    """Write the layer holding ``paths`` (relative to ``source_root``) as they are on disk,
    plus a whiteout for each of ``whiteouts`` and an opaque marker in each of
    ``opaque_dirs``; returns the blob written in ``out_dir``.

    Metadata comes from ``lstat`` (type, mode incl. setuid/setgid/sticky, uid/gid,
    mtime, device numbers) and the xattrs (``security.capability`` included); links are
    never followed, including in parent directories. Files sharing an inode among the
    written paths become hardlinks to the first one in layer order. Sockets cannot be
    represented in tar and are skipped, as Docker does. Whiteout and marker members are
    owned 0:0, mode 0644, mtime 0 (then ``options`` apply), so they never vary.
    """
    from mason.tarfs.fsentries import FsEntryReader

    items: dict[tuple[str, ...], str] = {}

    def add(parts: tuple[str, ...], kind: str, given: str) -> None:
        if not parts:
            raise LayerError(f"layer path {given!r}: the root itself cannot be an entry")
        if items.get(parts, kind) != kind:
            raise LayerError(f"layer path {given!r} is both written and deleted")
        items[parts] = kind
        if options.include_parents:
            for i in range(1, len(parts)):
                if items.setdefault(parts[:i], "fs") != "fs":
                    raise LayerError(f"layer path {given!r}: a parent is also deleted")

    for p in paths:
        add(split_relative(p, what="layer path"), "fs", p)
    for w in whiteouts:
        parts = split_relative(w, what="whiteout")
        add(parts, "deleted", w)
    for d in opaque_dirs:
        parts = split_relative(d, what="opaque directory")
        add(parts, "fs", d)
        add(parts + (OPAQUE_MARKER,), "opaque", d)

    order = sorted(((k if v != "deleted" else k[:-1] + (WHITEOUT_PREFIX + k[-1],)), v)
                   for k, v in items.items())
    order.sort(key=lambda kv: sort_key(kv[0]))
    with BlobSink(out_dir, options.compression, level=options.level,
                  threads=options.threads) as sink, RootDir(source_root) as root:
        writer = TarLayerWriter(sink, options)
        reader = FsEntryReader(root, options)
        for parts, kind in order:
            path = "/".join(parts)
            if kind != "fs":
                writer.add(LayerEntry(path, EntryType.FILE, mode=0o644))
                continue
            found = reader.entry(parts)
            if found is None:
                continue  # a socket
            entry, fileobj, size = found
            try:
                writer.add(entry, fileobj, size)
            finally:
                if fileobj is not None:
                    fileobj.close()
        writer.close()
    return sink.result
