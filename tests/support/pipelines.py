"""Reading what a pipeline pushed with tools independent of mason: skopeo and umoci."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


class RegistryReader:
    """skopeo + umoci against a TLS registry with basic auth."""

    def __init__(self, server, tmp: Path):
        self.server = server
        self.tmp = tmp
        self.certs = tmp / "certs"
        self.certs.mkdir(parents=True, exist_ok=True)
        shutil.copy(server.ca_file, self.certs / "ca.crt")

    def _auth(self) -> list[str]:
        return [f"--creds={self.server.username}:{self.server.password}", f"--cert-dir={self.certs}"]

    def digest(self, ref: str) -> str:
        return subprocess.run(["skopeo", "inspect", "--format", "{{.Digest}}", *self._auth(), f"docker://{ref}"],
                              check=True, capture_output=True, text=True).stdout.strip()

    def raw(self, ref: str) -> str:
        return subprocess.run(["skopeo", "inspect", "--raw", *self._auth(), f"docker://{ref}"],
                              check=True, capture_output=True, text=True).stdout

    def files(self, ref: str, *, read_under: str = "/out/") -> dict[str, str]:
        """Every path of the image's filesystem -> content (files under ``read_under``; else '')."""
        dest = self.tmp / ref.replace("/", "_").replace(":", "_")
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet",
                        f"--src-creds={self.server.username}:{self.server.password}", f"--src-cert-dir={self.certs}",
                        f"docker://{ref}", f"oci:{dest}/layout:x"], check=True, capture_output=True)
        subprocess.run(["umoci", "unpack", "--image", f"{dest}/layout:x", str(dest / "bundle")], check=True,
                       capture_output=True)
        root = dest / "bundle" / "rootfs"
        out = {}
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                p = Path(dirpath) / name
                rel = "/" + str(p.relative_to(root))
                readable = p.is_file() and not p.is_symlink() and rel.startswith(read_under)
                out[rel] = p.read_bytes().decode(errors="replace") if readable else ""
        return out
