"""Wheels of mason and its dependencies, made offline from what this checkout has installed.

mason's image installs mason with pip from wheels in the build context (``dist/``), so a
build needs no package index. The tests make those wheels without any network:

* each dependency is repacked from its installed files (the distribution's RECORD lists
  them, its WHEEL file keeps the original tags, e.g. ``cp311-cp311-manylinux_2_17_x86_64``),
  so the image gets exactly the versions the tests run with;
* mason itself (an editable install here) is packed from ``src/`` and ``pyproject.toml``.

Only pure files under site-packages are taken: console scripts (``../../bin/…``) and byte
code caches are left out, and RECORD is written anew with the hashes of what was packed.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import re
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(req: str) -> str | None:
    """The distribution a ``Requires-Dist`` line names, or None if it has an extra/marker."""
    if ";" in req:
        return None          # environment markers / extras: not needed on Linux CPython 3.11 here
    return re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", req.strip()).group(0)


def closure(names: list[str]) -> list[importlib.metadata.Distribution]:
    """The installed distributions ``names`` need, transitively (sorted by name)."""
    seen: dict[str, importlib.metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = _normalize(todo.pop())
        if name in seen:
            continue
        dist = importlib.metadata.distribution(name)
        seen[name] = dist
        todo += [n for n in map(_requirement_name, dist.requires or ()) if n]
    return [seen[k] for k in sorted(seen)]


def _record(files: dict[str, bytes], info: str) -> bytes:
    lines = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{path},sha256={digest},{len(data)}")
    lines.append(f"{info}/RECORD,,")
    return ("\n".join(lines) + "\n").encode()


def _write(dest: Path, filename: str, files: dict[str, bytes], info: str) -> Path:
    files[f"{info}/RECORD"] = _record(files, info)
    wheel = dest / filename
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(files):
            zf.writestr(path, files[path])
    return wheel


def repack(dist: importlib.metadata.Distribution, dest: Path) -> Path:
    """A wheel of the installed distribution ``dist``, written into ``dest``."""
    info = next(str(f).split("/")[0] for f in dist.files if str(f).split("/")[0].endswith(".dist-info"))
    tags = [line.split(":", 1)[1].strip() for line in (dist.read_text("WHEEL") or "").splitlines()
            if line.startswith("Tag:")]
    if not tags:
        raise RuntimeError(f"{dist.metadata['Name']}: installed without a WHEEL file, cannot repack")
    files: dict[str, bytes] = {}
    for file in dist.files:
        name = str(file)
        if name.startswith("..") or "__pycache__" in file.parts or name.endswith((".pyc", "/RECORD", "INSTALLER",
                                                                                      "direct_url.json")):
            continue
        src = Path(dist.locate_file(file))
        if src.is_file():
            files[name] = src.read_bytes()
    stem = info[:-len(".dist-info")]
    # the file name carries every tag, compressed as wheel names do (py.py-abi-plat.plat)
    compressed = {"py": sorted({t.split("-")[0] for t in tags}), "abi": sorted({t.split("-")[1] for t in tags}),
                  "plat": sorted({t.split("-")[2] for t in tags})}
    filename = f"{stem}-{'.'.join(compressed['py'])}-{'.'.join(compressed['abi'])}-{'.'.join(compressed['plat'])}.whl"
    return _write(dest, filename, files, info)


def mason_wheel(dest: Path, src: Path = REPO / "src") -> Path:
    """A py3-none-any wheel of this checkout's mason (from ``src``, by default its src/, and
    pyproject.toml)."""
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    name, version = meta["name"], meta["version"]
    info = f"{name}-{version}.dist-info"
    files: dict[str, bytes] = {}
    for path in sorted((src / "mason").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files[str(path.relative_to(src))] = path.read_bytes()
    files[f"{info}/METADATA"] = ("Metadata-Version: 2.1\n" f"Name: {name}\nVersion: {version}\n"
                                 + "".join(f"Requires-Dist: {d}\n" for d in meta["dependencies"])).encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: mason-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{info}/entry_points.txt"] = ("[console_scripts]\n" + "".join(
        f"{k} = {v}\n" for k, v in meta["scripts"].items())).encode()
    return _write(dest, f"{name}-{version}-py3-none-any.whl", files, info)


def mason_wheels(dest: Path, src: Path = REPO / "src") -> list[Path]:
    """mason's wheel (of ``src``) and one for each installed dependency, in ``dest`` (made if missing)."""
    dest.mkdir(parents=True, exist_ok=True)
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = closure([n for n in map(_requirement_name, meta["dependencies"]) if n])
    return [mason_wheel(dest, src), *(repack(d, dest) for d in deps)]
