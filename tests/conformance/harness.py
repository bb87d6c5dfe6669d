"""Run one conformance case: write its context, build it with mason, check the image.

A case (one entry of a ``cases/*.yml`` list) is data only:

``name``            unique within its file
``buildkit``        the BuildKit frontend test it is ported from (moby/buildkit v0.11.6)
``dockerfile``      the Dockerfile; ``{base}`` / ``{base:TAG}`` name the busybox test image
                    (tags in ``bases.VARIANTS``), ``{bases}`` its layout
``dockerfile_name`` where to write it (default ``Dockerfile``); ``dockerfile_path`` passes it
                    explicitly as ``--dockerfile``
``files``           context files: path -> text, or a mapping with ``content``, ``mode``,
                    ``symlink`` (a target), ``dir: true``, ``tar`` (name -> text or ``{symlink: target}``, a tar file),
                    ``socket: true``
``args``, ``target``, ``options``  build arguments, ``--target``, other ``BuildOptions`` fields
``config``          expected fields of the image config's ``config`` object; a dotted key
                    reaches into a mapping (``Labels.foo``); ``null`` means absent or empty
``image``           expected top-level config fields (``os``, ``architecture``, ``created``…)
``expect``          path -> expected file: text (the exact content) or a mapping with
                    ``content``, ``contains``, ``mode`` (octal text), ``uid``, ``gid``,
                    ``type`` (file/dir/symlink), ``target``
``history``         the stage's history entries (the last ones): ``contains``, ``empty_layer``
``history_lacks``   text no history entry's ``created_by`` may contain
``absent``          paths that must not exist in the image
``error``           text (or list of texts) the build's error message must contain
``known_failure``   why mason does not match BuildKit yet: the case runs as a strict xfail,
                    so fixing it makes the suite fail until the marker is removed
"""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import subprocess
import tarfile
from pathlib import Path

from mason.errors import MasonError
from mason.executor.events import CollectingReporter
from mason.executor.executor import run_build
from mason.executor.options import BuildOptions

KINDS = {"file": stat.S_ISREG, "dir": stat.S_ISDIR, "symlink": stat.S_ISLNK}


def render(text: str, base_layout: str) -> str:
    """``{base}`` -> the busybox image, ``{base:TAG}`` -> one of its variants, ``{bases}`` ->
    ``oci:LAYOUT`` (for a tag built from an argument: ``FROM {bases}:busy$a``)."""
    for tag in ("workdir", "user", "env"):
        text = text.replace("{base:%s}" % tag, f"oci:{base_layout}:{tag}")
    return text.replace("{base}", f"oci:{base_layout}:latest").replace("{bases}", f"oci:{base_layout}")


def write_context(case: dict, ctx: Path, base_layout: str) -> Path | None:
    ctx.mkdir(parents=True)
    dockerfile = None
    if "dockerfile" in case:
        dockerfile = ctx / case.get("dockerfile_name", "Dockerfile")
        dockerfile.parent.mkdir(parents=True, exist_ok=True)
        dockerfile.write_text(render(case["dockerfile"], base_layout))
    for name, spec in (case.get("files") or {}).items():
        path = ctx / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(spec, str):
            path.write_text(render(spec, base_layout))
            continue
        if spec.get("dir"):
            path.mkdir(exist_ok=True)
        elif "symlink" in spec:
            os.symlink(spec["symlink"], path)
        elif "tar" in spec:
            with tarfile.open(path, "w:gz" if name.endswith("gz") else "w") as tar:
                for member, text in spec["tar"].items():
                    info = tarfile.TarInfo(member)
                    info.mode, info.mtime = 0o644, 1_600_000_000
                    if isinstance(text, dict):      # {symlink: target}
                        info.type, info.linkname = tarfile.SYMTYPE, text["symlink"]
                        tar.addfile(info)
                        continue
                    data = text.encode()
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        elif spec.get("socket"):
            sock = socket.socket(socket.AF_UNIX)
            sock.bind(str(path))
            sock.close()
        else:
            path.write_text(spec.get("content", ""))
        if "mode" in spec:
            os.chmod(path, int(str(spec["mode"]), 8))
    return dockerfile if case.get("dockerfile_path") else None


def build_case(case: dict, tmp: Path, base_layout: str):
    """Build the case; returns (layout path, None) or (None, the MasonError raised)."""
    ctx = tmp / "ctx"
    dockerfile = write_context(case, ctx, base_layout)
    out = tmp / "out"
    options = dict(case.get("options") or {})
    args = {k: render(str(v), base_layout) for k, v in (case.get("args") or {}).items()}
    opts = BuildOptions(context_dir=ctx, dockerfile=dockerfile, no_push=True, oci_layout_path=out,
                        work_root=tmp / "work", build_args=args, target=case.get("target"),
                        **options)
    try:
        run_build(opts, reporter=CollectingReporter(), env={})
    except MasonError as exc:
        return None, exc
    return out, None


def image_config(layout: Path) -> dict:
    """The config blob as stored, found through skopeo (an independent reader)."""
    manifest = json.loads(subprocess.run(["skopeo", "inspect", "--raw", f"oci:{layout}:latest"], check=True,
                                         capture_output=True, text=True).stdout)
    digest = manifest["config"]["digest"].split(":", 1)[1]
    return json.loads((layout / "blobs" / "sha256" / digest).read_bytes())


def unpack(layout: Path, dest: Path) -> Path:
    """The image's filesystem, unpacked by umoci (``raw unpack``: no runtime config, which
    would resolve USER against the image's /etc/passwd)."""
    dest.mkdir()
    subprocess.run(["umoci", "raw", "unpack", "--image", f"{layout}:latest", str(dest / "rootfs")], check=True,
                   capture_output=True)
    return dest / "rootfs"


def check_config(case: dict, config: dict) -> list[str]:
    problems = []
    inner = config.get("config") or {}
    for key, want in (case.get("config") or {}).items():
        got = (inner.get("Labels") or {}).get(key[7:]) if key.startswith("Labels.") else inner.get(key)
        if want is None:
            if got not in (None, "", [], {}):
                problems.append(f"config.{key}: want absent/empty, got {got!r}")
        elif got != want:
            problems.append(f"config.{key}: want {want!r}, got {got!r}")
    if case.get("history_lacks"):
        for entry in config.get("history") or ():
            if case["history_lacks"] in entry.get("created_by", ""):
                problems.append(f"history entry {entry['created_by']!r} names {case['history_lacks']!r}")
    if case.get("history"):
        # the last entries, after the base image's own
        got = (config.get("history") or [])[-len(case["history"]):]
        for want, entry in zip(case["history"], got):
            if want["contains"] not in entry.get("created_by", "") or \
                    bool(entry.get("empty_layer")) != want["empty_layer"]:
                problems.append(f"history entry {entry!r}: want {want!r}")
    for key, want in (case.get("image") or {}).items():
        got = config.get(key)
        if got != want:
            problems.append(f"{key}: want {want!r}, got {got!r}")
    return problems


def check_files(case: dict, root: Path) -> list[str]:
    problems = []
    for name, want in (case.get("expect") or {}).items():
        path = root / name.lstrip("/")
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            problems.append(f"{name}: missing")
            continue
        spec = {"content": want} if isinstance(want, str) else want
        kind = spec.get("type")
        if kind and not KINDS[kind](st.st_mode):
            problems.append(f"{name}: want a {kind}, mode {oct(st.st_mode)}")
        if "content" in spec or "contains" in spec:
            data = path.read_text() if stat.S_ISREG(st.st_mode) else None
            if "content" in spec and data != spec["content"]:
                problems.append(f"{name}: want {spec['content']!r}, got {data!r}")
            if "contains" in spec and (data is None or spec["contains"] not in data):
                problems.append(f"{name}: want it to contain {spec['contains']!r}, got {data!r}")
        if "mode" in spec and stat.S_IMODE(st.st_mode) != int(str(spec["mode"]), 8):
            problems.append(f"{name}: want mode {spec['mode']}, got {oct(stat.S_IMODE(st.st_mode))}")
        for field in ("uid", "gid"):
            if field in spec and getattr(st, f"st_{field}") != spec[field]:
                problems.append(f"{name}: want {field} {spec[field]}, got {getattr(st, f'st_{field}')}")
        if "target" in spec and os.readlink(path) != spec["target"]:
            problems.append(f"{name}: want link to {spec['target']!r}, got {os.readlink(path)!r}")
    for name in case.get("absent") or ():
        if os.path.lexists(root / name.lstrip("/")):
            problems.append(f"{name}: should not exist")
    return problems


def run_case(case: dict, tmp: Path, base_layout: str) -> list[str]:
    """Every way the built image (or the error) differs from the case's expectations."""
    layout, error = build_case(case, tmp, base_layout)
    wanted = case.get("error")
    if wanted is not None:
        if error is None:
            return [f"the build succeeded; want an error containing {wanted!r}"]
        message = f"{error}" + (f" ({error.hint})" if getattr(error, "hint", None) else "")
        if hasattr(error, "location") and callable(error.location):
            message = f"{error.location()}: {message}"
        return [f"error {message!r} lacks {w!r}" for w in ([wanted] if isinstance(wanted, str) else wanted)
                if w not in message]
    if error is not None:
        return [f"the build failed: {error}"]
    problems = check_config(case, image_config(layout))
    if case.get("expect") or case.get("absent"):
        problems += check_files(case, unpack(layout, tmp / "unpacked"))
    return problems
