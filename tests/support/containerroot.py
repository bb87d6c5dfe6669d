"""A throw-away container root for host-root tests: never the test machine's own ``/``.

``make_container_root(dest)`` gives a directory shaped like a CI job container's root: a
busybox userland (the "job image"), mason's runtime self-contained under ``/kaniko`` (this
test interpreter's CPython, its stdlib and mason's dependencies, the C libraries and the
loader they need, ``patchelf``-ed to find them there: what mason's own image ships), the
``/.dockerenv`` marker, and empty mount points for what the harness mounts as Docker would
(``/proc``, ``/sys``, ``/dev``, ``/etc/resolv.conf``, ``/etc/hosts``, the CI volume ``/builds``). ``tests.support.unpriv.run_in_container`` then runs a command with that
directory as ``/``, Docker's default capabilities and seccomp.

The runtime is assembled once per machine under ``/var/tmp`` (keyed by the interpreter) and
hard-linked into each container root (mason never writes to its runtime); mason's package, the
worktree's current sources, is copied into each root.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.busyroot import make_busybox_root

REPO = Path(__file__).resolve().parents[2]
RUNTIME = "/kaniko"           # where the runtime lives inside the container root
PYTHON = f"{RUNTIME}/bin/python3"
_SKIP_STDLIB = {"test", "site-packages", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3",
                "__pycache__", "config-3.11-x86_64-linux-gnu", "pydoc_data"}
_DEPS = ("requests", "isal", "zstandard", "libarchive", "ruamel", "certifi", "charset_normalizer",
         "idna", "urllib3", "_ruamel_yaml.cpython-311-x86_64-linux-gnu.so")


def _ldd(path: str) -> set[str]:
    out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
    found = set()
    for line in out.splitlines():
        parts = line.split()
        if "=>" in parts and len(parts) > parts.index("=>") + 1 and parts[parts.index("=>") + 1].startswith("/"):
            found.add(parts[parts.index("=>") + 1])
        elif parts and parts[0].startswith("/"):
            found.add(parts[0])
    return found


def _key() -> str:
    h = hashlib.sha256(f"{sys.base_prefix} {sys.version} {Path(__file__).read_bytes()!r}".encode())
    return h.hexdigest()[:16]


def runtime_template() -> Path:
    """The assembled runtime (a directory to be placed at /kaniko), built once."""
    base = Path(f"/var/tmp/mason-test-runtime-{_key()}")
    done = base / ".complete"
    if done.exists():
        return base / "kaniko"
    base.mkdir(parents=True, exist_ok=True)
    with open(base / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return base / "kaniko"
        _build_runtime(base / "kaniko")
        done.touch()
    return base / "kaniko"


def _build_runtime(dest: Path) -> None:
    shutil.rmtree(dest, ignore_errors=True)
    prefix = Path(sys.base_prefix)
    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    (dest / "bin").mkdir(parents=True)
    (dest / "lib").mkdir()
    shutil.copy2(prefix / "bin" / ver, dest / "bin" / "python3")
    stdlib = dest / "lib" / ver
    shutil.copytree(prefix / "lib" / ver, stdlib, ignore=lambda d, names: [n for n in names if n in _SKIP_STDLIB]
                    if d == str(prefix / "lib" / ver) else [n for n in names if n == "__pycache__"])
    site = stdlib / "site-packages"
    site.mkdir()
    venv_site = Path(sys.prefix) / "lib" / ver / "site-packages"
    for name in _DEPS:
        src = venv_site / name
        if src.is_dir():
            shutil.copytree(src, site / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, site / name)
    # C libraries: the interpreter's, every extension module's, and libarchive (ctypes-loaded).
    libarchive = next(p for p in ("/usr/lib/x86_64-linux-gnu/libarchive.so.13", "/usr/lib/aarch64-linux-gnu/libarchive.so.13")
                      if os.path.exists(p))
    objects = [str(dest / "bin" / "python3"), libarchive,
               *[str(p) for p in dest.rglob("*.so")], *[str(p) for p in dest.rglob("*.so.*")]]
    libs: set[str] = {libarchive}
    for obj in objects:
        libs |= _ldd(obj)
    loader = ""
    for lib in sorted(libs):
        target = dest / "lib" / os.path.basename(lib)
        if "ld-linux" in lib:
            loader = str(Path(RUNTIME) / "lib" / os.path.basename(lib))
        if not target.exists():
            shutil.copy2(os.path.realpath(lib), target)
    subprocess.run(["patchelf", "--set-interpreter", loader, "--force-rpath", "--set-rpath", f"{RUNTIME}/lib",
                    str(dest / "bin" / "python3")], check=True)
    # Each library's own RUNPATH would win over the interpreter's RPATH for its dependencies.
    for obj in [*(dest / "lib").glob("*.so*"), *dest.rglob("*.cpython-*.so")]:
        if "ld-linux" not in obj.name and not obj.is_symlink():
            subprocess.run(["patchelf", "--force-rpath", "--set-rpath", f"{RUNTIME}/lib", str(obj)],
                           check=False, capture_output=True)
    # Byte-compile now: the runtime is never written to at run time.
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "2", str(stdlib)], check=False,
                   capture_output=True)


def make_container_root(dest: Path) -> Path:
    """A fresh container root at ``dest`` (see the module docstring)."""
    make_busybox_root(dest)
    runtime = runtime_template()
    subprocess.run(["cp", "-al", str(runtime), str(dest / RUNTIME.lstrip("/"))], check=True)
    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    shutil.copytree(REPO / "src" / "mason", dest / RUNTIME.lstrip("/") / "lib" / ver / "site-packages" / "mason",
                    ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(dest / RUNTIME.lstrip("/"))], check=False,
                   capture_output=True)     # as an image would ship it: never written at run time
    (dest / ".dockerenv").touch()
    for d in ("proc", "sys", "dev", "builds", "workspace"):
        (dest / d).mkdir(exist_ok=True)
    for f in ("etc/resolv.conf", "etc/hosts"):
        (dest / f).touch()
    return dest


def container_env(**extra: str) -> dict[str, str]:
    """The job's environment: what mason's image sets, nothing of the test machine's."""
    env = {"PATH": f"{RUNTIME}/bin:/usr/local/bin:/usr/bin:/bin", "HOME": "/root",
           "LIBARCHIVE": f"{RUNTIME}/lib/libarchive.so.13", "PYTHONDONTWRITEBYTECODE": "1"}
    env.update(extra)
    return env


class Container:
    """One CI job container: a root made by :func:`make_container_root` and its volume
    ``/builds`` (the host directory ``builds``), in which ``mason build`` is run repeatedly."""

    def __init__(self, tmp: Path, base_layout: str | None = None):
        self.root = make_container_root(tmp / "root")
        self.builds = tmp / "builds"
        self.builds.mkdir()
        if base_layout:
            shutil.copytree(base_layout, self.builds / "base", symlinks=True)

    def mason_argv(self, *args: str) -> list[str]:
        return [PYTHON, "-m", "mason", "build", "--progress=plain", *args]

    def build(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        from tests.support.unpriv import run_in_container

        return run_in_container(self.root, self.mason_argv(*args), env=container_env(),
                                binds=[(str(self.builds), "/builds")], timeout=timeout)

    def popen(self, *args: str) -> subprocess.Popen:
        """``mason build`` started in the container (its pid is mason's: the harness execs it);
        its log and the RUNs' output both come on ``stdout``."""
        from tests.support.unpriv import container_argv

        argv = container_argv(self.root, self.mason_argv(*args), binds=[(str(self.builds), "/builds")])
        return subprocess.Popen(argv, env=container_env(), text=True, start_new_session=True,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def context(self, name: str, dockerfile: str, files: dict[str, str] | None = None) -> str:
        """A build context on the volume; returns its path inside the container."""
        ctx = self.builds / name
        ctx.mkdir(parents=True)
        (ctx / "Dockerfile").write_text(dockerfile)
        for rel, text in (files or {}).items():
            (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
            (ctx / rel).write_text(text)
        return f"/builds/{name}"

    def listing(self) -> dict[str, tuple]:
        """The container root as the test machine sees it (its mounts are not there), without
        mason's state dir: path -> (type+mode, uid, gid, size and mtime of non-directories, link target)."""
        out = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            for name in dirnames + filenames:
                p = Path(dirpath) / name
                rel = str(p.relative_to(self.root))
                if rel == ".mason-hostroot" or rel.startswith(".mason-hostroot/"):
                    continue
                st = os.lstat(p)
                plain = not os.path.isdir(p) or os.path.islink(p)
                out[rel] = (st.st_mode, st.st_uid, st.st_gid, st.st_size if plain else 0,
                            st.st_mtime_ns if plain else 0, os.readlink(p) if os.path.islink(p) else None)
            dirnames[:] = [d for d in dirnames if d != ".mason-hostroot"]
        return out
