"""COPY semantics (Docker/BuildKit) into a root directory.

The rules, in the order they apply:

- sources are relative to the source tree (context or stage root); wildcards follow
  Go's filepath.Match; ``.dockerignore``d and ``--exclude``d paths never match; a
  source that matches nothing is an error;
- a source named explicitly that is a symlink is followed inside the tree; symlinks
  inside a copied directory stay symlinks; a directory source copies its contents;
  ``--parents`` keeps each source's path (below a ``/./`` pivot when there is one); with
  ``**`` the rest after the pivot is an include pattern, as BuildKit (``sources.select_included``);
- the destination is relative to WORKDIR; it is a directory when it ends in ``/``
  (or is ``.``) or already is one; several sources need a directory destination;
  missing parents are created 0755, owned by ``--chown`` (else 0:0);
- entries are owned 0:0 unless ``--chown`` (or ``preserve_owner`` for ``--from``
  copies); ``--chmod`` applies to files and directories; mtimes are kept; hardlinks
  among the copied files stay hardlinks; xattrs are copied only when asked.

Every destination path is resolved inside the root (rootpath), so a symlink in the
image cannot redirect a write outside it.

With ``deferred`` (a ``DeferredFiles``), a regular file whose destination is free (one
``lstat``: nothing there) is recorded instead of written, and its parent directory's mtime
is bumped as the file's creation would have bumped it; see ``mason.fsops.deferred``.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from dataclasses import dataclass, field
from typing import Sequence

from mason.errors import BuildError
from mason.fsops import rootpath, writer
from mason.fsops.chmod import Chmod, parse_chmod
from mason.fsops.deferred import DeferredFile, DeferredFiles, write_real
from mason.fsops.pathmatch import PatternList
from mason.fsops.sources import Selected, SourceTree, select, walk


@dataclass
class CopyResult:
    """What a COPY/ADD wrote: in-root paths created or replaced, in write order.

    The snapshot of the step can be built from these paths alone (no full walk).
    """

    written: list[str] = field(default_factory=list)

    def add(self, inroot: str) -> None:
        self.written.append(inroot)


@dataclass(frozen=True)
class Ownership:
    """Who owns what a step writes: ``chown`` wins; else the source's owner or 0:0."""

    chown: tuple[int, int] | None = None
    preserve: bool = False

    def of(self, st: os.stat_result) -> tuple[int, int]:
        if self.chown is not None:
            return self.chown
        if self.preserve:
            return st.st_uid, st.st_gid
        return 0, 0

    def parents(self) -> tuple[int, int]:
        return self.chown if self.chown is not None else (0, 0)


def as_chmod(value: str | Chmod | None) -> Chmod | None:
    return parse_chmod(value) if isinstance(value, str) else value


def destination(dest: str, workdir: str) -> tuple[str, bool]:
    """Absolute clean in-root destination and whether it is spelled as a directory.

    An empty destination (``COPY f $unset``) is the working directory, as in BuildKit."""
    if not dest:
        dest = "."
    spelled_dir = dest.endswith("/") or dest.endswith("/.") or dest in (".", "..") or dest.endswith("/..")
    full = dest if dest.startswith("/") else posixpath.join(workdir or "/", dest)
    return rootpath.clean_inroot(full), spelled_dir


def _pivot(pattern: str) -> str:
    """The part of a ``--parents`` source that is dropped: everything before ``/./``."""
    if "/./" in pattern:
        return rootpath.clean_inroot(pattern.split("/./", 1)[0]).lstrip("/")
    return ""


class _Copier:
    """One COPY into one root: tracks hardlinks and what was written."""

    def __init__(self, root: str, owner: Ownership, chmod: Chmod | None, xattrs: bool,
                 result: CopyResult, deferred: DeferredFiles | None = None):
        self.root = root
        self.owner = owner
        self.chmod = chmod
        self.xattrs = xattrs
        self.result = result
        self.links: dict[tuple[int, int], str] = {}
        self.dir_times: list[tuple[str, int]] = []
        self.deferred = deferred
        self.groups: dict[tuple[int, int], int] = {}       # source inode -> deferred group
        self.touch: dict[str, None] = {}                   # parents of deferred files (host)
        self.plain_dirs: dict[str, bool] = {}              # parent host -> no default ACL

    def meta(self, st: os.stat_result, *, keep_mtime: bool = True) -> writer.Meta:
        uid, gid = self.owner.of(st)
        mode = stat.S_IMODE(st.st_mode)
        if self.chmod is not None and not stat.S_ISLNK(st.st_mode):
            mode = self.chmod.apply(mode, stat.S_ISDIR(st.st_mode))
        return writer.Meta(uid, gid, mode, st.st_mtime_ns if keep_mtime else None)

    def mkparents(self, inroot_dir: str) -> str:
        if self.deferred is not None:
            # A deferred file where a directory is about to be created: make it real first,
            # so make_dirs refuses it as it would have.
            resolved = rootpath.resolve_inroot(self.root, inroot_dir)
            self.deferred.check(resolved, prefixes=True)
            self._flush_prefixes(resolved)
        uid, gid = self.owner.parents()
        created: list[str] = []
        out = rootpath.make_dirs(self.root, inroot_dir, uid=uid, gid=gid, created=created)
        for c in created:
            self.result.add(c)
        return out

    def entry(self, src_host: str, st: os.stat_result, target: str) -> None:
        """Write one non-directory entry at in-root ``target`` (its parent exists)."""
        parent = rootpath.resolve_inroot(self.root, posixpath.dirname(target))
        inroot = posixpath.join(parent, posixpath.basename(target))
        host = rootpath.host_path(self.root, inroot)
        self.write_at(src_host, st, inroot, host)

    def write_at(self, src_host: str, st: os.stat_result, inroot: str, host: str) -> None:
        mode = st.st_mode
        if self.deferred is not None:
            self.deferred.check(inroot)
            if inroot in self.deferred:
                self._flush(inroot)
            if stat.S_ISREG(mode) and self._defer(src_host, st, inroot, host):
                self.result.add(inroot)
                return
        if stat.S_ISREG(mode) and st.st_nlink > 1 and (st.st_dev, st.st_ino) in self.links:
            writer.write_hardlink(host, inroot, self.links[(st.st_dev, st.st_ino)])
        elif stat.S_ISREG(mode):
            writer.write_file(host, inroot, src_host, self.meta(st), st.st_size)
            if st.st_nlink > 1:
                self.links[(st.st_dev, st.st_ino)] = host
        elif stat.S_ISLNK(mode):
            writer.write_symlink(host, inroot, os.readlink(src_host), self.meta(st))
        else:
            writer.write_special(host, inroot, st, self.meta(st))
        if self.xattrs:
            writer.copy_xattrs(src_host, host)
        self.result.add(inroot)

    # --- deferred files (see mason.fsops.deferred) -------------------------------------------
    def _defer(self, src_host: str, st: os.stat_result, inroot: str, host: str) -> bool:
        """Record the regular file instead of writing it, when the result is certain to be
        the same: nothing at ``host``, no default ACL on its directory, xattrs (if copied)
        only ``user.*`` ones (others can change the mode or be rewritten by the kernel).
        A hardlink group is recorded as a whole or written as a whole."""
        key = (st.st_dev, st.st_ino) if st.st_nlink > 1 else None
        if key is not None and key in self.links:
            return False  # its group is already real: today's hardlink
        xattrs = self._free_for(src_host, host)
        if xattrs is None:
            if key is not None and key in self.groups:
                self._flush(next(f.inroot for f in self.deferred.files.values()
                                 if f.group == self.groups[key]))
            return False
        group = None
        if key is not None:
            group = self.groups.get(key)
            if group is None:
                group = self.groups[key] = self.deferred.new_group()
        self.deferred.add(DeferredFile(inroot, src_host, st.st_size, self.meta(st), xattrs, group))
        self.touch[os.path.dirname(host)] = None
        return True

    def _free_for(self, src_host: str, host: str) -> tuple[tuple[str, bytes], ...] | None:
        """The xattrs a deferred file at ``host`` gets, or None if it must be written."""
        try:
            os.lstat(host)
            return None
        except FileNotFoundError:
            pass
        parent = os.path.dirname(host)
        plain = self.plain_dirs.get(parent)
        if plain is None:
            try:
                os.getxattr(parent, "system.posix_acl_default", follow_symlinks=False)
                plain = False
            except OSError:
                plain = True  # ENODATA, or no ACL support: new files get no ACL
            self.plain_dirs[parent] = plain
        if not plain:
            return None
        if not self.xattrs:
            return ()
        try:
            names = os.listxattr(src_host, follow_symlinks=False)
        except OSError as exc:
            if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
                return ()  # as copy_xattrs: a source without xattr support has none
            return None    # written for real: copy_xattrs reports the error as before
        if any(not n.startswith("user.") for n in names):
            return None
        return tuple((n, os.getxattr(src_host, n, follow_symlinks=False)) for n in sorted(names))

    def _flush(self, inroot: str) -> None:
        """Write the deferred file at ``inroot`` (with its hardlink group) for real."""
        members = self.deferred.take(inroot)
        first = write_real(self.root, members)
        for key, group in list(self.groups.items()):
            if group == members[0].group:
                del self.groups[key]
                self.links[key] = first

    def _flush_prefixes(self, inroot: str) -> None:
        parts = [c for c in inroot.split("/") if c]
        for k in range(1, len(parts) + 1):
            path = "/" + "/".join(parts[:k])
            if path in self.deferred:
                self._flush(path)

    def touch_parents(self) -> None:
        """Give the directories of deferred files the mtime their creation would have given
        them ("now"); called before any directory mtime is restored, and at the end."""
        for host in self.touch:
            os.utime(host, follow_symlinks=False)
        self.touch.clear()

    def directory(self, tree: SourceTree, sel: Selected, target: str,
                  excludes: PatternList | None) -> None:
        """Copy the contents of directory ``sel`` into in-root ``target``."""
        parent = self.mkparents(posixpath.dirname(target))
        top = rootpath.resolve_inroot(self.root, posixpath.join(parent, posixpath.basename(target)))
        if self.deferred is not None:
            self.deferred.check(top, prefixes=True)
            if top in self.deferred:
                self._flush(top)
        top_host = rootpath.host_path(self.root, top)
        # A destination directory the COPY creates is made like its parents (fsutil's
        # prepareTargetDir: 0755, owned by --chown or 0:0), not after the source directory,
        # whose contents only are copied
        uid, gid = self.owner.parents()
        if writer.ensure_dir(top_host, top, writer.Meta(uid, gid, 0o755, None), overwrite_meta=False):
            self.result.add(top)
        dirs: dict[str, tuple[str, str]] = {"": (top, top_host)}
        for ent in walk(tree, sel.real, sel.host, excludes):
            pdir, name = posixpath.split(ent.rel)
            p_inroot, p_host = dirs[pdir]
            inroot, host = posixpath.join(p_inroot, name), os.path.join(p_host, name)
            if stat.S_ISDIR(ent.st.st_mode):
                inroot, host = self._subdir(inroot, host, ent.st)
                dirs[ent.rel] = (inroot, host)
                if self.xattrs:
                    writer.copy_xattrs(ent.host, host)
            else:
                self.write_at(ent.host, ent.st, inroot, host)
        self.touch_parents()
        for host, mtime in reversed(self.dir_times):
            os.utime(host, ns=(mtime, mtime), follow_symlinks=False)
        self.dir_times.clear()

    def _subdir(self, inroot: str, host: str, st: os.stat_result) -> tuple[str, str]:
        if self.deferred is not None:
            self.deferred.check(inroot)
            if inroot in self.deferred:
                self._flush(inroot)
        try:
            existing = os.lstat(host)
        except FileNotFoundError:
            existing = None
        if existing is not None and stat.S_ISLNK(existing.st_mode):
            # An image symlink where the source has a directory (e.g. /lib -> usr/lib):
            # copy into its target, resolved inside the root.
            inroot = rootpath.resolve_inroot(self.root, inroot)
            host = rootpath.host_path(self.root, inroot)
            if self.deferred is not None:
                self.deferred.check(inroot, prefixes=True)
                self._flush_prefixes(inroot)
        writer.ensure_dir(host, inroot, self.meta(st), overwrite_meta=True)
        self.result.add(inroot)
        self.dir_times.append((host, st.st_mtime_ns))
        return inroot, host


def copy(tree: SourceTree, sources: Sequence[str], root: str, dest: str, *,
         workdir: str = "/", chown: tuple[int, int] | None = None,
         chmod: str | Chmod | None = None, excludes: Sequence[str] = (),
         parents: bool = False, preserve_owner: bool = False, copy_xattrs: bool = False,
         where: str | None = None, deferred: DeferredFiles | None = None) -> CopyResult:
    """Run one COPY: ``sources`` from ``tree`` into ``root`` at ``dest``.

    ``chown`` is a resolved (uid, gid); ``preserve_owner``/``copy_xattrs`` are for
    ``COPY --from`` (a stage's owners are kept, context files become 0:0).
    ``where`` (e.g. "Dockerfile:7") is added to "source not found" errors.
    ``deferred``: record regular files there instead of writing them (module docstring).
    """
    if not sources:
        raise BuildError("COPY needs at least one source")
    plist = PatternList(list(excludes)) if excludes else None
    picked = [(s, _pivot(s), sel) for s in sources
              for sel in select(tree, s, plist, where=where, parents=parents)]
    return copy_selected(tree, picked, root, dest, workdir=workdir, chown=chown, chmod=chmod,
                         excludes=plist, parents=parents, preserve_owner=preserve_owner,
                         copy_xattrs=copy_xattrs, deferred=deferred)


def copy_selected(tree: SourceTree, picked: list[tuple[str, str, Selected]], root: str, dest: str,
                  *, workdir: str, chown: tuple[int, int] | None, chmod: str | Chmod | None,
                  excludes: PatternList | None, parents: bool, preserve_owner: bool,
                  copy_xattrs: bool, result: CopyResult | None = None,
                  deferred: DeferredFiles | None = None) -> CopyResult:
    """COPY already-selected sources ((pattern, pivot, Selected) triples)."""
    result = result if result is not None else CopyResult()
    copier = _Copier(root, Ownership(chown, preserve_owner), as_chmod(chmod), copy_xattrs, result,
                     deferred)
    dest_inroot, spelled_dir = destination(dest, workdir)
    resolved = rootpath.resolve_inroot(root, dest_inroot)
    is_dir = spelled_dir or os.path.isdir(rootpath.host_path(root, resolved))
    if len(picked) > 1 and all(p[2].is_dir for p in picked):
        is_dir = True       # BuildKit copies each directory's contents into the one destination
    if len(picked) > 1 and not is_dir and not parents:
        names = ", ".join(repr(p[2].named or ".") for p in picked[:5])
        raise BuildError(f"destination {dest!r} must be a directory ending with '/' when copying "
                         f"several sources ({names})")
    for _pattern, pivot, sel in picked:
        if parents:
            keep = sel.named[len(pivot):].lstrip("/") if pivot else sel.named
            target = posixpath.join(dest_inroot, keep) if keep else dest_inroot
        elif sel.is_dir or not is_dir:
            target = dest_inroot
        else:
            target = posixpath.join(dest_inroot, posixpath.basename(sel.named))
        if sel.is_dir:
            copier.directory(tree, sel, target, excludes)
        else:
            copier.mkparents(posixpath.dirname(target))
            copier.entry(sel.host, sel.st, target)
    copier.touch_parents()
    return result


def place_file(root: str, dest: str, name: str, write, *, workdir: str = "/",
               chown: tuple[int, int] | None = None, chmod: str | Chmod | None = None,
               mode: int = 0o644, mtime_ns: int | None = None,
               result: CopyResult | None = None) -> CopyResult:
    """Write one generated file (heredoc, download) named ``name`` at ``dest``.

    ``write(host, shown, meta)`` creates the file; ``dest`` is a directory when spelled
    as one or when it already is one, else it is the file's own path.
    """
    result = result if result is not None else CopyResult()
    owner = Ownership(chown)
    chm = as_chmod(chmod)
    dest_inroot, spelled_dir = destination(dest, workdir)
    resolved = rootpath.resolve_inroot(root, dest_inroot)
    if spelled_dir or os.path.isdir(rootpath.host_path(root, resolved)):
        if not name:
            raise BuildError(f"cannot name the file written to directory {dest!r}: "
                             "the source has no file name; give a file destination")
        target = posixpath.join(dest_inroot, name)
    else:
        target = dest_inroot
    copier = _Copier(root, owner, chm, False, result)
    parent = copier.mkparents(posixpath.dirname(target))
    inroot = posixpath.join(parent, posixpath.basename(target))
    uid, gid = owner.parents()
    meta = writer.Meta(uid, gid, chm.apply(mode, False) if chm else mode, mtime_ns)
    write(rootpath.host_path(root, inroot), inroot, meta)
    result.add(inroot)
    return result


def write_content(root: str, dest: str, name: str, data: bytes, *, workdir: str = "/",
                  chown: tuple[int, int] | None = None, chmod: str | Chmod | None = None,
                  mtime_ns: int | None = None, mode: int = 0o644) -> CopyResult:
    """A heredoc source (``COPY <<EOF /dest``): write ``data`` as file ``name`` at ``dest``."""
    return place_file(root, dest, name,
                      lambda host, shown, meta: writer.write_bytes(host, shown, data, meta),
                      workdir=workdir, chown=chown, chmod=chmod, mode=mode, mtime_ns=mtime_ns)
