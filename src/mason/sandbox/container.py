"""Is this process inside a container, and what of ``/`` belongs to mason rather than to a build?

Host-root isolation (docs/unprivileged.md) builds in the container's own ``/``, as Kaniko does.
That is only acceptable where ``/`` is a throw-away container root, and only possible when
mason's own runtime survives a base image being unpacked over ``/``. Both are decided here.

Container detection follows Kaniko's executor (its ``checkContained``, through
genuinetools' ``proc.GetContainerRuntime``): a runtime name in ``/proc/self/cgroup``, the
OpenVZ ``/proc/vz`` without ``/proc/bc``, the ``container`` environment variable, and
``/run/systemd/container``; plus the marker files Docker and Podman write (``/.dockerenv``,
``/run/.containerenv``) and an overlay root filesystem in ``/proc/self/mountinfo`` next to
bind-mounted ``/etc/hostname`` (what every OCI runtime sets up). The first hint found is the
reason stated in the build log.

mason's runtime is derived from the running process, never from a fixed list: the
interpreter (``sys.executable``), its prefixes, the ``sys.path`` entries holding imported
modules (mason's own package among them), and every file mapped into the process
(``/proc/self/maps``: the loader, libc, extension modules, ctypes-loaded libraries). Each is
kept whole from its shallowest ancestor that is not a shared system directory (``/usr``,
``/lib``...: those belong to the images being built). A runtime file directly inside a shared
system directory (``/lib/x86_64-linux-gnu/libc.so.6``) cannot be kept apart from a build, so
host-root isolation is refused there and the reason names the file.
"""

from __future__ import annotations

import os
import sys
from typing import Mapping

from mason.tarfs.compress import CODEC_PACKAGES, load_codecs
from mason.tarfs.reader import libarchive, libarchive_file

_RUNTIMES = ("docker", "lxc", "kubepods", "containerd", "libpod", "podman", "garden", "crio",
             "rkt", "nspawn", "buildkit", "actions_job")

# Directories base images own: runtime files must live in a directory of their own below them.
SHARED_DIRS = frozenset({
    "/", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/usr", "/usr/bin", "/usr/sbin",
    "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libx32", "/usr/local", "/usr/local/bin",
    "/usr/local/sbin", "/usr/local/lib", "/usr/share", "/usr/include", "/usr/libexec", "/etc",
    "/var", "/var/lib", "/var/cache", "/var/tmp", "/opt", "/tmp", "/root", "/home", "/run", "/srv",
    "/mnt", "/media", "/boot", "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib/locale",
})


def container_hint(env: Mapping[str, str] | None = None, *, proc: str = "/proc",
                   root: str = "/") -> str | None:
    """Why this process looks containerised (the first hint found), or None."""
    env = os.environ if env is None else env
    cgroup = _read(f"{proc}/self/cgroup")
    for name in _RUNTIMES:
        if name in cgroup:
            return f"/proc/self/cgroup names {name}"
    if os.path.exists(f"{proc}/vz") and not os.path.exists(f"{proc}/bc"):
        return "OpenVZ (/proc/vz without /proc/bc)"
    if env.get("container"):
        return f"container={env['container']} in the environment"
    systemd = _read(os.path.join(root, "run/systemd/container")).strip()
    if systemd:
        return f"/run/systemd/container says {systemd}"
    for marker in (".dockerenv", "run/.containerenv"):
        if os.path.exists(os.path.join(root, marker)):
            return f"/{marker} exists"
    try:
        from mason.sandbox.linux import mount_table

        table = mount_table(f"{proc}/self/mountinfo")
    except (OSError, ValueError):
        return None
    points = {m.point: m.fstype for m in table}
    if points.get("/") == "overlay" and "/etc/hostname" in points:
        return "an overlay root with /etc/hostname mounted (/proc/self/mountinfo)"
    return None


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def runtime_files() -> set[str]:
    """Absolute paths the running mason needs: interpreter, prefixes, import roots, mapped files."""
    import mason

    map_lazy_libraries()

    real = _Realpaths()
    paths = {real(sys.executable)}
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        paths.add(real(prefix))
    entries = sorted({real(p) for p in sys.path if p and os.path.isabs(p)}, key=len, reverse=True)
    used = {real(os.path.dirname(mason.__file__))}
    for module in list(sys.modules.values()):
        where = getattr(module, "__file__", None)
        if where and os.path.isabs(where):
            resolved = real(where)
            used.add(next((e for e in entries if resolved.startswith(e + "/")), resolved))
    paths |= used
    paths |= mapped_files(real=real)
    return paths


def map_lazy_libraries() -> None:
    """Map the shared objects a build loads lazily (libarchive through ctypes, the native
    codecs' extension modules), and so every library they need, without importing their
    Python side: the imports cost ~0.04 s of a start (``ctypes.util``, ``platform``, the
    wrappers), which a build whose steps are all cached never needs. The later import opens
    the same files, which the dynamic linker finds already loaded."""
    if not _dlopen_all(_lazy_objects()):
        # dlopen refused one (a library missing, a symbol only the import resolves): the real
        # loads instead, so their files are mapped, or their error is this build's.
        libarchive()
        load_codecs()


def _lazy_objects() -> list[str | None]:
    import importlib.util
    from importlib.machinery import EXTENSION_SUFFIXES

    objects = [libarchive_file()]
    for package in CODEC_PACKAGES:
        spec = importlib.util.find_spec(package)
        places = (spec.submodule_search_locations or []) if spec else []
        found = [os.path.join(where, name) for where in places for name in sorted(os.listdir(where))
                 if name.endswith(tuple(EXTENSION_SUFFIXES))]
        objects += found or [None]
    return objects


def _dlopen_all(objects: list[str | None]) -> bool:
    import ctypes

    for path in objects:
        if path is None:
            return False
        try:
            ctypes.CDLL(path)
        except OSError:
            return False
    return True


class _Realpaths:
    """``os.path.realpath``, resolving each directory once: a build has ~400 modules in a few
    dozen directories, and a full ``realpath`` per file (one ``lstat`` per path component, in
    Python) cost ~0.1 s of every build's start in a container."""

    def __init__(self) -> None:
        self._dirs: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        head, tail = os.path.split(path)
        if not head or tail in ("", ".", "..") or os.path.islink(path):
            return os.path.realpath(path)
        resolved = self._dirs.get(head)
        if resolved is None:
            resolved = self._dirs[head] = os.path.realpath(head)
        return os.path.join(resolved, tail)


# Locale data mapped by setlocale: not needed to start mason's helpers (they run in the C
# locale), and a mapping outlives the file being replaced (files are always unlinked first).
_DATA_ONLY = ("/usr/lib/locale/", "/usr/lib/x86_64-linux-gnu/gconv/", "/usr/lib/aarch64-linux-gnu/gconv/")


def mapped_files(maps: str = "/proc/self/maps", *, real=os.path.realpath) -> set[str]:
    out = set()
    names = set()
    for line in _read(maps).splitlines():
        parts = line.split(None, 5)
        if len(parts) == 6 and parts[5].startswith("/") and not parts[5].endswith(" (deleted)"):
            names.add(parts[5])          # a file is mapped several times (text, data, bss)
    for name in names:
        resolved = real(name)
        if os.path.exists(resolved) and not resolved.startswith(_DATA_ONLY):
            out.add(resolved)
    return out


def kept_root(path: str) -> str | None:
    """The directory to keep whole for ``path``: its shallowest ancestor (or itself) that is not a
    shared system directory; None when ``path``'s own parent is one (nothing of its own to keep)."""
    parts = path.strip("/").split("/")
    for depth in range(1, len(parts) + 1):
        candidate = "/" + "/".join(parts[:depth])
        if candidate not in SHARED_DIRS:
            if depth == len(parts) and os.path.dirname(candidate) in SHARED_DIRS and not os.path.isdir(candidate):
                return None      # a lone file in a system directory
            return candidate
    return None


def runtime_roots(files: set[str] | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(directories that hold mason's runtime, runtime files that cannot be kept apart)."""
    files = runtime_files() if files is None else files
    roots, loose = set(), []
    for path in sorted(files):
        root = kept_root(path)
        if root is None or root == "/":
            loose.append(path)
        else:
            roots.add(root)
    # Drop roots nested in other roots.
    ordered = sorted(roots, key=len)
    kept: list[str] = []
    for r in ordered:
        if not any(r == k or r.startswith(k + "/") for k in kept):
            kept.append(r)
    return tuple(kept), tuple(loose)
