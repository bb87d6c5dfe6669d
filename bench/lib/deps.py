"""Debian packages the benchmark needs, installed on demand.

They are deliberately not in scripts/setup: the test suite never needs Buildah or
debootstrap, and the benchmark must work from one command on a fresh machine.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

# package -> a program it provides (checked instead of dpkg so hand-built tools also count)
PACKAGES = {
    "buildah": "buildah",
    "debootstrap": "debootstrap",
    "skopeo": "skopeo",
    "umoci": "umoci",
    "docker-registry": "docker-registry",
    "busybox-static": "/bin/busybox",
}


class BenchError(RuntimeError):
    """Anything that stops the benchmark; the message names the tool, file or step."""


def _has(program: str) -> bool:
    if program.startswith("/"):
        return os.access(program, os.X_OK)
    return any(os.access(os.path.join(d, program), os.X_OK) for d in os.environ.get("PATH", "").split(os.pathsep))


def ensure_packages() -> None:
    """apt-get install whatever is missing (as root); refuse clearly otherwise."""
    missing = [pkg for pkg, prog in PACKAGES.items() if not _has(prog)]
    if not missing:
        return
    if os.geteuid() != 0:
        raise BenchError(f"missing Debian packages {missing}: run the benchmark as root so it can install them")
    print(f"bench: installing Debian packages {' '.join(missing)}", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    still = [pkg for pkg, prog in PACKAGES.items() if not _has(prog)]
    if still:
        raise BenchError(f"apt-get install did not provide {still}")


def debian_mirror() -> str:
    """The Debian mirror this machine's own packages come from (deb822 or one-line sources)."""
    files = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for f in files:
        if not f.is_file() or not (f.suffix in (".list", ".sources") or f.name == "sources.list"):
            continue
        text = f.read_text(errors="replace")
        if f.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
                suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
                if uris and suites and "bookworm" in suites.group(1).split():
                    return uris.group(1).rstrip("/")
        else:
            for line in text.splitlines():
                parts = line.split()
                if len(parts) >= 3 and parts[0] == "deb":
                    url = next(p for p in parts[1:] if not p.startswith("["))
                    if "security" not in url and "bookworm" in parts:
                        return url.rstrip("/")
    raise BenchError("no Debian bookworm mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d")


def tool_version(argv: list[str], env: dict | None = None) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e})"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else f"unknown (exit {out.returncode})"
