"""Layer cache benchmark: cold build vs all-hits rebuild of a two-stage Dockerfile.

    PYTHONPATH=src:. python bench/cache_bench.py [--base-mb 200] [--runs 3]

Starts a private registry (tests/support), makes a base image of busybox plus ``--base-mb``
MB of incompressible data (several layers, as real bases have), pushes it, then builds

    FROM base AS build      RUN checksum of the data + a compile-like step
    FROM base               COPY --from=build …, RUN …

twice per run, each time with a fresh --work-dir and an empty --cache-dir (an ephemeral CI
runner): cold (empty cache repository) and warm (the cache repository the cold build
filled). Prints both times, the ratio, and what the warm build downloaded and extracted.
Separate from the main benchmark harness on purpose (no shared code).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from mason.executor.events import CollectingReporter, StepFinished
from mason.executor.executor import run_build
from mason.executor.options import BuildOptions, RegistryAccess
from mason.executor.registryaccess import registry_options
from mason.registry import RegistryClient
from tests.support.images import build_busybox_layout
from tests.support.registry import start_registry

ACCESS = RegistryAccess(insecure=True, insecure_pull=True)

DOCKERFILE = """\
FROM {base} AS build
WORKDIR /src
COPY main.c .
RUN for f in /data/*; do sha256sum "$f"; done > /src/sums && cp main.c main.o
FROM {base}
COPY --from=build /src/sums /src/main.o /app/
RUN ls -l /app > /app/listing
"""


class Counting(RegistryClient):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.blob_bytes = 0
        self.blobs = 0

    def open_blob(self, repo, digest, size=None):
        self.blobs += 1
        self.blob_bytes += size or 0
        return super().open_blob(repo, digest, size)


def _client() -> Counting:
    return Counting(options=registry_options(ACCESS, push=True))


def _build(ctx: Path, scratch: Path, dest: str, label: str, **kw):
    work, cache_dir = scratch / f"work-{label}", scratch / f"cachedir-{label}"
    cache_dir.mkdir()
    client = _client()
    started = time.monotonic()
    result = run_build(BuildOptions(context_dir=ctx, destinations=(dest,), work_root=work, cache_dir=cache_dir,
                                    registry=ACCESS, reproducible=True, **kw),
                       reporter=(rep := CollectingReporter()), env={}, registry=client)
    seconds = time.monotonic() - started
    layers = cache_dir / "layers"
    extracted = len([p for p in layers.glob("*/*") if p.is_dir()]) if layers.exists() else 0
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(cache_dir, ignore_errors=True)
    return seconds, result, client, extracted, [e.cache for e in rep.of_type(StepFinished)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="mason-cache-bench-"))
    registry = start_registry(str(scratch / "registry"), "plain")
    try:
        layout = build_busybox_layout(str(scratch))
        base_ctx = scratch / "base-ctx"
        base_ctx.mkdir()
        chunks = 4
        runs = "\n".join(f"RUN mkdir -p /data && head -c {args.base_mb * 1024 * 1024 // chunks} /dev/urandom "
                         f"> /data/blob{i}" for i in range(chunks))
        (base_ctx / "Dockerfile").write_text(f"FROM oci:{layout}:latest\n{runs}\n")
        base = f"{registry.host}/bench/base:1"
        t, *_ = _build(base_ctx, scratch, base, "base", compression_level=1)
        print(f"base image: {args.base_mb} MB of data in {chunks} layers, built and pushed in {t:.1f}s")
        ctx = scratch / "ctx"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(DOCKERFILE.format(base=base))
        (ctx / "main.c").write_text("int main(void) { return 0; }\n")
        opts = dict(cache=True, cache_copy_layers=True)
        for run in range(args.runs):
            dest = f"{registry.host}/bench/app{run}:1"
            cache_repo = f"{registry.host}/bench/cache{run}"       # empty: a cold cache
            cold, r1, _, ex1, s1 = _build(ctx, scratch, dest, f"cold{run}", cache_repo=cache_repo, **opts)
            warm, r2, client, ex2, s2 = _build(ctx, scratch, dest, f"warm{run}", cache_repo=cache_repo, **opts)
            assert r1.image_digest == r2.image_digest, "reproducible rebuild changed the digest"
            print(f"run {run + 1}: cold {cold:6.2f}s ({s1.count('miss')} misses, {ex1} layers extracted) | "
                  f"all-hits {warm:6.2f}s ({s2.count('hit')} hits, {ex2} layers extracted, {client.blobs} blobs "
                  f"/ {client.blob_bytes} bytes downloaded) | ratio {warm / cold:.3f}")
    finally:
        registry.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
