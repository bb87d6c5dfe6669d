"""mason-hostroot: the `mason` tool's command, run as Kaniko runs, in a CI job container.

Each build gets a throwaway container root made from mason's own image (FROM scratch, the
runtime under ``/kaniko``), exactly as the host-root tests make theirs
(``tests.support.containerroot.Container``): a copy of the unpacked image, ``/.dockerenv``, the
mount points a runtime makes. It is entered through the tests' harness
(``tests/support/unpriv_exec.py --rootfs``: ``/proc``, a ``/dev`` tmpfs, ``/sys`` read-only,
the ``/etc`` files, ``pivot_root``, then Docker's default capabilities, NoNewPrivs and the
seccomp filter). The harness execs ``/kaniko/executor``, so the measured process is mason
itself, as for the other tools. Host-root rewrites the container's ``/``: never the machine's.

Which mason: the image is built once (``tests.support.masonimage``, offline, cached in
``bench/.cache/mason-image-<hash of what goes into the image besides the source>``), and the
mason under test (``--mason-src``, default this checkout's ``src/``) is bind-mounted over the
image's installed ``mason`` package, so a changed source needs no image rebuild. A bind
mount is a mount point, which host-root keeps out of the build as it keeps ``/kaniko``.

The build's context and its fresh state (work and cache dirs) are volumes (``/bench/...``),
as a CI job's project directory is. Every build's log must show host-root isolation with
walk snapshots (checked like mason-unpriv's chroot), or the benchmark stops.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from .deps import BenchError
from .measure import Measurement
from .tools import REPO, BuildRequest, Mason, _cleanup, default_mason
from .unpriv import EXEC_SCRIPT, check_isolation

# What goes into mason's image apart from mason's own source (which is bind-mounted).
IMAGE_INPUTS = ("Dockerfile", ".dockerignore", "pyproject.toml", "ci/image/collect", "ci/image/launcher")
INSIDE = Path("/bench")


def _image_key() -> str:
    h = hashlib.sha256()
    for name in IMAGE_INPUTS:
        h.update(name.encode() + b"\0" + (REPO / name).read_bytes())
    return h.hexdigest()[:16]


def mason_image(cache_dir: Path) -> tuple[Path, dict[str, str]]:
    """(unpacked rootfs of mason's image, its ENV), built once per image key."""
    dest = cache_dir / f"mason-image-{_image_key()}"
    done = dest / "env.json"
    if done.exists():
        return dest / "bundle" / "rootfs", json.loads(done.read_text())
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    print("bench: building mason's image for mason-hostroot (once per image inputs)", flush=True)
    # the tests' own recipe, run by the interpreter that has mason's dependencies
    code = ("import json, sys; from pathlib import Path; from tests.support.masonimage import build, build_context; "
            "w = Path(sys.argv[1]); i = build(w, target=None, cache=w / 'cache', context=build_context(w / 'context')); "
            "b = i.unpack(Path(sys.argv[2])); print(json.dumps(b.env()))")
    python = shlex.split(default_mason())[0]
    proc = subprocess.run([python, "-c", code, str(dest / "work"), str(dest / "bundle")], cwd=REPO,
                          capture_output=True, text=True)
    shutil.rmtree(dest / "work", ignore_errors=True)
    if proc.returncode != 0:
        raise BenchError(f"mason-hostroot: building mason's image failed:\n{proc.stderr[-3000:]}")
    bundle_env = json.loads(proc.stdout.strip().splitlines()[-1])
    env = {k: v for k, v in bundle_env.items() if k != "TERM"}
    done.write_text(json.dumps(env))
    return dest / "bundle" / "rootfs", env


class MasonHostRoot(Mason):
    name = "mason-hostroot"

    def __init__(self, template: str, src: Path | None, cache_dir: Path):
        super().__init__(template, "/kaniko/executor", src)
        self.src = (src or REPO / "src").resolve()
        self.cache_dir = cache_dir
        self._image: tuple[Path, dict[str, str]] | None = None

    def image(self) -> tuple[Path, dict[str, str]]:
        if self._image is None:
            if os.geteuid() != 0:
                raise BenchError("mason-hostroot: the container harness must be started as root")
            self._image = mason_image(self.cache_dir)
        return self._image

    def _site_mason(self, rootfs: Path) -> str:
        found = sorted(rootfs.glob("kaniko/lib/python3*/site-packages/mason"))
        if not found:
            raise BenchError(f"mason-hostroot: no mason package in the image at {rootfs}/kaniko/lib")
        return "/" + str(found[0].relative_to(rootfs))

    def _container(self, root: Path, binds: list[tuple[Path, str]], argv: list[str]) -> list[str]:
        rootfs, _ = self.image()
        subprocess.run(["cp", "-a", str(rootfs), str(root)], check=True)
        (root / ".dockerenv").touch()
        for d in ("proc", "sys", "dev"):
            (root / d).mkdir(exist_ok=True)
        for f in ("etc/hosts", "etc/resolv.conf"):
            (root / f).touch()
        cmd = [sys.executable, "-I", str(EXEC_SCRIPT), "--rootfs", str(root), "--cwd", "/"]
        for src, dst in [(self.src / "mason", self._site_mason(rootfs)), *binds]:
            (root / dst.lstrip("/")).mkdir(parents=True, exist_ok=True)
            cmd += ["--bind", f"{src}:{dst}"]
        return [*cmd, "--", *argv]

    def _inside_argv(self, req: BuildRequest) -> list[str]:
        q = shlex.quote
        line = self.template.format(
            mason=self.mason, context=q(str(INSIDE / "context")),
            dockerfile=q(str(INSIDE / "context" / req.dockerfile.relative_to(req.context))),
            destination=q(req.destination), cache_repo=q(req.cache_repo), registry=q(req.registry),
            work_dir=q(str(INSIDE / "state" / "work")), cache_dir=q(str(INSIDE / "state" / "cache")))
        argv = shlex.split(line)
        if argv[1:2] == ["build"]:      # /kaniko/executor is `mason build` already
            del argv[1]
        return argv

    def version(self) -> str:
        root = self.cache_dir / ".hostroot-version"
        shutil.rmtree(root, ignore_errors=True)
        try:
            argv = self._container(root, [], ["/kaniko/executor", "version"])
            proc = subprocess.run(argv, env=self.image()[1], capture_output=True, text=True, timeout=120)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        if proc.returncode != 0:
            raise BenchError(f"mason-hostroot: mason does not start in its container: {proc.stderr.strip()}")
        return proc.stdout.strip().splitlines()[0] + " (host-root, container of mason's image)"

    def build(self, req: BuildRequest) -> Measurement:
        req.state.mkdir(parents=True)
        root = req.state.with_name(req.state.name + "-root")
        try:
            argv = self._container(root, [(req.context, str(INSIDE / "context")), (req.state, str(INSIDE / "state"))],
                                   self._inside_argv(req))
            start = req.log.stat().st_size if req.log.exists() else 0
            from .measure import run_measured
            m = run_measured(argv, req.log, env=self.image()[1], cwd=req.state)
            with open(req.log, "rb") as f:
                f.seek(start)
                output = f.read().decode(errors="replace")
            check_isolation(output, req.log, succeeded=m.returncode == 0, expected=("host-root", "walk"))
            return m
        finally:
            _cleanup(req.state)
            shutil.rmtree(root, ignore_errors=True)
