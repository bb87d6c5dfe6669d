"""The directory a ``RUN --mount=type=cache`` mounts: persistent, per id, shared between
builds on this machine (under ``--cache-dir``), serialised by ``sharing=``.

BuildKit's rules: the id defaults to the target; ``from=`` starts the cache from that stage's
or image's root (a cache of its own per id and origin, as BuildKit keys it by id and input);
``source=`` mounts that path of the cache, which must exist (BuildKit does not create it);
``mode``/``uid``/``gid`` apply to a cache mounted whole (with ``from=``, to a ``/cache``
directory made in it, which is what is then mounted).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import posixpath
import shutil
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from mason.errors import BuildError
from mason.executor.layers import layer_refs_of
from mason.executor.steps.context import StepContext
from mason.fsops import resolve_inroot

if TYPE_CHECKING:   # a --mount names this type; a Dockerfile without one never loads mounts
    from mason.dockerfile.mounts import Mount as MountFlag


def cache_dir(ctx: StepContext, m: MountFlag, target: str, stack: contextlib.ExitStack) -> Path:
    """A persistent cache directory, keyed by id (default: the target), shared between
    builds on this machine; ``sharing=locked`` serialises users with a file lock.

    As in BuildKit: ``from=`` starts the cache from that stage's or image's files (a cache of
    its own per id and origin), ``source=`` mounts that path of the cache (which must exist:
    BuildKit does not create it), and ``mode``/``uid``/``gid`` apply to a fresh cache mounted
    whole (with ``from=``: a ``/cache`` directory made in it, BuildKit's way)."""
    options = ctx.settings.options
    base = Path(options.cache_dir) / "run-cache" if options.cache_dir else ctx.scratch("run-cache")
    cache_id = m.id or target
    origin = cache_origin(ctx, m)
    path = base / hashlib.sha256(cache_id.encode() + (b"\0" + origin.encode() if origin else b"")).hexdigest()[:32]
    if not path.exists():
        _new_cache(ctx, m, path, base)
    sharing = m.sharing or "shared"
    if sharing not in ("shared", "locked", "private"):
        raise BuildError(f"RUN --mount=type=cache: unknown sharing={sharing}")
    # Without mount rights the cache directory is moved into the root for the RUN
    # (mason.sandbox.mountemu), so even "shared" users take turns there.
    moved = ctx.runner().name in ("chroot", "host-root")
    if sharing in ("locked", "private") or moved:
        fd = os.open(str(path) + ".lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        stack.callback(os.close, fd)
        if sharing == "private":
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                # BuildKit: another writer has it, so this RUN gets a fresh instance of its own.
                private = ctx.scratch("run-cache-private") / hashlib.sha256(
                    f"{ctx.step_id}:{target}".encode()).hexdigest()[:16]
                _new_cache(ctx, m, private, private.parent)
                return _cache_subpath(m, private)
        else:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released when the fd closes
    return _cache_subpath(m, path)


def cache_origin(ctx: StepContext, m: MountFlag) -> str | None:
    """What a ``from=`` cache starts from: a stage by its layers, an image by its digest."""
    if not m.from_:
        return None
    stage = ctx.sources.stage(m.from_)
    if stage is not None:
        return "stage:" + hashlib.sha256(" ".join(ref.diff_id for ref in stage.layers).encode()).hexdigest()
    return "image:" + str(ctx.sources.image(m.from_).digest)


def whole_cache(m: MountFlag) -> bool:
    return posixpath.normpath("/" + (m.source or "")) == "/"


def _new_cache(ctx: StepContext, m: MountFlag, path: Path, parent: Path) -> None:
    """Make the cache directory: empty, or a copy of the ``from=`` stage's or image's root;
    made beside its place and renamed there, so a concurrent build never sees half of it."""
    parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=".new-", dir=parent))
    try:
        if m.from_:
            stage = ctx.sources.stage(m.from_)
            layers = stage.layers if stage is not None else layer_refs_of(ctx.sources.image(m.from_))
            with ctx.layers.view(layers) as root:
                fresh.rmdir()
                _copy_tree(Path(root), fresh)
            if whole_cache(m) and (m.mode is not None or m.uid is not None or m.gid is not None):
                made = fresh / "cache"
                if not made.is_dir() or made.is_symlink():
                    made.mkdir()
                os.chmod(made, m.mode if m.mode is not None else 0o755)
                os.chown(made, m.uid or 0, m.gid or 0, follow_symlinks=False)
        elif whole_cache(m):
            os.chmod(fresh, m.mode if m.mode is not None else 0o755)
            os.chown(fresh, m.uid or 0, m.gid or 0)
        else:
            os.chmod(fresh, 0o755)
        try:
            os.rename(fresh, path)
        except OSError:
            if not path.is_dir():
                raise
            shutil.rmtree(fresh)    # another build made it first
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise


def _cache_subpath(m: MountFlag, path: Path) -> Path:
    """The directory of the cache the RUN sees: all of it, ``source=`` in it (resolved inside
    the cache, as BuildKit's RootPath), or, ``from=`` with an owner or mode, its ``/cache``."""
    if whole_cache(m):
        if m.from_ and (m.mode is not None or m.uid is not None or m.gid is not None):
            return path / "cache"
        return path
    inside = resolve_inroot(str(path), m.source or "/")
    host = path / inside.lstrip("/")
    if not host.is_dir():
        where = f"the cache of stage or image {m.from_}" if m.from_ else "the cache"
        raise BuildError(f"RUN --mount=type=cache: source {m.source} is not a directory in {where}",
                         hint="BuildKit mounts that path of the cache and does not create it")
    return host


def _copy_tree(src: Path, dst: Path) -> None:
    """A copy of a stage's or image's root, done in-process (no ``cp`` needed): links as
    links, device nodes and fifos made anew (never opened), sockets left out, owners, modes
    and times kept."""
    for dirpath, dirnames, filenames in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        out_dir = dst if rel == "." else dst / rel
        if rel == ".":
            dst.mkdir()
        for name in [*dirnames, *filenames]:
            s_path, d_path = os.path.join(dirpath, name), os.path.join(out_dir, name)
            st = os.lstat(s_path)
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(s_path), d_path)
            elif stat.S_ISDIR(st.st_mode):
                os.mkdir(d_path)
            elif stat.S_ISREG(st.st_mode):
                shutil.copyfile(s_path, d_path, follow_symlinks=False)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) or stat.S_ISFIFO(st.st_mode):
                os.mknod(d_path, st.st_mode, st.st_rdev)
            else:
                continue    # a socket: nothing to copy
            _same_meta(d_path, st)
        # symlinks to directories are listed in dirnames: os.walk does not descend them
    for dirpath, _dirnames, _ in os.walk(src, topdown=False):
        rel = os.path.relpath(dirpath, src)
        _same_meta(str(dst if rel == "." else dst / rel), os.lstat(dirpath))


def _same_meta(path: str, st: os.stat_result) -> None:
    os.chown(path, st.st_uid, st.st_gid, follow_symlinks=False)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(path, stat.S_IMODE(st.st_mode))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
