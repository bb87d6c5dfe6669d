"""mason's own image, built by mason from the repository's Dockerfile, for the tests that use it.

No network and no registry: the Dockerfile's BASE is a Debian bookworm image made by
``scripts/make-debian-image`` (debootstrap from the Debian mirror, packed by umoci; cached
in ``.mason/images/debian`` so later runs and CI reuse it), and mason with its Python
dependencies goes in as wheels this checkout packs offline (``tests.support.wheels``),
installed by pip with ``--no-index``. The build runs this checkout's mason
(``sys.executable -m mason build``); the two targets share one local layer cache
(``--cache-repo oci:…``), so the second build reuses the first one's stages.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.wheels import mason_wheels

REPO = Path(__file__).resolve().parents[2]
DEBIAN_LAYOUT = REPO / ".mason" / "images" / "debian"
DEBIAN_TAG = "bookworm"
# What the build context holds: what .dockerignore lets through, and two things it must keep out.
CONTEXT_FILES = ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md")
CONTEXT_DIRS = ("src", "ci", "tests/support")


@dataclass(frozen=True)
class BuiltImage:
    layout: Path          # OCI image layout holding the image as tag "latest"
    log: str              # mason's build output

    def unpack(self, dest: Path) -> "Bundle":
        subprocess.run(["umoci", "unpack", "--image", f"{self.layout}:latest", str(dest)], check=True,
                       capture_output=True)
        return Bundle(dest)

    def manifest(self) -> dict:
        index = json.loads((self.layout / "index.json").read_text())
        digest = index["manifests"][0]["digest"].split(":", 1)[1]
        return json.loads((self.layout / "blobs" / "sha256" / digest).read_text())

    def compressed_size(self) -> int:
        """The sum of the manifest's layer sizes: what a pull downloads."""
        return sum(layer["size"] for layer in self.manifest()["layers"])


@dataclass(frozen=True)
class Bundle:
    path: Path            # umoci's bundle: rootfs/ and the runtime spec config.json

    @property
    def rootfs(self) -> Path:
        return self.path / "rootfs"

    def spec(self) -> dict:
        return json.loads((self.path / "config.json").read_text())

    def env(self) -> dict[str, str]:
        """The image's ENV (umoci's spec also adds TERM, as container runtimes do)."""
        return dict(item.split("=", 1) for item in self.spec()["process"]["env"])


def debian_base() -> Path:
    """The debootstrapped base's layout (made once, then reused)."""
    proc = subprocess.run(["bash", str(REPO / "scripts" / "make-debian-image"), str(DEBIAN_LAYOUT), DEBIAN_TAG],
                          capture_output=True, text=True, timeout=1200)
    if proc.returncode != 0:
        raise RuntimeError(f"scripts/make-debian-image failed:\n{proc.stderr}")
    return DEBIAN_LAYOUT


def build_context(dest: Path, src: Path = REPO / "src") -> Path:
    """A copy of the repository's files the image needs, plus wheels in dist/ (and tests/support,
    which .dockerignore must keep out of the image). ``src``: the mason tree the image gets
    (its src/ and the wheel the image installs), by default this checkout's."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    dest.mkdir(parents=True)
    for name in CONTEXT_FILES:
        shutil.copy2(REPO / name, dest / name)
    for name in CONTEXT_DIRS:
        shutil.copytree(src if name == "src" else REPO / name, dest / name, ignore=ignore)
    mason_wheels(dest / "dist", src=src)
    return dest


def build(workdir: Path, *, target: str | None, cache: Path, context: Path) -> BuiltImage:
    """Build mason's image (``target``: None for the default, or "debug") into an OCI layout."""
    base = debian_base()
    out = workdir / f"image-{target or 'executor'}"
    tmp = workdir / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {"PATH": os.environ["PATH"], "CI": "true", "TMPDIR": str(tmp), "HOME": str(workdir),
           "PYTHONPATH": str(REPO / "src")}
    argv = [sys.executable, "-m", "mason", "build", "--context", str(context), "--no-push",
            f"--oci-layout-path={out}", f"--build-arg=BASE=oci:{base}:{DEBIAN_TAG}",
            "--build-arg=PIP_OPTIONS=--no-index --find-links=/mason-src/dist", "--build-arg=MASON_SPEC=mason",
            "--cache=true", f"--cache-repo=oci:{cache}"]
    if target:
        argv.append(f"--target={target}")
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise AssertionError(f"mason could not build its own image (exit {proc.returncode}):\n{log}")
    return BuiltImage(out, log)


def main() -> None:
    """Build both variants and print their compressed sizes (the figures in docs/image.md):

        .venv/bin/python -m tests.support.masonimage
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mason-image-size-") as tmp:
        work = Path(tmp)
        context = build_context(work / "context")
        for target in (None, "debug"):
            image = build(work, target=target, cache=work / "cache", context=context)
            layers = image.manifest()["layers"]
            print(f"{target or 'executor'}: {image.compressed_size()} bytes compressed "
                  f"({image.compressed_size() / 1e6:.1f} MB) in {len(layers)} layers: "
                  + ", ".join(str(layer["size"]) for layer in layers))


if __name__ == "__main__":
    main()
