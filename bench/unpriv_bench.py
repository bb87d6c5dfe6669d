"""The unprivileged mode (chroot + stat walker) beside the privileged one (namespaces + overlay).

Not a test (wall time depends on the machine).  Run as root from the repository root:
    .venv/bin/python bench/unpriv_bench.py [runs]

Two Dockerfiles, each built ``runs`` times per mode in one Python process (so interpreter start-up
is not counted), ``--reproducible`` so both modes must produce the same digest (checked):

* ``small``: two stages, three RUNs, a COPY --from (busybox base, ~400 files);
* ``20k``: a base of ~20 000 files, then ``RUN touch /x``: the stat walker's cost (two walks of the
  stage root) against overlay's (the upper dir only).

The unprivileged runs go through the test harness (``tests/support/unpriv.py``): Docker's default
capabilities, NoNewPrivs, seccomp denying mount/unshare.  Figures are in docs/unprivileged.md.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

SMALL = """\
FROM {base} AS build
RUN mkdir -p /out && echo a > /out/a
RUN echo 'app:x:1234:1234::/home/app:/bin/sh' >> /etc/passwd && chown 1234 /out/a
FROM {base}
COPY --from=build /out /out
RUN ls /out > /listing
"""

BIG = "FROM {base}\nRUN touch /x\n"

DRIVER = r"""
import json, sys, time
from pathlib import Path
from mason.executor.executor import run_build
from mason.executor.options import BuildOptions
ctx, out, work, runs = json.loads(sys.argv[1])
rows = []
for i in range(runs):
    t0 = time.perf_counter()
    r = run_build(BuildOptions(context_dir=Path(ctx), no_push=True, reproducible=True,
                               oci_layout_path=Path(out) / str(i), work_root=Path(work)))
    rows.append({"total": time.perf_counter() - t0, "digest": r.image_digest, "isolation": r.isolation,
                 "runs": [s.seconds for s in r.steps if s.instruction.startswith("RUN")]})
print(json.dumps(rows))
"""


def _big_base(tmp: Path, busybox: str) -> str:
    """An OCI layout: busybox + 20 000 files in 200 directories, built by mason itself."""
    from mason.executor.executor import run_build
    from mason.executor.options import BuildOptions

    ctx = tmp / "big-ctx"
    for d in range(200):
        sub = ctx / "data" / f"d{d:03d}"
        sub.mkdir(parents=True)
        for f in range(100):
            (sub / f"f{f:03d}").write_text(f"{d}-{f}\n")
    (ctx / "Dockerfile").write_text(f"FROM oci:{busybox}:latest\nCOPY data /data\n")
    run_build(BuildOptions(context_dir=ctx, no_push=True, reproducible=True,
                           oci_layout_path=tmp / "big-base", work_root=tmp / "w"))
    return f"oci:{tmp / 'big-base'}:latest"


def _measure(ctx: Path, tmp: Path, runs: int, unprivileged: bool) -> list[dict]:
    label = "unpriv" if unprivileged else "priv"
    out, work = tempfile.mkdtemp(dir=tmp, prefix=f"out-{label}-"), tmp / f"work-{label}"
    code = f"import sys; sys.argv[1:] = [{json.dumps([str(ctx), out, str(work), runs])!r}]\n" + DRIVER
    if unprivileged:
        from tests.support.unpriv import python_in_harness

        res = python_in_harness(code, timeout=1800)
    else:
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1800,
                             env=dict(os.environ, PYTHONPATH=str(ROOT / "src")))
    if res.returncode != 0:
        raise SystemExit(res.stderr)
    return json.loads(res.stdout.splitlines()[-1])


WALK = r"""
import json, os, sys, time
from pathlib import Path
from mason.image.location import open_source, parse_location
from mason.oci.platform import host_platform
from mason.snapshot import walker
from mason.tarfs.extract import ExtractOptions, extract_layer
layout, root = sys.argv[1:3]
image = open_source(parse_location(layout), lambda: None, host_platform())
t0 = time.perf_counter()
for desc in image.manifest.layers:
    with image.open_blob(desc) as blob:
        extract_layer(blob, Path(root), media_type=desc.media_type, options=ExtractOptions(mode="apply"))
t1 = time.perf_counter()
snap = walker.take(root)
t2 = time.perf_counter()
Path(root, "x").touch()
changes = snap.diff()
t3 = time.perf_counter()
print(json.dumps({"extract": t1 - t0, "take": t2 - t1, "diff": t3 - t2, "paths": list(changes.paths),
                  "files": len(snap.entries)}))
"""


def _walk_cost(layout: str, tmp: Path) -> dict:
    from tests.support.unpriv import python_in_harness

    root = tempfile.mkdtemp(dir=tmp, prefix="walk-")
    res = python_in_harness(f"import sys; sys.argv[1:] = [{layout!r}, {root!r}]\n" + WALK, timeout=600)
    if res.returncode != 0:
        raise SystemExit(res.stderr)
    return json.loads(res.stdout.splitlines()[-1])


def main() -> None:
    from tests.support.images import build_busybox_layout

    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory(prefix="unpriv-bench-") as t:
        tmp = Path(t)
        (tmp / "bb").mkdir()
        busybox = build_busybox_layout(str(tmp / "bb"))
        cases = {"small": SMALL.format(base=f"oci:{busybox}:latest"), "20k": BIG.format(base=_big_base(tmp, busybox))}
        print(f"| build | mode | total median (min) | RUN steps median | digest equal |")
        print(f"|---|---|---|---|---|")
        for name, text in cases.items():
            ctx = tmp / f"ctx-{name}"
            ctx.mkdir()
            (ctx / "Dockerfile").write_text(text)
            results = {u: _measure(ctx, tmp, runs, u) for u in (False, True)}
            digests = {r["digest"] for rows in results.values() for r in rows}
            for unpriv, rows in results.items():
                totals = [r["total"] for r in rows]
                run_steps = [sum(r["runs"]) for r in rows]
                mode = f"{rows[0]['isolation']} ({'walk' if unpriv else 'overlay'})"
                print(f"| {name} | {mode} | {statistics.median(totals):.2f} s ({min(totals):.2f}) | "
                      f"{statistics.median(run_steps):.2f} s | {'yes' if len(digests) == 1 else 'NO'} |")
        walk = _walk_cost(cases["20k"].split()[1], tmp)
        print(f"\n20k base in the harness: {walk['files']} entries; extract {walk['extract']:.2f} s, "
              f"walker.take {walk['take']:.3f} s, touch /x + Snapshot.diff {walk['diff']:.3f} s -> {walk['paths']}")


if __name__ == "__main__":
    main()
