"""The sandbox tests' probe binary (sbxprobe.c), built once per test session with ``gcc -static``."""

from __future__ import annotations

import subprocess
from pathlib import Path

SOURCE = Path(__file__).with_name("sbxprobe.c")


def build_probe(directory: Path) -> Path:
    out = directory / "sbxprobe"
    subprocess.run(["gcc", "-static", "-O1", "-o", str(out), str(SOURCE)], check=True, capture_output=True)
    return out
