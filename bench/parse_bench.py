"""Benchmark: parse (and validate) a 2,000-instruction Dockerfile; the target is < 100 ms.

Run: PYTHONPATH=src python bench/parse_bench.py [--instructions N] [--repeat R]
Prints the best and median wall time of ``parse_dockerfile`` and of ``plan_stages``.
"""

from __future__ import annotations

import argparse
import statistics
import time


def synthetic_dockerfile(instructions: int) -> str:
    """A mix of realistic instructions: continuations, heredocs, flags, JSON and ENV pairs."""
    lines = ["# syntax=docker/dockerfile:1", "ARG BASE=alpine:3.19", "FROM ${BASE} AS build"]
    body = [
        "RUN --mount=type=cache,target=/root/.cache apk add --no-cache \\\n    curl \\\n    jq",
        'ENV A_{i}="value {i}" B_{i}=$A_{i} C_{i}=plain',
        "COPY --chown=1000:1000 --chmod=0644 src/{i}.txt /app/{i}.txt",
        "RUN <<EOF\necho step {i}\nset -e\nEOF",
        'LABEL com.example.step{i}="{i}"',
        "WORKDIR /app/${{A_{i}:-dir}}",
        'CMD ["sh", "-c", "echo {i}"]',
        "ARG X{i}=default{i}",
        "EXPOSE {port}/tcp",
        "FROM build AS s{i}",
    ]
    count = 1
    i = 0
    while count < instructions:
        lines.append(body[i % len(body)].format(i=i, port=1000 + i % 60000))
        count += 1
        i += 1
    return "\n".join(lines) + "\n"


def main() -> None:
    from mason.dockerfile import parse_dockerfile, plan_stages

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--instructions", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    text = synthetic_dockerfile(args.instructions)
    parse_times, plan_times = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        df = parse_dockerfile(text)
        t1 = time.perf_counter()
        plan_stages(df)
        t2 = time.perf_counter()
        parse_times.append(t1 - t0)
        plan_times.append(t2 - t1)
    n = len(df.instructions)
    print(f"{n} instructions, {len(text.splitlines())} lines")
    print(f"parse_dockerfile: best {min(parse_times) * 1000:.1f} ms, median {statistics.median(parse_times) * 1000:.1f} ms"
          f" (target < 100 ms)")
    print(f"plan_stages:      best {min(plan_times) * 1000:.1f} ms, median {statistics.median(plan_times) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
