"""The stat walker on a large root: what host-root and chroot snapshots cost per RUN.

Not a test (wall time depends on the machine). Run from the repository root:
    .venv/bin/python bench/walk_bench.py [files] [runs]

Makes ``files`` one-byte files (directories of 1 000) under /var/tmp, then ``runs`` times:
``walker.take`` of the root, ``touch x`` (what ``RUN touch /x`` changes), ``Snapshot.diff``
(which must find exactly ``x``). Prints the medians and every run, and the load average, since
on a shared machine that dominates.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mason.snapshot import walker  # noqa: E402


def main(files: int = 100_000, runs: int = 3) -> None:
    root = Path(tempfile.mkdtemp(prefix="walk-bench-", dir="/var/tmp"))
    try:
        for d in range((files + 999) // 1000):
            sub = root / f"d{d:04d}"
            sub.mkdir()
            for f in range(min(1000, files - d * 1000)):
                (sub / f"f{f:04d}").write_bytes(b"x")
        takes, diffs = [], []
        for _ in range(runs):
            start = time.perf_counter()
            snap = walker.take(root)
            takes.append(time.perf_counter() - start)
            (root / "x").touch()
            start = time.perf_counter()
            changes = snap.diff()
            diffs.append(time.perf_counter() - start)
            (root / "x").unlink()
            assert changes.paths == ("x",), changes.paths
        print(f"{files} files, {runs} runs: take median {statistics.median(takes):.2f} s "
              f"{[round(t, 2) for t in takes]}, diff median {statistics.median(diffs):.2f} s "
              f"{[round(t, 2) for t in diffs]}; load average {os.getloadavg()}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
