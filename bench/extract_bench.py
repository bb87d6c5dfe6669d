"""One layer onto a root, the ways the unprivileged levels can do it.

Not a test (wall time depends on the machine). Run from the repository root, as root:
    .venv/bin/python bench/extract_bench.py BLOB WORK [runs]

``BLOB``: a layer blob (the bench's Debian base is the largest blob under
``bench/.cache/oci-debian/blobs/sha256``); ``WORK``: an empty directory on the filesystem to
measure (e.g. a journaled ext4 image mounted there). Each run times, on fresh directories:

* ``direct``: ``extract_layer`` apply mode straight into a root (chroot's stage roots, and
  host-root's ``/`` for a layer the store does not hold);
* ``store``: ``extract_layer`` overlay mode into a lower dir (the layer store's form);
* ``copy``: ``hostapply.apply_lower`` of that lower dir onto a root (host-root, for a layer
  the store holds); ``store+copy`` is what host-root did for every layer before.

Prints each run and the medians.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mason.snapshot.hostapply import apply_lower  # noqa: E402
from mason.snapshot.keptpaths import KeptPaths  # noqa: E402
from mason.tarfs.extract import SAFE_DEVICES, ExtractOptions, extract_layer  # noqa: E402


def _fresh(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    os.sync()             # the previous run's writeback is not billed to this one
    return path


def main(blob: Path, work: Path, runs: int = 3) -> None:
    times: dict[str, list[float]] = {"direct": [], "store": [], "copy": [], "store+copy": []}
    for i in range(runs):
        root = _fresh(work / "direct")
        start = time.perf_counter()
        extract_layer(blob, root, options=ExtractOptions(mode="apply", allowed_devices=SAFE_DEVICES))
        times["direct"].append(time.perf_counter() - start)
        lower = _fresh(work / "store")
        start = time.perf_counter()
        extract_layer(blob, lower, options=ExtractOptions(mode="overlay", allowed_devices=SAFE_DEVICES))
        times["store"].append(time.perf_counter() - start)
        target = _fresh(work / "root")
        start = time.perf_counter()
        apply_lower(str(lower), str(target), KeptPaths(), warn=print)
        times["copy"].append(time.perf_counter() - start)
        times["store+copy"].append(times["store"][-1] + times["copy"][-1])
        print(f"run {i + 1}: " + "  ".join(f"{k} {v[-1]:.3f} s" for k, v in times.items()), flush=True)
    for name in ("direct", "store", "root"):
        shutil.rmtree(work / name, ignore_errors=True)
    print("median: " + "  ".join(f"{k} {statistics.median(v):.3f} s" for k, v in times.items()))
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 3)
