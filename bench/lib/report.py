"""Medians, pairwise ratios, and the JSON + Markdown report with the machine description."""

from __future__ import annotations

import json
import os
import platform
import statistics
from pathlib import Path

RSS_TARGET_MB = 200
CACHE_HIT_TARGET = 0.1  # mason all-cached / mason cold (layer cache issue)


def machine(tools) -> dict:
    mem_kb = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal:"))
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory_gb": round(mem_kb / 2**20, 1),
            "kernel": platform.release(), "os": _os_name(), "python": platform.python_version(),
            "tools": {t.name: t.version() for t in tools},
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def _os_name() -> str:
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def _med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(scenarios, runs: dict) -> dict:
    """runs[scenario][tool] = [measurement dict or None per run] -> per-scenario summary."""
    out = {}
    for sc in scenarios:
        per = runs.get(sc.name, {})
        row = {"title": sc.title, "target_ratio": sc.target}
        for tool, ms in per.items():
            ok = [m for m in ms if m and m["returncode"] == 0]
            row[tool] = {
                "median_s": _med([m["seconds"] for m in ok]),
                "peak_rss_mb": max((m["peak_rss_mb"] for m in ok), default=None),
                "ok_runs": len(ok), "runs": len(ms),
            }
        if "mason" in per and "buildah" in per:
            ratios = [m["seconds"] / b["seconds"] for m, b in zip(per["mason"], per["buildah"])
                      if m and b and m["returncode"] == 0 and b["returncode"] == 0]
            row["ratio_median"] = _med(ratios)
            row["ratios"] = ratios
        out[sc.name] = row
    if "cold" in out and "all-cached" in out and "mason" in runs.get("cold", {}) and "mason" in runs.get("all-cached", {}):
        pairs = [w["seconds"] / c["seconds"]
                 for c, w in zip(runs["cold"]["mason"], runs["all-cached"]["mason"])
                 if c and w and c["returncode"] == 0 and w["returncode"] == 0]
        out["_cache_hit_check"] = {"mason_all_cached_over_cold": _med(pairs), "target": CACHE_HIT_TARGET}
    return out


def _f(x, fmt="{:.1f}"):
    return "n/a" if x is None else fmt.format(x)


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"# mason vs Buildah benchmark, {result['started']}",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['memory_gb']} GB RAM, kernel {m['kernel']}, {m['os']}"
        f" (load average at start: {m.get('load_average_at_start', 'n/a')}).",
        "Tools: " + "; ".join(f"{k}: {v}" for k, v in m["tools"].items()) + ".",
        f"Runs per scenario: {result['runs']}{' (quick sizes)' if result['quick'] else ''}. Sizes: "
        + ", ".join(f"{k}={v}" for k, v in result["sizes"].items()) + ".",
        "",
        "| Scenario | Buildah median s | mason median s | mason/Buildah (median of pairwise) | target | Buildah peak RSS MB | mason peak RSS MB | RSS target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in result["summary"].items():
        if name.startswith("_"):
            continue
        b, ms = row.get("buildah", {}), row.get("mason", {})
        ratio = row.get("ratio_median")
        tgt = row["target_ratio"]
        verdict = "" if ratio is None or tgt is None else (" ✅" if ratio <= tgt else " ❌")
        def cell(d, key, fmt="{:.1f}"):
            if not d:
                return "—"
            if d["ok_runs"] < d["runs"]:
                return f"{_f(d[key], fmt)} ({d['runs'] - d['ok_runs']}/{d['runs']} failed)"
            return _f(d[key], fmt)
        lines.append(
            f"| {row['title']} | {cell(b, 'median_s')} | {cell(ms, 'median_s')} | "
            f"{_f(ratio, '{:.3f}')}{verdict} | {'≤ ' + str(tgt) if tgt else '—'} | "
            f"{cell(b, 'peak_rss_mb', '{:.0f}')} | {cell(ms, 'peak_rss_mb', '{:.0f}')} | ≤ {RSS_TARGET_MB} |")
    chk = result["summary"].get("_cache_hit_check")
    if chk:
        lines += ["", f"Cache-hit check (mason all-cached / mason cold): {_f(chk['mason_all_cached_over_cold'], '{:.3f}')}"
                      f" (target < {chk['target']})"]
    lines += ["", "Peak RSS: max over runs of max(sampled sum over the process tree, ru_maxrss of the largest process).", ""]
    return "\n".join(lines)


def write(result: dict, results_dir: Path) -> tuple[Path, Path]:
    results_dir.mkdir(parents=True, exist_ok=True)
    stem = results_dir / result["started"].replace(":", "").replace("-", "")
    j, md = stem.with_suffix(".json"), stem.with_suffix(".md")
    j.write_text(json.dumps(result, indent=2) + "\n")
    md.write_text(markdown(result))
    return j, md
