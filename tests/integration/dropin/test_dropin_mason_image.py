"""mason builds its own image (the repository's Dockerfile) and the result is checked with umoci.

No network: the Dockerfile's BASE is a "python image" this test makes from the interpreter
running it (its prefix under /usr/local, trimmed, the C libraries ``ldd`` names, busybox for
the shell), and mason goes in as a wheel the test writes (``MASON_SPEC``), with its
dependencies already in the base's site-packages (``PIP_OPTIONS=--no-index``). The build
stage runs ``/mason/bin/mason version`` and the test runs ``/kaniko/executor --help`` in the
unpacked image, so the runtime under /mason really works.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
DEPS = ("requests", "urllib3", "idna", "certifi", "charset-normalizer", "isal", "zstandard", "libarchive-c",
        "ruamel.yaml", "pip")
STDLIB_SKIP = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "__pycache__", "site-packages",
               "pydoc_data", "unittest"}
# extension modules mason and pip never load (and whose libraries would bloat the base)
STDLIB_SKIP_PREFIX = ("config-", "_tkinter", "_curses", "readline", "_dbm", "_gdbm", "nis", "_sqlite3",
                      "_test", "xxlimited", "_xxtest", "_ctypes_test")


def _copy_libs(binaries: list[Path], rootfs: Path) -> None:
    """The shared libraries ``ldd`` resolves for ``binaries``, at their host paths."""
    wanted: set[str] = set()
    for chunk in range(0, len(binaries), 50):
        out = subprocess.run(["ldd", *map(str, binaries[chunk:chunk + 50])], capture_output=True, text=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if "=>" in parts and len(parts) > parts.index("=>") + 1 and parts[parts.index("=>") + 1].startswith("/"):
                wanted.add(parts[parts.index("=>") + 1])
            elif parts and parts[0].startswith("/") and "ld-linux" in parts[0]:
                wanted.add(parts[0])
    for lib in wanted:
        if "libpython" in lib:
            continue
        dest = rootfs / lib.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.realpath(lib), dest)


def python_base(tmp: Path) -> Path:
    from tests.support.images import _add_tar_layer, _new_image, busybox_rootfs

    rootfs = tmp / "base-rootfs"
    busybox_rootfs(str(rootfs))
    prefix = Path(sys.base_prefix)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    local = rootfs / "usr" / "local"
    (local / "bin").mkdir(parents=True)
    shutil.copy2(prefix / "bin" / version, local / "bin" / version)
    os.symlink(version, local / "bin" / "python3")
    (local / "lib").mkdir(parents=True)
    ldlibrary = sysconfig.get_config_var("INSTSONAME")   # libpython3.11.so.1.0 when shared, else a .a
    if ldlibrary and ".so" in ldlibrary:
        shutil.copy2(Path(sysconfig.get_config_var("LIBDIR")) / ldlibrary, local / "lib" / ldlibrary)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    shutil.copytree(stdlib, local / "lib" / version,
                    ignore=lambda d, names: [n for n in names if n in STDLIB_SKIP or n.startswith(STDLIB_SKIP_PREFIX)])
    site = local / "lib" / version / "site-packages"
    site.mkdir()
    binaries = [local / "bin" / version, *(local / "lib" / version / "lib-dynload").glob("*.so")]
    for name in DEPS:
        dist = importlib.metadata.distribution(name)
        for file in dist.files or ():
            src = Path(dist.locate_file(file))
            if src.is_file() and "__pycache__" not in file.parts and not str(file).startswith(".."):
                (site / file).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, site / file)
                if src.suffix == ".so":
                    binaries.append(site / file)
    _copy_libs(binaries, rootfs)
    # debug symbols are most of some extension modules' size (zstandard's is 20 MB)
    subprocess.run(["strip", "--strip-debug", *map(str, binaries)], check=True, capture_output=True)
    layout = tmp / "python-base"
    tar = tmp / "base.tar"
    subprocess.run(["tar", "-C", str(rootfs), "--numeric-owner", "--owner=0", "--group=0", "-cf", str(tar), "."],
                   check=True)
    _new_image(str(layout), "latest")
    _add_tar_layer(str(layout), "latest", str(tar))
    return layout


def mason_wheel(dist: Path) -> Path:
    """A py3-none-any wheel of this checkout's mason, written by hand (no build tools needed)."""
    import tomllib

    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    name, version = meta["name"], meta["version"]
    info = f"{name}-{version}.dist-info"
    files: dict[str, bytes] = {}
    for path in sorted((REPO / "src" / "mason").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files[str(path.relative_to(REPO / "src"))] = path.read_bytes()
    files[f"{info}/METADATA"] = ("Metadata-Version: 2.1\n" f"Name: {name}\nVersion: {version}\n"
                                 + "".join(f"Requires-Dist: {d}\n" for d in meta["dependencies"])).encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: mason-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{info}/entry_points.txt"] = ("[console_scripts]\n" + "".join(
        f"{k} = {v}\n" for k, v in meta["scripts"].items())).encode()
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    dist.mkdir(parents=True)
    wheel = dist / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel


def context(tmp: Path) -> Path:
    ctx = tmp / "ctx"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, ctx / name) if ctx.is_dir() else (ctx.mkdir(), shutil.copy2(REPO / name, ctx / name))
    shutil.copytree(REPO / "src", ctx / "src", ignore=ignore)
    shutil.copytree(REPO / "ci", ctx / "ci", ignore=ignore)
    shutil.copytree(REPO / "tests" / "support", ctx / "tests" / "support", ignore=ignore)  # must stay out
    return ctx


def test_mason_builds_its_own_image(tmp_path):
    base = python_base(tmp_path)
    ctx = context(tmp_path)
    wheel = mason_wheel(ctx / "dist")
    out = tmp_path / "image"
    env = {"PATH": os.environ["PATH"], "CI": "true", "TMPDIR": str(tmp_path), "HOME": str(tmp_path),
           "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run([sys.executable, "-m", "mason", "build", "--context", str(ctx), "--no-push",
                           f"--oci-layout-path={out}", f"--build-arg=BASE=oci:{base}:latest",
                           "--build-arg=PIP_OPTIONS=--no-index",
                           f"--build-arg=MASON_SPEC=/mason-src/dist/{wheel.name}"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "mason 0.1.0" in proc.stdout + proc.stderr          # the build stage ran /mason/bin/mason version

    subprocess.run(["umoci", "unpack", "--image", f"{out}:latest", str(tmp_path / "bundle")], check=True,
                   capture_output=True)
    root = tmp_path / "bundle" / "rootfs"
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert (root / "mason/bin/python3").exists() and (root / "mason/bin/mason").is_file()
    assert (root / f"mason/lib/{version}/os.py").is_file()                       # the runtime's stdlib
    assert (root / f"mason/lib/{version}/site-packages/mason/cli/main.py").is_file()
    assert (root / f"mason/lib/{version}/site-packages/requests/__init__.py").is_file()
    assert os.stat(root / "kaniko/executor").st_mode & 0o777 == 0o755
    assert (root / "kaniko/executor").read_text() == (REPO / "ci/image/executor").read_text()
    assert (root / "kaniko/.docker").is_dir() and not any((root / "kaniko/.docker").iterdir())
    assert not (root / "mason-src").exists()                                      # only in the build stage
    assert not (root / "tests").exists() and not (root / "mason-src").exists()

    config = json.loads((tmp_path / "bundle" / "config.json").read_text())       # the runtime spec umoci made
    env_list = config["process"]["env"]
    assert "DOCKER_CONFIG=/kaniko/.docker" in env_list
    path = next(e for e in env_list if e.startswith("PATH=")).split("=", 1)[1].split(":")
    assert path[0] == "/mason/bin"
    assert config["process"]["args"][0] == "/kaniko/executor"

    # The image's own executor works: chroot into it with the image's environment.
    run = subprocess.run(["chroot", str(root), "/kaniko/executor", "--help"], capture_output=True, text=True,
                         env=dict(e.split("=", 1) for e in env_list), timeout=60)
    assert run.returncode == 0, run.stderr
    assert "--destination" in run.stdout and "mason executor" in run.stdout
