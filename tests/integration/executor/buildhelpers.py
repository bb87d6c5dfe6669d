"""Helpers for executor tests: write a context, build it, unpack the result with umoci."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from mason.executor.events import CollectingReporter
from mason.executor.executor import run_build
from mason.executor.options import BuildOptions


def write_context(directory: Path, dockerfile: str, files: dict[str, str] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Dockerfile").write_text(dockerfile)
    for name, content in (files or {}).items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return directory


def build(context: Path, out: Path, work_root: Path, **kw):
    """Build ``context`` into the OCI layout ``out`` (tag latest); returns (result, events)."""
    reporter = CollectingReporter()
    options = BuildOptions(context_dir=context, no_push=True, oci_layout_path=out,
                           work_root=work_root, **kw)
    return run_build(options, reporter=reporter), reporter


def unpack(layout: Path, dest: Path, tag: str = "latest") -> Path:
    """Unpack with umoci (an independent reader); returns the rootfs path."""
    subprocess.run(["umoci", "unpack", "--image", f"{layout}:{tag}", str(dest)], check=True,
                   capture_output=True)
    return dest / "rootfs"


def config_of(layout: Path) -> dict:
    """The raw config: skopeo finds the manifest, the blob is read as stored (``skopeo inspect
    --config`` re-encodes through the OCI struct and drops Docker's Healthcheck/Shell/OnBuild)."""
    manifest = json.loads(subprocess.run(["skopeo", "inspect", "--raw", f"oci:{layout}:latest"], check=True,
                                         capture_output=True, text=True).stdout)
    digest = manifest["config"]["digest"].split(":", 1)[1]
    return json.loads((layout / "blobs" / "sha256" / digest).read_bytes())


def tree(root: Path, below: str) -> dict[str, str]:
    """Relative path -> file content (or '<dir>' / '-> target') under ``root/below``."""
    base = root / below
    out = {}
    for dirpath, dirnames, filenames in os.walk(base):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = "-> " + os.readlink(p)
            elif p.is_dir():
                out[rel] = "<dir>"
            else:
                out[rel] = p.read_text()
    return out


def overlay_mounts_below(path: Path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(str(path))]
