"""The build context: a directory (local, or materialised from a tar, git or URL source).

Every context ends up directory-backed, so COPY/ADD and content digests have one code
path. Remote and archive contexts are materialised inside a directory the caller
owns (the build's work dir) and vanish with it; a local directory is used in place,
read-only. The ``.dockerignore`` matcher comes from the Dockerfile front end after
parsing (``Dockerfile.dockerignore`` may win over ``.dockerignore``), hence
``with_ignore``: ignored paths are invisible to COPY/ADD and to digests.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, replace
from typing import BinaryIO

from mason.fetch import git as gitsrc
from mason.fetch.http import download
from mason.context.spec import ContextSpec, DirSpec, GitSpec, HttpTarSpec, TarSpec, parse_context
from mason.errors import BuildError, UsageError
from mason.fsops import archive, rootpath
from mason.fsops.sources import IgnoreMatcher, SourceTree


@dataclass(frozen=True)
class BuildContext:
    """A directory-backed build context.

    ``root`` is the directory COPY reads from (after ``--context-sub-path``),
    ``description`` says where it came from (for messages; no credentials),
    ``commit`` is the git commit for git contexts,
    ``dockerfile`` the Dockerfile a URL returned instead of an archive (BuildKit builds that
    file, whatever ``--dockerfile`` names, in a context that holds nothing else).
    """

    root: str
    description: str
    ignore: IgnoreMatcher | None = None
    commit: str | None = None
    dockerfile: str | None = None

    def with_ignore(self, matcher: IgnoreMatcher | None) -> "BuildContext":
        return replace(self, ignore=matcher)

    @property
    def tree(self) -> SourceTree:
        """The source tree COPY/ADD and digests read (ignore matcher applied)."""
        return SourceTree(self.root, self.ignore, label="build context")

    def is_ignored(self, relpath: str) -> bool:
        rel = relpath.strip("/")
        return bool(rel) and self.ignore is not None and self.ignore.matches(rel)

    def path(self, relpath: str) -> str:
        """Host path of a context-relative path, resolved without leaving the context."""
        return rootpath.resolve(self.root, relpath)


def open_context(spec: str | ContextSpec, work_dir: str, *, sub_path: str | None = None,
                 stdin: BinaryIO | None = None, git_options: gitsrc.GitOptions = gitsrc.GitOptions(),
                 git_pull_method: str = "https", keep_git_dir: bool = False, session=None,
                 ignore: IgnoreMatcher | None = None, tls=None) -> BuildContext:
    """Materialise a context; remote/archive contexts are unpacked under ``work_dir``.

    ``stdin`` is the stream for ``tar://stdin`` (the CLI passes ``sys.stdin.buffer``).
    A git context loses its ``.git`` directory unless ``keep_git_dir`` (as in BuildKit).
    ``tls`` (a ``mason.tls.TlsTrust``) is trusted by the download or the git clone.
    """
    parsed = parse_context(spec, git_pull_method=git_pull_method) if isinstance(spec, str) else spec
    commit = dockerfile = None
    if isinstance(parsed, DirSpec):
        root = os.path.abspath(parsed.path)
        if not os.path.isdir(root):
            raise UsageError(f"context directory {parsed.path!r} does not exist or is not a directory")
        desc = root
    else:
        os.makedirs(work_dir, exist_ok=True)
        root = tempfile.mkdtemp(prefix="context-", dir=work_dir)
        if isinstance(parsed, TarSpec):
            desc = _from_tar(parsed, root, work_dir, stdin)
        elif isinstance(parsed, HttpTarSpec):
            desc, dockerfile = _from_http(parsed, root, work_dir, session, tls)
        else:
            commit, desc = _from_git(parsed, root, git_options, tls)
            if not keep_git_dir and os.path.isdir(os.path.join(root, ".git")):
                shutil.rmtree(os.path.join(root, ".git"))
    if sub_path and dockerfile:
        raise UsageError(f"--context-sub-path {sub_path!r}: the context {desc} is a lone Dockerfile")
    if sub_path:
        sub = rootpath.resolve_inroot(root, sub_path)
        full = rootpath.host_path(root, sub)
        if not os.path.isdir(full):
            raise UsageError(f"--context-sub-path {sub_path!r} is not a directory in the context {desc}")
        root, desc = full, f"{desc} (sub-path {sub_path})"
    return BuildContext(root=root, description=desc, ignore=ignore, commit=commit, dockerfile=dockerfile)


def _from_tar(spec: TarSpec, root: str, work_dir: str, stdin: BinaryIO | None) -> str:
    if spec.path is None:
        stream = stdin if stdin is not None else sys.stdin.buffer
        fd, tmp = tempfile.mkstemp(prefix="context-stdin-", dir=work_dir)
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(stream, out, 1 << 20)
            _extract(tmp, root, "standard input")
        finally:
            os.unlink(tmp)
        return "tar archive from standard input"
    path = os.path.abspath(spec.path)
    if not os.path.isfile(path):
        raise UsageError(f"context archive {spec.path!r} does not exist")
    _extract(path, root, spec.path)
    return f"tar archive {spec.path}"


def _extract(path: str, root: str, label: str) -> None:
    if not archive.is_tar_archive(path):
        raise UsageError(f"context {label!r} is not a tar archive (plain, gzip, bzip2, xz or zstd)")
    archive.extract_tar(path, root, "/", label=label)


def _from_http(spec: HttpTarSpec, root: str, work_dir: str, session, tls) -> tuple[str, str | None]:
    """A tarball is unpacked into ``root``; anything else is taken as the Dockerfile (kept
    next to the empty ``root``, so the build's context holds nothing), as BuildKit does for a
    context URL that is not an archive. Returns (description, the Dockerfile or None)."""
    shown = gitsrc.redact_url(spec.url)
    with tempfile.TemporaryDirectory(prefix="context-url-", dir=work_dir) as tmp:
        got = download(spec.url, os.path.join(tmp, "context"), session=session, tls=tls)
        if not archive.is_tar_archive(got.path):
            if _compressed(got.path):
                raise BuildError(f"context URL {shown!r} returned a compressed file that is not a tar archive")
            dockerfile = root.rstrip("/") + ".Dockerfile"
            os.rename(got.path, dockerfile)
            return f"Dockerfile {shown}", dockerfile
        archive.extract_tar(got.path, root, "/", label=shown)
    return f"tarball {shown}", None


def _compressed(path: str) -> bool:
    """gzip, bzip2, xz or zstd magic: a broken archive, never a Dockerfile."""
    with open(path, "rb") as f:
        head = f.read(6)
    return head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x28\xb5\x2f\xfd"))


def _from_git(spec: GitSpec, root: str, options: gitsrc.GitOptions, tls) -> tuple[str, str]:
    src = spec.source
    commit = gitsrc.clone(src, root, options=options, tls=tls)
    desc = f"git repository {src.redacted()} at {commit[:12]}"
    if src.subdir:
        # BuildKit's "#ref:subdir": the subdirectory is the context.
        sub = rootpath.host_path(root, rootpath.resolve_inroot(root, src.subdir))
        if not os.path.isdir(sub):
            raise UsageError(f"git context {src.redacted()!r}: subdirectory {src.subdir!r} not found")
        tmp = tempfile.mkdtemp(prefix="sub-", dir=os.path.dirname(root))
        os.rename(sub, os.path.join(tmp, "s"))
        shutil.rmtree(root)
        os.rename(os.path.join(tmp, "s"), root)
        os.rmdir(tmp)
        desc += f" (subdirectory {src.subdir})"
    return commit, desc
