"""ADD semantics: COPY plus local archive extraction, URL downloads and git sources.

- A local source that is a tar archive (plain, gzip, bzip2, xz or zstd; judged by
  content) is extracted into the destination directory, unless ``unpack=False``.
- A URL is downloaded: mode 0600 (``--chmod`` overrides), owner 0:0 (or ``--chown``),
  mtime from Last-Modified; named after the URL path when the destination is a
  directory, else the destination is the file. ``--checksum`` is verified; a remote
  archive is extracted only with ``unpack=True``.
- A git URL is cloned (``ref``/``subdir`` from the fragment) and its tree copied like
  a directory source; ``.git`` is dropped unless ``keep_git_dir``. ``--checksum`` on a
  git source must be the commit it resolves to.

Scratch files (downloads, clones) go under ``work_dir``, which the caller owns.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass
from typing import Mapping, Sequence

from mason.fetch import git as gitsrc
from mason.errors import BuildError
from mason.fsops import writer
from mason.fsops.chmod import Chmod
from mason.fsops.copy import CopyResult, as_chmod, copy_selected, destination, place_file
from mason.fsops.deferred import DeferredFiles
from mason.fsops.pathmatch import PatternList
from mason.fsops.sources import SourceTree, select


@dataclass(frozen=True)
class AddOptions:
    """ADD's flags, after expansion (``chown`` already resolved to numbers)."""

    chown: tuple[int, int] | None = None
    chmod: str | Chmod | None = None
    excludes: tuple[str, ...] = ()
    unpack: bool | None = None  # None: local archives yes, remote no (Docker's default)
    checksum: str | None = None
    keep_git_dir: bool = False
    parents: bool = False
    # git URL -> the commit its cache key was computed for: checked out instead of the ref's
    # head now, so the layer is what the key says even when the ref moved in between
    git_commits: Mapping[str, str] = dataclasses.field(default_factory=dict)


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def add(tree: SourceTree, sources: Sequence[str], root: str, dest: str, *, work_dir: str,
        workdir: str = "/", options: AddOptions = AddOptions(), session=None,
        where: str | None = None, deferred: DeferredFiles | None = None, tls=None) -> CopyResult:
    """Run one ADD into ``root``; return what it wrote.

    ``tls`` (the build's ``mason.tls.TlsTrust``) is what https:// and git sources trust.

    ``deferred`` (see ``mason.fsops.deferred``) is used only when every source is a local
    file or directory that is not unpacked: archives and downloads are written by code that
    does not know about deferred files, so with any of those everything is written for real.
    """
    # Local: archive (tarfile) and the HTTP fetcher are an ADD's alone, and mason.fsops (which
    # a COPY's cache key needs) imports this module, so a build without ADD never loads them
    from mason.fsops import archive

    if not sources:
        raise BuildError("ADD needs at least one source")
    opts = options
    chm = as_chmod(opts.chmod)
    remote = [s for s in sources if is_url(s) or gitsrc.is_git_url(s)]
    if opts.checksum and (len(sources) != 1 or not remote):
        raise BuildError(f"ADD --checksum needs exactly one HTTP(S) or git source, got {list(sources)!r}")
    plist = PatternList(list(opts.excludes)) if opts.excludes else None
    local = [(s, sel) for s in sources if s not in remote
             for sel in select(tree, s, plist, where=where)]
    dest_inroot, spelled_dir = destination(dest, workdir)
    archives = {id(sel) for _, sel in local
                if not sel.is_dir and opts.unpack is not False and archive.is_tar_archive(sel.host)}
    # Archives are unpacked into the destination and directories copied into it, so only
    # several plain files (or downloads) need it spelled as a directory (``ADD *.tar /dest``
    # builds in BuildKit)
    files = [s for s, sel in local if not sel.is_dir and id(sel) not in archives] + remote
    if len(local) + len(remote) > 1 and not spelled_dir and len(files) > 1:
        if not os.path.isdir(os.path.join(root, dest_inroot.lstrip("/"))):
            raise BuildError(f"destination {dest!r} must be a directory ending with '/' when "
                             f"adding several sources ({', '.join(map(repr, sources[:5]))})")
        dest = dest_inroot + "/"
    elif len(local) + len(remote) > 1:
        dest = dest_inroot + "/"
    if remote or archives:
        deferred = None
    result = CopyResult()
    for source in sources:
        if gitsrc.is_git_url(source):
            _add_git(source, root, dest, work_dir, workdir, opts, chm, result, tls)
        elif is_url(source):
            _add_url(source, root, dest, work_dir, workdir, opts, chm, session, result, tls)
    for source, sel in local:
        if id(sel) in archives:
            archive.extract_tar(sel.host, root, dest_inroot, chown=opts.chown,
                                written=result.written, label=source)
            continue
        copy_selected(tree, [(source, "", sel)], root, dest, workdir=workdir, chown=opts.chown,
                      chmod=chm, excludes=plist, parents=opts.parents, preserve_owner=False,
                      copy_xattrs=False, result=result, deferred=deferred)
    return result


def _add_url(url: str, root: str, dest: str, work_dir: str, workdir: str, opts: AddOptions,
             chm: Chmod | None, session, result: CopyResult, tls=None) -> None:
    from mason.fetch.http import download  # Local: see add()
    from mason.fsops import archive

    algo, expected = _split_checksum(opts.checksum) if opts.checksum else ("sha256", None)
    with tempfile.TemporaryDirectory(prefix="add-url-", dir=work_dir) as tmp:
        got = download(url, os.path.join(tmp, "download"), session=session, algorithm=algo, tls=tls)
        if expected is not None and got.digest != f"{algo}:{expected}":
            raise BuildError(f"ADD {gitsrc.redact_url(url)}: checksum mismatch: expected "
                             f"{algo}:{expected}, got {got.digest}")
        if opts.unpack and archive.is_tar_archive(got.path):
            dest_inroot, _ = destination(dest, workdir)
            archive.extract_tar(got.path, root, dest_inroot, chown=opts.chown,
                                written=result.written, label=gitsrc.redact_url(url))
            return
        place_file(root, dest, got.filename,
                   lambda host, shown, meta: writer.write_file(host, shown, got.path, meta),
                   workdir=workdir, chown=opts.chown, chmod=chm, mode=0o600,
                   mtime_ns=got.last_modified_ns, result=result)


def _split_checksum(value: str) -> tuple[str, str]:
    algo, sep, hexdigest = value.partition(":")
    if not sep or not hexdigest or any(c not in "0123456789abcdef" for c in hexdigest.lower()):
        raise BuildError(f"invalid --checksum {value!r}: expected <algorithm>:<hex digest>, "
                         "e.g. sha256:…")
    return algo, hexdigest.lower()


def _add_git(url: str, root: str, dest: str, work_dir: str, workdir: str, opts: AddOptions,
             chm: Chmod | None, result: CopyResult, tls=None) -> None:
    src = gitsrc.parse_buildkit(url)
    if url in opts.git_commits:
        src = dataclasses.replace(src, commit=opts.git_commits[url])
    with tempfile.TemporaryDirectory(prefix="add-git-", dir=work_dir) as tmp:
        checkout = os.path.join(tmp, "repo")
        commit = gitsrc.clone(src, checkout, tls=tls)
        if opts.checksum and not commit.startswith(opts.checksum.lower()):
            raise BuildError(f"ADD {src.redacted()}: checksum mismatch: expected commit "
                             f"{opts.checksum}, got {commit}")
        tree = SourceTree(checkout, label=f"git repository {src.redacted()}")
        keep = src.keep_git_dir if src.keep_git_dir is not None else opts.keep_git_dir
        excludes = PatternList([*opts.excludes, *(() if keep else (".git",))])
        sel = select(tree, src.subdir or ".", excludes if excludes else None)
        copy_selected(tree, [(url, "", s) for s in sel], root, dest, workdir=workdir,
                      chown=opts.chown, chmod=chm, excludes=excludes or None, parents=False,
                      preserve_owner=False, copy_xattrs=False, result=result)
