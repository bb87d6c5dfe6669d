"""The no-mount snapshot: compare two stat walks of one root.

Used where overlayfs cannot be mounted (unprivileged CI containers).  Cost is one ``lstat`` per
entry per walk plus one ``listxattr`` per *directory*, i.e. O(files), never O(bytes).

**The rule.**  Every entry is recorded as a fixed 44-byte stat record (inode, ctime_ns,
mtime_ns, size, mode, uid, gid).  ctime is the key: the kernel sets it on every change of an
inode's content (``write``, ``truncate``, a write through a shared ``mmap`` at its page fault, a
write through a hard link anywhere), metadata (``chmod``, ``chown``, ``utime``: so restoring the
mtime with ``touch -d`` moves ctime again) and xattrs, and nothing in user space can set it
back.  A new inode (``rm`` + create, ``mv`` over, a type change) has a new inode number or a
new ctime.  So:

* a **non-directory** whose record is identical is unchanged and never opened; one whose
  record differs in any field is *changed*.  This includes a "metadata no-op" (``chown`` to the
  same owner, ``touch -r f f``): its content may have been rewritten in place and the mtime put
  back, and the before-content is gone, so the walker cannot tell the two apart and puts the
  (possibly identical) file in the layer.  The overlay method compares bytes and drops it;
  that is the one difference between the modes, and it only ever adds an entry whose extracted
  result is the same (docs/unprivileged.md, "stat walker");
* paths in ``hashed`` (default :data:`RESTORED_IN_PLACE`, the files the chroot sandbox writes
  and restores byte for byte around every RUN) also have their bytes hashed at ``take``: with
  the same inode, type, mode, owner, size, mtime, xattrs and bytes they are unchanged;
* a **directory**'s content is its entries, which are compared one by one anyway, so a
  directory whose record differs is changed only if its layer-visible attributes (type, mode,
  owner, mtime, xattrs, inode) differ; directory xattrs are read at ``take`` for this.

**No subtree is skipped.**  A directory's stat changes when an entry is added, removed or
renamed in it, but not when a file below it is rewritten in place, written through an mmap or
through a hard link in another directory, chmod'ed, chown'ed or given an xattr: an unchanged
directory record says nothing about its subtree, so every directory is listed in both walks.
What is cheap instead: each directory's records are one ``bytes`` (names and packed records
in ``scandir`` order), and after the second walk an unchanged directory is one ``bytes``
comparison in C; only a directory whose listing differs is parsed and compared entry by entry.
Memory is ~60 bytes per entry (a 300 000-entry root: ~20 MB), and the second walk is not
kept: it is compared directory by directory as it goes.

**Same-tick changes.**  ctime has the granularity of the kernel's coarse clock (a few ms; a
second on filesystems with second timestamps): a change in the same tick as the entry's
recorded ctime could leave it equal.  ``take`` therefore returns only once the clock is past
the newest ctime it recorded by more than that granularity, so every later change gets a
different ctime (typically no wait: the newest ctime is older than the walk).

Mount points inside the root (another filesystem) are recorded but not descended into: they
are not part of the root's content.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from mason.snapshot.changeset import Attrs, ChangeSet, canonical, read_attrs, read_xattrs

# ino, ctime_ns, mtime_ns, size, mode, uid, gid
_REC = struct.Struct("=QqqqIII")
_REC_SIZE = _REC.size
_SEP = b"/"                       # never part of a name: ends each name in a listing

#: Files the chroot sandbox rewrites and restores byte for byte (same inode) around each RUN.
RESTORED_IN_PLACE = frozenset({"etc/hosts", "etc/resolv.conf"})

_COARSE_TICK_NS = 20_000_000      # > one coarse-clock tick at HZ >= 100


@dataclass
class Snapshot:
    """A recorded stat walk of ``root``, taken before a step.

    ``listings``: relative directory (bytes, ``b""`` is the root) -> its entries as
    ``name/record/name/record...`` in ``scandir`` order; ``top``: the root's own record;
    ``dir_xattrs``: xattrs of directories that have any; ``hashed``: relative path -> (record,
    xattrs, sha256) of the ``hashed`` files.
    """

    root: Path
    ignore: frozenset[str]
    top: bytes
    listings: dict[bytes, bytes]
    dir_xattrs: dict[bytes, tuple] = field(default_factory=dict)
    hashed: dict[bytes, tuple] = field(default_factory=dict)

    def diff(self, ignore: frozenset[str] | None = None) -> ChangeSet:
        """Walk ``root`` again and return what changed since this snapshot.

        ``ignore`` holds relative paths (and their subtrees) excluded from both walks, e.g. the
        sandbox's own mount-point stubs when they could not be removed (default: ``take``'s).
        """
        ignore = self.ignore if ignore is None else ignore
        return _Diff(self, ignore).run()


def take(root: str | os.PathLike, ignore: frozenset[str] = frozenset(),
         hashed: frozenset[str] = RESTORED_IN_PLACE) -> Snapshot:
    """Record the stat snapshot of ``root`` (O(files))."""
    root = Path(root)
    broot = os.fsencode(root)
    top = os.lstat(broot)
    snap = Snapshot(root=root, ignore=frozenset(ignore), top=_pack(top), listings={})
    newest = [top.st_ctime_ns]

    def visit(rel: bytes, full: bytes, listing: bytes, dirs: list[tuple[bytes, bytes]]) -> None:
        snap.listings[rel] = listing
        for child_rel, child_full in dirs:
            xattrs = read_xattrs(child_full)
            if xattrs:
                snap.dir_xattrs[child_rel] = xattrs

    xattrs = read_xattrs(broot)
    if xattrs:
        snap.dir_xattrs[b""] = xattrs
    newest.append(_walk(broot, top.st_dev, _encode(ignore), visit))
    for rel in sorted(hashed):
        brel = os.fsencode(rel)
        found = _content_record(os.path.join(broot, brel))
        if found is not None:
            snap.hashed[brel] = found
    _wait_past(max(newest))
    return snap


def full_attrs(root: str | os.PathLike, ignore: frozenset[str] = frozenset()) -> dict[str, Attrs]:
    """Every entry's layer-visible attributes (xattrs included), for a persistent record of a
    whole root (the host-root pristine state); slower than ``take``, which reads only stats."""
    root = Path(root)
    broot = os.fsencode(root)
    out = {"": read_attrs(str(root))}

    def visit(rel: bytes, full: bytes, listing: bytes, dirs) -> None:
        for name, _ in _entries(listing):
            child = rel + _SEP + name if rel else name
            out[os.fsdecode(child)] = read_attrs(os.fsdecode(os.path.join(full, name)))

    _walk(broot, os.lstat(broot).st_dev, _encode(ignore), visit)
    return out


# --- the walk --------------------------------------------------------------------------------

def _pack(st: os.stat_result) -> bytes:
    return _REC.pack(st.st_ino, st.st_ctime_ns, st.st_mtime_ns, st.st_size, st.st_mode, st.st_uid, st.st_gid)


def _encode(ignore: frozenset[str]) -> frozenset[bytes]:
    return frozenset(os.fsencode(p) for p in ignore)


def _walk(broot: bytes, dev: int, ignore: frozenset[bytes], visit) -> int:
    """Depth-first over directories on ``dev``; ``visit(rel, full, listing, subdirs)`` once per
    directory, ``subdirs`` being every child directory (descended or not) as ``(rel, full)``.
    Returns the newest ctime seen.

    Each directory is opened once and its entries are ``fstatat``'ed relative to it (``scandir``
    of a descriptor): no path lookup from the root per entry."""
    pack = _REC.pack
    isdir = stat.S_ISDIR
    encode, fsenc = str.encode, sys.getfilesystemencoding()
    newest = 0
    stack = [(b"", broot)]
    while stack:
        rel, full = stack.pop()
        parts: list[bytes] = []
        dirs: list[tuple[bytes, bytes]] = []
        prefix = rel + _SEP if rel else b""
        base = full if full.endswith(_SEP) else full + _SEP
        fd = os.open(full, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            with os.scandir(fd) as it:
                for de in it:
                    name = encode(de.name, fsenc, "surrogateescape")
                    if ignore and prefix + name in ignore:
                        continue
                    st = de.stat(follow_symlinks=False)
                    ctime = st.st_ctime_ns
                    if ctime > newest:
                        newest = ctime
                    mode = st.st_mode
                    parts.append(name)
                    parts.append(pack(st.st_ino, ctime, st.st_mtime_ns, st.st_size, mode, st.st_uid, st.st_gid))
                    if isdir(mode):
                        child = (prefix + name, base + name)
                        dirs.append(child)
                        if st.st_dev == dev:
                            stack.append(child)
        finally:
            os.close(fd)
        visit(rel, full, _SEP.join(parts), dirs)
    return newest


def _entries(listing: bytes):
    """(name, record) pairs of a listing."""
    i, n = 0, len(listing)
    while i < n:
        j = listing.index(_SEP, i)
        yield listing[i:j], listing[j + 1:j + 1 + _REC_SIZE]
        i = j + 2 + _REC_SIZE


def _content_record(path: bytes) -> tuple | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        digest = hashlib.sha256()
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
    finally:
        os.close(fd)
    return _pack(st), read_xattrs(path), digest.digest()


def _wait_past(newest_ns: int) -> None:
    """Sleep until a change made from now on cannot get the ctime ``newest_ns`` again (at most
    ~1 s: a ctime in the future, from a skewed clock, is not worth waiting for)."""
    gran = 1_000_000_000 if newest_ns % 1_000_000_000 == 0 else 0
    until = min(newest_ns + gran + _COARSE_TICK_NS, time.time_ns() + gran + _COARSE_TICK_NS)
    while (now := time.time_ns()) < until:
        time.sleep((until - now) / 1e9)


# --- the comparison --------------------------------------------------------------------------

_INO, _CTIME, _MTIME, _SIZE, _MODE, _UID, _GID = range(7)


class _Diff:
    def __init__(self, snap: Snapshot, ignore: frozenset[str]):
        self.snap = snap
        self.ignore = ignore
        self.bignore = _encode(ignore)
        self.changed: list[bytes] = []
        self.deleted: list[bytes] = []
        self.dirs_after: set[bytes] = {b""}
        self.seen: set[bytes] = set()

    def run(self) -> ChangeSet:
        snap = self.snap
        broot = os.fsencode(snap.root)
        top = os.lstat(broot)
        _walk(broot, top.st_dev, self.bignore, self._visit)
        for rel, listing in snap.listings.items():
            if rel in self.seen or _ignored(rel, self.bignore):
                continue
            # A directory of B that is no directory of A (or no longer walked): all of it is gone.
            prefix = rel + _SEP if rel else b""
            self.deleted.extend(prefix + name for name, _ in _entries(listing))
        deleted = [os.fsdecode(p) for p in self.deleted]
        dirs_after = {os.fsdecode(p) for p in self.dirs_after}
        listings = snap.listings

        def children_before(p: str) -> set[str]:
            listing = listings.get(os.fsencode(p))
            return {os.fsdecode(n) for n, _ in _entries(listing)} if listing else set()

        return canonical(snap.root, (os.fsdecode(p) for p in self.changed), deleted,
                         dirs_after.__contains__, children_before)

    def _visit(self, rel: bytes, full: bytes, listing: bytes, dirs) -> None:
        self.seen.add(rel)
        self.dirs_after.update(r for r, _ in dirs)
        before = self.snap.listings.get(rel)
        if before == listing:
            return                                     # every entry's record is identical
        prefix = rel + _SEP if rel else b""
        was = dict(_entries(before)) if before is not None else {}
        if self.bignore and before is not None:
            was = {n: r for n, r in was.items() if prefix + n not in self.bignore}
        for name, rec in _entries(listing):
            old = was.pop(name, None)
            if old == rec:
                continue
            child = prefix + name
            if old is None or self._differs(child, os.path.join(full, name), old, rec):
                self.changed.append(child)
        self.deleted.extend(prefix + name for name in was)

    def _differs(self, rel: bytes, path: bytes, old: bytes, new: bytes) -> bool:
        a, b = _REC.unpack(old), _REC.unpack(new)
        if a[_INO] != b[_INO] or stat.S_IFMT(a[_MODE]) != stat.S_IFMT(b[_MODE]):
            return True
        if stat.S_ISDIR(b[_MODE]):
            if (a[_MODE], a[_UID], a[_GID], a[_MTIME]) != (b[_MODE], b[_UID], b[_GID], b[_MTIME]):
                return True
            return self.snap.dir_xattrs.get(rel, ()) != read_xattrs(path)
        hashed = self.snap.hashed.get(rel)
        if hashed is not None and a[:_CTIME] + a[_MTIME:] == b[:_CTIME] + b[_MTIME:]:
            now = _content_record(path)
            return now is None or now[1:] != hashed[1:]
        return True


def _ignored(rel: bytes, ignore: frozenset[bytes]) -> bool:
    while rel:
        if rel in ignore:
            return True
        rel = rel.rpartition(_SEP)[0]
    return False
