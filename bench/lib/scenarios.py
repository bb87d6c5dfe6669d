"""The six scenarios: Dockerfile template, context generator, and what happens before the
measured build (a priming build that fills the registry cache, a change to one file).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parents[1] / "scenarios"


@dataclass(frozen=True)
class Sizes:
    gen_files: int = 7000        # files a RUN generates (two-stage; per stage in parallel-stages)
    src_files: int = 2000        # context files copied by two-stage
    bigroot_files: int = 100_000  # files in the big-root base
    copy_files: int = 20_000     # context files of copy-many
    cpu_bytes: int = 1_500_000_000  # zeros gzip'ed per heavy stage

    @classmethod
    def quick(cls) -> "Sizes":
        return cls(gen_files=700, src_files=200, bigroot_files=10_000, copy_files=2000, cpu_bytes=150_000_000)


def _files(root: Path, count: int, seed: int) -> None:
    """count deterministic files of 200 B–4 KiB, 100 per directory."""
    rng = random.Random(seed)
    for i in range(count):
        d = root / f"d{i // 100:03d}"
        if i % 100 == 0:
            d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:05d}.txt").write_bytes(rng.randbytes(rng.randint(200, 4096)))


def _changed_file(context: Path) -> Path:
    return context / "src/d000/f00000.txt"


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    template: str                    # directory under bench/scenarios
    target: float | None             # mason/Buildah time ratio to meet, if the issue sets one
    make_context: Callable[[Path, Sizes], None]
    prime: bool = False              # a cold build first, to fill the registry cache
    mutate: Callable[[Path, str], None] | None = None  # after priming, before the measured build
    reset: Callable[[Path], None] | None = None        # before priming: undo the last mutation
    notes: str = field(default="")

    def write(self, context: Path, sizes: Sizes, bases: dict[str, str]) -> Path:
        """Generate context and Dockerfile into context; returns the Dockerfile."""
        context.mkdir(parents=True)
        self.make_context(context, sizes)
        text = (HERE / self.template / "Dockerfile").read_text()
        for key, value in {
            "DEBIAN": bases["debian"], "BUSYBOX": bases["busybox"], "BIGROOT": bases["bigroot"],
            "GEN_BYTES": str(sizes.gen_files * 1024), "CPU_BYTES": str(sizes.cpu_bytes),
        }.items():
            text = text.replace("{{" + key + "}}", value)
        dockerfile = context / "Dockerfile"
        dockerfile.write_text(text)
        return dockerfile


def _two_stage_ctx(c: Path, s: Sizes) -> None:
    _files(c / "src", s.src_files, seed=1)


def _original(c: Path) -> None:
    # the same draws, in the same order, as _files made for file 0 with seed 1
    rng = random.Random(1)
    _changed_file(c).write_bytes(rng.randbytes(rng.randint(200, 4096)))


def _change_one(c: Path, tag: str) -> None:
    _changed_file(c).write_text(f"changed for {tag}\n")


SCENARIOS = [
    Scenario("cold", "1. cold (no cache)", "two-stage", 0.2, _two_stage_ctx),
    Scenario("all-cached", "2. all-cached rebuild (registry cache)", "two-stage", 0.05, _two_stage_ctx, prime=True),
    Scenario("one-file", "3. one copied file changed", "two-stage", 0.15, _two_stage_ctx, prime=True,
             mutate=_change_one, reset=_original),
    Scenario("big-root", "4. big root (~100k files), RUN touch /x", "big-root", None, lambda c, s: None),
    Scenario("copy-many", "5. COPY of a 20k-file context", "copy-many", None,
             lambda c, s: _files(c / "files", s.copy_files, seed=5)),
    Scenario("parallel-stages", "6. two heavy stages + final copying both", "parallel-stages", None,
             lambda c, s: None),
]


def select(names: list[str] | None) -> list[Scenario]:
    if not names:
        return list(SCENARIOS)
    known = {s.name: s for s in SCENARIOS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"--scenarios: unknown {unknown} (known: {', '.join(known)})")
    return [known[n] for n in names]
