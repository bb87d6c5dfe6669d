"""A ``--context`` value as a local directory for the duration of one build.

``mason build`` and ``mason bake`` both need "give me this context as a directory, and make
sure nothing of it is left afterwards". Local directories are used in place (relative to the
directory mason was started in, passed explicitly: mason never changes directory). Every
other kind (tar file, tar on stdin, git, tarball URL) is unpacked by ``open_context`` into a
private ``mason-context-*`` directory that is removed when the ``with`` block ends, whether
the build succeeded or not: a CI job that builds several images must not find the previous
image's context on disk (the directory-reuse mistake behind Kaniko's leaks).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Mapping

from mason.fetch.git import GitOptions
from mason.context.spec import DirSpec, TarSpec, parse_context
from mason.errors import BuildError, UsageError

SCRATCH_PREFIX = "mason-context-"


def _local_dir(path: str, raw: str, sub_path: str | None, cwd: Path) -> Path:
    base = Path(os.path.normpath(cwd / path))
    if not base.is_dir():
        raise UsageError(f"--context {raw!r}: {base} is not a directory")
    if sub_path:
        target = Path(os.path.normpath(base / sub_path))
        if target != base and base not in target.parents:
            raise UsageError(f"--context-sub-path {sub_path!r} leaves the context {base}")
        if not target.is_dir():
            raise UsageError(f"--context-sub-path {sub_path!r}: {target} is not a directory")
        base = target
    return base


@contextlib.contextmanager
def context_directory(raw: str, **kw) -> Iterator[Path]:
    """Yield the context ``raw`` names as a directory (``scoped_context``'s root)."""
    with scoped_context(raw, **kw) as context:
        yield context.root


@dataclass(frozen=True)
class ScopedContext:
    """A build context ready on disk for the build's lifetime."""

    root: Path
    dockerfile: Path | None = None     # a URL that returned a Dockerfile, not an archive


@contextlib.contextmanager
def scoped_context(raw: str, *, cwd: Path, env: Mapping[str, str], scratch_parent: Path | None = None,
                   sub_path: str | None = None, stdin: BinaryIO | None = None,
                   git_options: GitOptions = GitOptions(), tls=None) -> Iterator[ScopedContext]:
    """Yield the context ``raw`` names as a directory; fetched contexts vanish on exit.

    ``env`` supplies ``GIT_PULL_METHOD`` (Kaniko's git:// transport, https by default) and
    ``TMPDIR`` (where fetched contexts are unpacked unless ``scratch_parent`` is given).
    ``tls`` (a ``mason.tls.TlsTrust``) is what https:// and git-over-HTTPS contexts trust.
    """
    spec = parse_context(raw, git_pull_method=env.get("GIT_PULL_METHOD") or "https")
    if isinstance(spec, DirSpec):
        yield ScopedContext(_local_dir(spec.path, raw, sub_path, cwd))
        return
    if isinstance(spec, TarSpec) and spec.path is not None:
        spec = TarSpec(os.path.normpath(cwd / spec.path))   # relative to where mason was started
    if isinstance(spec, TarSpec) and spec.path is None and stdin is None:
        raise UsageError(f"--context {raw!r}: no standard input to read the context from")
    from mason.context.build_context import open_context  # Local: a directory context never fetches

    parent = scratch_parent if scratch_parent is not None else Path(env.get("TMPDIR") or "/tmp")
    parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=parent))
    failed = True
    try:
        context = open_context(spec, str(scratch), sub_path=sub_path or None, stdin=stdin,
                               git_options=git_options, tls=tls)
        yield ScopedContext(Path(context.root), Path(context.dockerfile) if context.dockerfile else None)
        failed = False
    finally:
        try:
            shutil.rmtree(scratch)
        except OSError as exc:
            if not failed:   # never hide the build's own error behind a cleanup error
                raise BuildError(f"cannot remove the unpacked context {scratch}: {exc.strerror}") from None
