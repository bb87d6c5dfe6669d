"""Medians, pairwise ratios, and the JSON + Markdown report with the machine description."""

from __future__ import annotations

import json
import os
import platform
import statistics
from pathlib import Path

RSS_TARGET_MB = 200
CACHE_HIT_TARGET = 0.1  # mason all-cached / mason cold (layer cache issue), also for mason-unpriv


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


# Tools in the order the report shows them, and the ratios it computes (numerator/denominator),
# each pairwise within one run, then the median. The scenario's target is judged for
# every ratio to Buildah; mason-unpriv/mason and mason-hostroot/mason are the costs of the
# unprivileged modes (chroot, host-root).
TOOL_ORDER = ("buildah", "mason", "mason-unpriv", "mason-hostroot")
TITLES = {"buildah": "Buildah", "mason": "mason", "mason-unpriv": "mason-unpriv", "mason-hostroot": "mason-hostroot"}
RATIOS = (("mason", "buildah"), ("mason-unpriv", "buildah"), ("mason-hostroot", "buildah"),
          ("mason-unpriv", "mason"), ("mason-hostroot", "mason"))
CACHE_CHECKED = ("mason", "mason-unpriv", "mason-hostroot")


def _pairwise(num: list, den: list) -> list[float]:
    return [n["seconds"] / d["seconds"] for n, d in zip(num, den)
            if n and d and n["returncode"] == 0 and d["returncode"] == 0]


def summarize(scenarios, runs: dict) -> dict:
    """runs[scenario][tool] = [measurement dict or None per run] -> per-scenario summary.

    ``ratio_median``/``ratios`` stay mason/Buildah (what the targets are about);
    ``ratio_to`` has every ratio of RATIOS whose two tools ran, keyed "a/b".
    """
    out = {}
    for sc in scenarios:
        per = runs.get(sc.name, {})
        row = {"title": sc.title, "target_ratio": sc.target, "ratio_to": {}}
        for tool, ms in per.items():
            ok = [m for m in ms if m and m["returncode"] == 0]
            row[tool] = {
                "median_s": _med([m["seconds"] for m in ok]),
                "peak_rss_mb": max((m["peak_rss_mb"] for m in ok), default=None),
                "ok_runs": len(ok), "runs": len(ms),
            }
        for a, b in RATIOS:
            if a in per and b in per:
                pairs = _pairwise(per[a], per[b])
                row["ratio_to"][f"{a}/{b}"] = {"median": _med(pairs), "pairs": pairs}
        if "mason/buildah" in row["ratio_to"]:
            row["ratio_median"] = row["ratio_to"]["mason/buildah"]["median"]
            row["ratios"] = row["ratio_to"]["mason/buildah"]["pairs"]
        out[sc.name] = row
    check = {}
    for tool in CACHE_CHECKED:
        cold, warm = runs.get("cold", {}).get(tool), runs.get("all-cached", {}).get(tool)
        if cold is not None and warm is not None:
            check[f"{tool}_all_cached_over_cold"] = _med(_pairwise(warm, cold))
    if check:
        out["_cache_hit_check"] = {**check, "target": CACHE_HIT_TARGET}
    return out


def _f(x, fmt="{:.1f}"):
    return "n/a" if x is None else fmt.format(x)


def _cell(d, key, fmt="{:.1f}"):
    if not d:
        return "—"
    if d["ok_runs"] < d["runs"]:
        return f"{_f(d[key], fmt)} ({d['runs'] - d['ok_runs']}/{d['runs']} failed)"
    return _f(d[key], fmt)


def markdown(result: dict) -> str:
    m = result["machine"]
    rows = {k: v for k, v in result["summary"].items() if not k.startswith("_")}
    tools = [t for t in TOOL_ORDER if any(t in row for row in rows.values())]
    ratios = [f"{a}/{b}" for a, b in RATIOS if a in tools and b in tools]
    judged = "buildah" in tools  # the targets are ratios to Buildah: no Buildah, no target column
    head = (["Scenario"] + [f"{TITLES[t]} median s" for t in tools]
            + [f"{TITLES[r.split('/')[0]]}/{TITLES[r.split('/')[1]]}" for r in ratios] + ["target"] * judged
            + [f"{TITLES[t]} peak RSS MB" for t in tools] + ["RSS target"])
    lines = [
        f"# mason vs Buildah benchmark, {result['started']}",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['memory_gb']} GB RAM, kernel {m['kernel']}, {m['os']}"
        f" (load average at start: {m.get('load_average_at_start', 'n/a')}).",
        "Tools: " + "; ".join(f"{k}: {v}" for k, v in m["tools"].items()) + ".",
        f"Runs per scenario: {result['runs']}{' (quick sizes)' if result['quick'] else ''}. Sizes: "
        + ", ".join(f"{k}={v}" for k, v in result["sizes"].items()) + "."
        + (" Work tree on a fresh journaled ext4 image (`--work-fs ext4-journal`)."
           if result.get("work_fs") == "ext4-journal" else ""),
        "",
        "| " + " | ".join(head) + " |",
        "|---|" + "---:|" * (len(head) - 1),
    ]
    for row in rows.values():
        tgt = row["target_ratio"]
        cells = [row["title"]] + [_cell(row.get(t), "median_s") for t in tools]
        for r in ratios:
            ratio = row.get("ratio_to", {}).get(r, {}).get("median")
            verdict = r.endswith("/buildah") and ratio is not None and tgt is not None
            cells.append(_f(ratio, "{:.3f}") + ((" ✅" if ratio <= tgt else " ❌") if verdict else ""))
        if judged:
            cells.append(f"≤ {tgt}" if tgt else "—")
        cells += [_cell(row.get(t), "peak_rss_mb", "{:.0f}") for t in tools] + [f"≤ {RSS_TARGET_MB}"]
        lines.append("| " + " | ".join(cells) + " |")
    chk = result["summary"].get("_cache_hit_check")
    if chk:
        for tool in CACHE_CHECKED:
            if f"{tool}_all_cached_over_cold" in chk:
                lines += ["", f"Cache-hit check ({tool} all-cached / {tool} cold): "
                              f"{_f(chk[f'{tool}_all_cached_over_cold'], '{:.3f}')} (target < {chk['target']})"]
    lines += ["", "Ratios are medians of pairwise ratios within each run; the target is judged for ratios to Buildah.",
              "Peak RSS: max over runs of max(sampled sum over the process tree, ru_maxrss of the largest process).", ""]
    return "\n".join(lines)


def write(result: dict, results_dir: Path) -> tuple[Path, Path]:
    results_dir.mkdir(parents=True, exist_ok=True)
    stem = results_dir / result["started"].replace(":", "").replace("-", "")
    j, md = stem.with_suffix(".json"), stem.with_suffix(".md")
    j.write_text(json.dumps(result, indent=2) + "\n")
    md.write_text(markdown(result))
    return j, md
