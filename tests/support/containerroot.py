"""CI job containers of mason's own image, for the host-root tests: never the test machine's ``/``.

``Container(tmp, rootfs, env)`` copies an unpacked mason image (``tests.support.masonimage``:
FROM scratch, the whole runtime under ``/kaniko``) to a fresh directory, adds what a container
runtime adds (``/.dockerenv``) and a CI volume ``/builds``; ``build(...)`` runs
``/kaniko/executor`` there through ``tests.support.unpriv.run_in_container`` (``/proc``,
``/sys``, ``/dev`` and the ``/etc`` files mounted as Docker does, then Docker's default
capabilities and seccomp), as often as a job would, in the same root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


class Container:
    """One CI job container of the image unpacked at ``rootfs`` (its ENV: ``env``), with the
    volume ``/builds`` (the host directory ``builds``, holding ``base_layout`` as ``/builds/base``)."""

    def __init__(self, tmp: Path, rootfs: Path, env: dict[str, str], base_layout: str | None = None):
        self.root = tmp / "root"
        subprocess.run(["cp", "-a", str(rootfs), str(self.root)], check=True)
        (self.root / ".dockerenv").touch()
        # The mount points a container runtime makes in the container's own layer.
        for d in ("proc", "sys", "dev", "builds"):
            (self.root / d).mkdir(exist_ok=True)
        for f in ("etc/hosts", "etc/resolv.conf"):
            (self.root / f).touch()
        self.env = {k: v for k, v in env.items() if k != "TERM"}
        self.builds = tmp / "builds"
        self.builds.mkdir()
        if base_layout:
            shutil.copytree(base_layout, self.builds / "base", symlinks=True)

    def mason_argv(self, *args: str) -> list[str]:
        return ["/kaniko/executor", "--progress=plain", *args]

    def build(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        from tests.support.unpriv import run_in_container

        return run_in_container(self.root, self.mason_argv(*args), env=self.env,
                                binds=[(str(self.builds), "/builds")], timeout=timeout)

    def popen(self, *args: str) -> subprocess.Popen:
        """``mason build`` started in the container (its pid is mason's: the harness execs it);
        its log and the RUNs' output both come on ``stdout``."""
        from tests.support.unpriv import container_argv

        argv = container_argv(self.root, self.mason_argv(*args), binds=[(str(self.builds), "/builds")])
        return subprocess.Popen(argv, env=self.env, text=True, start_new_session=True,
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
