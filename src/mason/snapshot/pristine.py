"""The verified reset of host-root isolation: ``/`` back to the container's pristine state.

Kaniko wipes ``/`` between stages and trusts that it worked (its #1829: files of one build
visible to the next). Here every transition is *checked* against a record, and any difference
fails the build loudly, naming the paths.

State lives in ``/.mason-hostroot`` (on the root filesystem, so entries can be renamed there;
kept out of every walk): ``lock`` (one build at a time per container root: a second is refused,
not queued), ``pristine.json`` (a stat walk of the root without kept paths, taken by the first
build in this container), ``journal.json`` (what a running build has done), ``stash/`` (the
pristine entries while a build runs), ``trash/`` (what a reset moved out of the root, until it
is removed: in the background, so a stage does not wait for the previous one's files to go).

* :meth:`HostRoot.acquire` (build start): take the lock; a journal left by a killed build is
  replayed (the root cleared, the stash moved back); then the root must equal the record, or the
  build fails listing what differs (a file planted between builds is found here).
* :meth:`HostRoot.bare` (stage start): the pristine entries are renamed into the stash (once
  per build), everything else not kept is removed, and the root is checked to hold nothing but
  kept paths and their ancestor directories. The stage's layers are then applied onto it.
* :meth:`HostRoot.restore` (build end, every exit path): cleared, unstashed, ancestors'
  metadata put back, checked against the record; the journal is removed last.

Renames, not copies: a reset costs the number of top-level entries, not the bytes of the
container's own files.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import stat
from pathlib import Path
from typing import Callable

from mason.errors import BuildError
from mason.snapshot.keptpaths import KeptPaths

STATE_NAME = ".mason-hostroot"


def _record(root: str, kept: KeptPaths) -> dict[str, list]:
    from mason.snapshot.walker import full_attrs

    out = {}
    for rel, a in full_attrs(Path(root), kept.relative).items():
        out[rel] = [a.fmt, a.mode, a.uid, a.gid, a.size, a.mtime_ns, a.rdev, a.link,
                    [[k, v.hex()] for k, v in a.xattrs]]
    return out


def busy(root: str = "/") -> str | None:
    """The pid of a host-root build holding this root, or None (nothing to wait for)."""
    try:
        fd = os.open(os.path.join(root, STATE_NAME, "lock"), os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
    finally:
        os.close(fd)
    return None


class HostRoot:
    def __init__(self, kept: KeptPaths, *, root: str = "/"):
        self.root = root
        self.state = os.path.join(root, STATE_NAME)
        self.kept = kept
        self._lock_fd: int | None = None
        self._stashed = False
        self.trash = os.path.join(self.state, "trash")
        self._trashed = 0
        # Called with each entry renamed into the trash (``_clear``): the caller removes it,
        # in the background if it likes; by default it is removed on the spot.
        self.discard: Callable[[str], None] = _remove_now

    # --- lifecycle ---------------------------------------------------------------------------
    def acquire(self, build_id: str) -> str:
        """Lock the root, replay a dead build's journal, verify; returns what was done (for the log)."""
        os.makedirs(self.state, mode=0o700, exist_ok=True)
        fd = os.open(os.path.join(self.state, "lock"), os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise BuildError(f"another mason build (pid {holder}) is using this container's root: host-root "
                             "isolation builds in /, so one build at a time per container",
                             hint="run the builds one after another, or use --isolation=chroot for parallel builds") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd
        done = "root verified"
        try:
            _remove_now(self.trash)       # left by a build killed before it removed its own
            journal = self._journal()
            if journal is not None:
                self._replay(journal)
                done = f"replayed the journal of an interrupted build (pid {journal.get('pid')}); root verified"
            record_path = os.path.join(self.state, "pristine.json")
            if not os.path.exists(record_path):
                _write_json(record_path, _record(self.root, self.kept))
                done = "pristine state recorded"
            self._verify_pristine(start=journal is None)
            self._write_journal({"pid": os.getpid(), "build": build_id, "stash": [], "stashed": False})
        except BaseException:
            self.release()
            raise
        return done

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def bare(self) -> None:
        """Everything but kept paths gone from the root (pristine entries stashed), checked."""
        if not self._stashed:
            self._stash()
        self._clear()
        left = [rel for rel in _record(self.root, self.kept) if rel not in self.kept.ancestors]
        if left:
            raise BuildError("host-root reset failed: still in / after clearing it: " + _show(left),
                             hint="remove them by hand; see docs/unprivileged.md")

    def restore(self) -> None:
        """Back to the pristine record and verified; the journal goes last."""
        self._replay(self._journal() or {"stash": []})
        self._verify_pristine(start=False)
        os.unlink(os.path.join(self.state, "journal.json"))

    # --- steps -------------------------------------------------------------------------------
    def _top_entries(self) -> list[str]:
        """Pristine entries to stash whole: the shallowest ones that hold no kept path."""
        record = self._pristine()
        ancestors = self.kept.ancestors
        return sorted(rel for rel in record
                      if rel and rel not in ancestors and rel.rpartition("/")[0] in ancestors)

    def _stash(self) -> None:
        entries = self._top_entries()
        journal = self._journal() or {"pid": os.getpid()}
        journal["stash"] = entries
        self._write_journal(journal)      # before the first rename: a kill mid-way is replayable
        stash = os.path.join(self.state, "stash")
        for rel in entries:
            dest = os.path.join(stash, rel)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            try:
                os.rename(os.path.join(self.root, rel), dest)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise BuildError(f"host-root: cannot move /{rel} aside: {exc.strerror}") from exc
        journal["stashed"] = True         # from here on, whatever else is in / is the build's
        self._write_journal(journal)
        self._stashed = True

    def _clear(self) -> None:
        ancestors = self.kept.ancestors
        stack = [""]
        while stack:
            rel_dir = stack.pop()
            path = os.path.join(self.root, rel_dir) if rel_dir else self.root
            for name in os.listdir(path):
                rel = f"{rel_dir}/{name}" if rel_dir else name
                if rel == STATE_NAME or self.kept.kind_of(rel) is not None:
                    continue
                full = os.path.join(path, name)
                if rel in ancestors and os.path.isdir(full) and not os.path.islink(full):
                    stack.append(rel)
                    continue
                self._to_trash(full)

    def _to_trash(self, full: str) -> None:
        """Out of the root at once (one rename: the trash is on the root's filesystem, in the
        state dir no walk sees); its removal is ``discard``'s, off the stage's critical path."""
        os.makedirs(self.trash, mode=0o700, exist_ok=True)
        self._trashed += 1
        dest = os.path.join(self.trash, f"{self._trashed:06d}")
        try:
            os.rename(full, dest)
        except OSError:                  # not renamable (another filesystem): removed in place
            _remove_now(full)
            return
        self.discard(dest)

    def _replay(self, journal: dict) -> None:
        """Undo a build: only once every pristine entry was stashed can the rest of / be the
        build's; before that, nothing was written, and the entries moved so far just go back."""
        if journal.get("stashed"):
            self._clear()
        self._unstash(journal.get("stash") or [])
        self._restore_ancestors()
        self._stashed = False

    def _unstash(self, entries: list[str]) -> None:
        stash = os.path.join(self.state, "stash")
        for rel in entries:
            src = os.path.join(stash, rel)
            if os.path.lexists(src):
                os.rename(src, os.path.join(self.root, rel))
        shutil.rmtree(stash, ignore_errors=True)

    def _restore_ancestors(self) -> None:
        record = self._pristine()
        for rel in sorted(self.kept.ancestors, key=lambda p: -p.count("/") if p else 1):
            want = record.get(rel)
            path = os.path.join(self.root, rel) if rel else self.root
            if want is None or not os.path.isdir(path):
                continue
            os.chown(path, want[2], want[3])
            os.chmod(path, stat.S_IMODE(want[1]))
            os.utime(path, ns=(want[5], want[5]))

    def _verify_pristine(self, *, start: bool) -> None:
        record = self._pristine()
        now = _record(self.root, self.kept)
        ancestors = self.kept.ancestors
        added = sorted(p for p in now if p not in record and p != STATE_NAME)
        missing = sorted(p for p in record if p not in now)
        changed = sorted(p for p in now if p in record and
                         (now[p] if p not in ancestors else now[p][:5]) != (record[p] if p not in ancestors else record[p][:5]))
        if added or missing or changed:
            parts = [f"{label}: {_show(paths)}" for label, paths in
                     (("new", added), ("missing", missing), ("changed", changed)) if paths]
            when = "between builds (not by mason)" if start else "after mason's reset"
            raise BuildError(f"host-root: the container's root differs from its pristine state {when}: "
                             + "; ".join(parts),
                             hint=f"remove what does not belong there, or delete {self.state} (no build "
                                  "running) to accept the current root as pristine; see docs/unprivileged.md")

    # --- files -------------------------------------------------------------------------------
    def _pristine(self) -> dict:
        with open(os.path.join(self.state, "pristine.json"), encoding="utf-8") as f:
            return json.load(f)

    def _journal(self) -> dict | None:
        try:
            with open(os.path.join(self.state, "journal.json"), encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            return None
        except ValueError:       # written atomically, so never torn; but never trust it blindly
            return {"stash": sorted(_stash_entries(os.path.join(self.state, "stash"))), "stashed": False}

    def _write_journal(self, data: dict) -> None:
        _write_json(os.path.join(self.state, "journal.json"), data)


def _stash_entries(stash: str) -> list[str]:
    """A torn journal: whatever sits in the stash goes back (leaves of its directory tree)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(stash):
        rel = os.path.relpath(dirpath, stash)
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            out.append(name if rel == "." else f"{rel}/{name}")
    return out


def _remove_now(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


def _write_json(path: str, data) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def _show(paths: list[str]) -> str:
    shown = ", ".join("/" + p for p in paths[:5])
    return shown + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
