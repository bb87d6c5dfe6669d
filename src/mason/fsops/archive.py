"""Local tar archives for ADD (and tar build contexts): detection and safe extraction.

Detection is by content, never by file name: the compression by its magic bytes
(gzip, bzip2, xz, zstd, or none), then a valid tar header block after decompression.
Extraction resolves every entry inside the root: an entry whose name climbs out with
``..`` or a hardlink whose target lies outside is refused with an error naming it, and
symlinks already in the root are followed only inside it.

This is deliberately small and separate: the layer extractor (``mason.tarfs``) is the
full-fidelity path for image layers, and the executor may route ADD through it later.
"""

from __future__ import annotations

import bz2
import contextlib
import lzma
import os
import posixpath
import stat
import tarfile
from typing import BinaryIO, Iterator

from mason.errors import BuildError
from mason.fsops import rootpath, writer
from mason.tarfs import devices

_MAGICS = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)


def compression_of(head: bytes) -> str | None:
    """The compression named by the first bytes of a file, or None for none."""
    for magic, name in _MAGICS:
        if head.startswith(magic):
            return name
    return None


@contextlib.contextmanager
def open_decompressed(path: str) -> Iterator[BinaryIO]:
    """Open ``path`` and yield a stream of its decompressed bytes."""
    with open(path, "rb") as raw:
        kind = compression_of(raw.read(6))
        raw.seek(0)
        if kind is None:
            yield raw
        elif kind == "gzip":
            from isal import igzip  # ISA-L's gzip: decompresses several times faster than zlib
            with igzip.open(raw, "rb") as f:
                yield f
        elif kind == "bzip2":
            with bz2.open(raw, "rb") as f:
                yield f
        elif kind == "xz":
            with lzma.open(raw, "rb") as f:
                yield f
        else:
            import zstandard
            with zstandard.ZstdDecompressor().stream_reader(raw) as f:
                yield f


def is_tar_archive(path: str) -> bool:
    """True when ``path`` is a (possibly compressed) tar archive, judged by content."""
    try:
        with open_decompressed(path) as f:
            block = _read_exact(f, 512)
    except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:  # corrupt compression
        if isinstance(exc, FileNotFoundError):
            raise
        return False
    except Exception as exc:  # zstandard raises its own ZstdError
        if type(exc).__name__ == "ZstdError":
            return False
        raise
    if len(block) < 512:
        return False
    try:
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def _read_exact(f: BinaryIO, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = f.read(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def extract_tar(path: str, root: str, dest_inroot: str, *, chown: tuple[int, int] | None = None,
                written: list[str] | None = None, label: str | None = None) -> None:
    """Extract the archive at ``path`` into directory ``dest_inroot`` of ``root``.

    Owners come from the archive unless ``chown`` is given (as Docker's ADD does);
    modes, mtimes and xattrs (PAX ``SCHILY.xattr.*``) come from the archive.
    """
    label = label or path
    written = written if written is not None else []
    puid, pgid = chown if chown is not None else (0, 0)
    dest = rootpath.make_dirs(root, dest_inroot, uid=puid, gid=pgid, created=written)
    dir_times: list[tuple[str, int]] = []
    try:
        with open_decompressed(path) as stream, tarfile.open(fileobj=stream, mode="r|") as tf:
            for member in tf:
                _extract_member(tf, member, root, dest, chown, written, dir_times, label)
    except (tarfile.TarError, EOFError, lzma.LZMAError, OSError) as exc:
        if isinstance(exc, BuildError):
            raise
        raise BuildError(f"cannot extract archive {label!r}: {exc}") from exc
    for host, mtime in reversed(dir_times):
        os.utime(host, ns=(mtime, mtime), follow_symlinks=False)


def _entry_target(dest: str, name: str, label: str) -> str:
    rel = posixpath.normpath(name.lstrip("/")) if name.strip("/") else "."
    if rel == ".." or rel.startswith("../"):
        raise BuildError(f"archive {label!r}: entry {name!r} points outside the destination; refused")
    return dest if rel == "." else posixpath.join(dest, rel)


def _extract_member(tf: tarfile.TarFile, m: tarfile.TarInfo, root: str, dest: str,
                    chown: tuple[int, int] | None, written: list[str],
                    dir_times: list[tuple[str, int]], label: str) -> None:
    target = _entry_target(dest, m.name, label)
    uid, gid = chown if chown is not None else (m.uid, m.gid)
    puid, pgid = chown if chown is not None else (0, 0)
    if target == dest:
        parent_inroot, inroot = None, rootpath.resolve_inroot(root, dest)
    else:
        parent_inroot = rootpath.make_dirs(root, posixpath.dirname(target), uid=puid, gid=pgid,
                                           created=written)
        inroot = posixpath.join(parent_inroot, posixpath.basename(target))
    host = rootpath.host_path(root, inroot)
    meta = writer.Meta(uid, gid, m.mode & 0o7777, int(m.mtime) * 1_000_000_000)
    if m.isdir():
        if parent_inroot is not None and os.path.islink(host):
            inroot = rootpath.resolve_inroot(root, inroot)
            host = rootpath.host_path(root, inroot)
        writer.ensure_dir(host, inroot, meta, overwrite_meta=True)
        dir_times.append((host, meta.mtime_ns or 0))
    elif m.isreg():
        src = tf.extractfile(m)
        assert src is not None
        writer.write_fileobj(host, inroot, src, meta)
    elif m.issym():
        writer.write_symlink(host, inroot, m.linkname, meta)
    elif m.islnk():
        link_inroot = rootpath.resolve_inroot(root, _entry_target(dest, m.linkname, label),
                                              follow_final=False)
        link_host = rootpath.host_path(root, link_inroot)
        try:
            lst = os.lstat(link_host)
        except FileNotFoundError:
            raise BuildError(f"archive {label!r}: hardlink {m.name!r} -> {m.linkname!r}: "
                             "target not found in the destination") from None
        if stat.S_ISDIR(lst.st_mode):
            raise BuildError(f"archive {label!r}: hardlink {m.name!r} points to a directory")
        writer.write_hardlink(host, inroot, link_host)
    elif m.ischr() or m.isblk() or m.isfifo():
        if not m.isfifo() and not devices.device_allowed(m.ischr(), m.devmajor, m.devminor):
            message, hint = devices.refusal(m.name, m.ischr(), m.devmajor, m.devminor, f"archive {label!r}")
            raise BuildError(f"entry {message}", hint=hint)
        kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK if m.isblk() else stat.S_IFIFO
        writer.clear_for_nondir(host, inroot)
        os.mknod(host, kind | 0o600, os.makedev(m.devmajor, m.devminor))
        writer.apply_meta(host, meta)
    else:
        raise BuildError(f"archive {label!r}: entry {m.name!r} has an unsupported type {m.type!r}")
    for key, value in m.pax_headers.items():
        if key.startswith("SCHILY.xattr."):
            raw = value.encode("utf-8", "surrogateescape")
            os.setxattr(host, key[len("SCHILY.xattr."):], raw, follow_symlinks=False)
    written.append(inroot)
