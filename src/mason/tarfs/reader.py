"""Streaming tar reader on libarchive, yielding plain ``Member`` records.

Why libarchive rather than the stdlib: iterating 20k members and reading their data
(78 MB tar, page cache) took 1.06 s with ``tarfile`` mode ``'r|'`` and 0.33 s with
libarchive-c. libarchive only *parses* here: it never writes to disk (all writing and
path safety live in extract.py), and it reads uncompressed tar bytes from our own
decompressor (isal gzip decompresses at ~2x zlib's speed).

libarchive-c exposes neither xattrs nor raw (undecoded) names, so those two calls are
bound here with ctypes; ``cdll[name]`` returns a fresh function object, so the shared
library handle used by libarchive-c is not modified.
"""

from __future__ import annotations

import ctypes
import os
from contextlib import contextmanager
from ctypes import POINTER, byref, c_char_p, c_int, c_size_t, c_void_p
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from libarchive import ffi as _ffi
from libarchive.exception import ArchiveError
from libarchive.read import new_archive_read

from mason.errors import LayerError
from mason.tarfs.entries import EntryType

_BLOCK = 1024 * 1024
_ARCHIVE_OK = 0
_ARCHIVE_FATAL = -30


def _bind(name, argtypes, restype):
    fn = _ffi.libarchive[name]
    fn.argtypes = argtypes
    fn.restype = restype
    return fn


_xattr_reset = _bind("archive_entry_xattr_reset", [c_void_p], c_int)
_xattr_next = _bind("archive_entry_xattr_next",
                    [c_void_p, POINTER(c_char_p), POINTER(c_void_p), POINTER(c_size_t)], c_int)
_pathname_utf8 = _bind("archive_entry_pathname_utf8", [c_void_p], c_char_p)
_pathname = _bind("archive_entry_pathname", [c_void_p], c_char_p)
_symlink_utf8 = _bind("archive_entry_symlink_utf8", [c_void_p], c_char_p)
_hardlink_utf8 = _bind("archive_entry_hardlink_utf8", [c_void_p], c_char_p)
_symlink = _bind("archive_entry_symlink", [c_void_p], c_char_p)
_hardlink = _bind("archive_entry_hardlink", [c_void_p], c_char_p)

_TYPES = {
    0o100000: EntryType.FILE, 0o040000: EntryType.DIR, 0o120000: EntryType.SYMLINK,
    0o020000: EntryType.CHAR, 0o060000: EntryType.BLOCK, 0o010000: EntryType.FIFO,
}


@dataclass(slots=True)
class Member:
    name: str
    type: EntryType | None  # None: a type tar can carry but mason cannot create (socket)
    mode: int
    uid: int
    gid: int
    mtime_ns: int
    size: int
    linkname: str
    devmajor: int
    devminor: int
    xattrs: list[tuple[str, bytes]]


def _text(utf8: bytes | None, raw: bytes | None) -> str:
    """UTF-8 names decode as such; anything else keeps its bytes (surrogateescape)."""
    if utf8 is not None:
        return utf8.decode("utf-8", "surrogateescape")
    return os.fsdecode(raw) if raw is not None else ""


class TarStream:
    """Iterate members of the tar read from ``stream`` (``readinto``); ``read_data()``
    yields the current member's content in chunks. Errors raise LayerError naming
    ``label`` and the last member read."""

    def __init__(self, archive_p, label: str, failures: list[BaseException]):
        self._archive = archive_p
        self._label = label
        self._failures = failures
        self._buf = ctypes.create_string_buffer(_BLOCK)
        self.last = None

    def members(self) -> Iterator[Member]:
        entry_p = _ffi.entry_new()
        try:
            while True:
                try:
                    r = _ffi.read_next_header2(self._archive, entry_p)
                except ArchiveError as err:
                    raise self.error(err) from err
                if r == 1:  # ARCHIVE_EOF
                    return
                member = self._member(entry_p)
                self.last = member.name
                yield member
        finally:
            _ffi.entry_free(entry_p)

    def read_data(self) -> Iterator[memoryview]:
        buf, view = self._buf, memoryview(self._buf)
        while True:
            try:
                n = _ffi.read_data(self._archive, buf, _BLOCK)
            except ArchiveError as err:
                raise self.error(err) from err
            if n == 0:
                return
            yield view[:n]

    def error(self, err: Exception) -> LayerError:
        where = f" after entry {self.last!r}" if self.last else " at its start"
        if self._failures:
            cause = self._failures[0]
            if isinstance(cause, LayerError):
                return cause
            return LayerError(f"layer {self._label}: cannot read the stream{where}: {cause}",
                              hint="the blob is corrupt or truncated")
        msg = getattr(err, "msg", None) or str(err)
        return LayerError(f"layer {self._label}: malformed tar{where}: {msg}")

    @staticmethod
    def _member(entry_p) -> Member:
        ftype = _ffi.entry_filetype(entry_p)
        hard = _hardlink_utf8(entry_p) or None
        hard_raw = _hardlink(entry_p) if hard is None else None
        if hard is not None or hard_raw is not None:
            kind, link = EntryType.HARDLINK, _text(hard, hard_raw)
        else:
            kind = _TYPES.get(ftype)
            link = _text(_symlink_utf8(entry_p), _symlink(entry_p)) if kind is EntryType.SYMLINK else ""
        xattrs = []
        if _xattr_reset(entry_p) > 0:
            name, value, size = c_char_p(), c_void_p(), c_size_t()
            while _xattr_next(entry_p, byref(name), byref(value), byref(size)) == _ARCHIVE_OK:
                data = ctypes.string_at(value, size.value) if value.value else b""
                xattrs.append((name.value.decode("utf-8", "surrogateescape"), data))
        return Member(
            name=_text(_pathname_utf8(entry_p), _pathname(entry_p)),
            type=kind, mode=_ffi.entry_perm(entry_p), uid=_ffi.entry_uid(entry_p),
            gid=_ffi.entry_gid(entry_p),
            mtime_ns=_ffi.entry_mtime(entry_p) * 1_000_000_000 + _ffi.entry_mtime_nsec(entry_p),
            size=_ffi.entry_size(entry_p), linkname=link,
            devmajor=_ffi.entry_rdevmajor(entry_p), devminor=_ffi.entry_rdevminor(entry_p),
            xattrs=xattrs)


@contextmanager
def open_tar_stream(stream: BinaryIO, label: str) -> Iterator[TarStream]:
    """Read tar (no compression filter: ``stream`` is already decompressed)."""
    failures: list[BaseException] = []
    buf = ctypes.create_string_buffer(_BLOCK)
    buf_p = ctypes.cast(buf, c_void_p)

    def read_cb(archive_p, context, ptrptr):
        # An exception must not cross into C: keep it and report a fatal read error.
        try:
            n = stream.readinto(buf)
        except BaseException as exc:  # noqa: BLE001 - re-raised by TarStream.error
            failures.append(exc)
            return _ARCHIVE_FATAL
        ctypes.cast(ptrptr, POINTER(c_void_p))[0] = buf_p
        return n or 0

    callback = _ffi.READ_CALLBACK(read_cb)
    with new_archive_read("tar", "none") as archive_p:
        try:
            _ffi.read_open(archive_p, None, _ffi.NO_OPEN_CB, callback, _ffi.NO_CLOSE_CB)
        except ArchiveError as err:
            raise TarStream(archive_p, label, failures).error(err) from err
        yield TarStream(archive_p, label, failures)
