"""A generous sanity bound on parse time; the real < 100 ms measurement is bench/parse_bench.py."""

import importlib.util
import time
from pathlib import Path

from mason.dockerfile import parse_dockerfile, plan_stages

BENCH = Path(__file__).resolve().parents[3] / "bench" / "parse_bench.py"


def test_two_thousand_instructions_parse_quickly():
    spec = importlib.util.spec_from_file_location("parse_bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    text = bench.synthetic_dockerfile(2000)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        df = parse_dockerfile(text)
        best = min(best, time.perf_counter() - t0)
    assert len(df.instructions) == 2001
    assert len(plan_stages(df).stages) > 100
    assert best < 1.0, f"parsing 2,000 instructions took {best:.3f}s"
