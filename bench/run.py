#!/usr/bin/env python3
"""mason vs Buildah, side by side: one command, not part of the test suite.

    sudo python3 bench/run.py [--runs 3] [--scenarios cold,all-cached] [--tools mason,buildah] [--quick]

Installs what it needs (buildah, debootstrap, time) from Debian, makes its base images
itself, starts its own registry on 127.0.0.1, and writes bench/results/<timestamp>.{json,md}.
Everything it starts (registry, buildah storage and mounts, scratch dirs) is removed on exit,
Ctrl-C included. See bench/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import signal
import sys
import time
import uuid
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from lib import bases, deps, report, scenarios, tools, workfs  # noqa: E402
from lib.mounts import unmount_under  # noqa: E402
from lib.registry import Registry  # noqa: E402


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=None, help="measured runs per scenario and tool (default 3, 1 with --quick)")
    p.add_argument("--scenarios", default="", help="comma-separated subset of: "
                   + ", ".join(s.name for s in scenarios.SCENARIOS))
    p.add_argument("--tools", default="mason,buildah",
                   help="comma-separated: " + ", ".join(tools.TOOL_NAMES)
                        + " (mason-unpriv: mason in the unprivileged-container harness, chroot isolation;"
                        " mason-hostroot: in a container of mason's image, host-root isolation)")
    p.add_argument("--quick", action="store_true", help="smoke check: 1 run, about 10x fewer files")
    p.add_argument("--mason-cmd", default=None, help="how to start mason (default: python -m mason from the venv)")
    p.add_argument("--mason-template", default=None,
                   help="the whole mason command line with {mason} {context} {dockerfile} {destination} "
                        "{cache_repo} {registry} {work_dir} {cache_dir} (default: %s)" % tools.MASON_TEMPLATE.replace("%", "%%"))
    p.add_argument("--mason-src", type=Path, default=None,
                   help="mason source tree put on PYTHONPATH (default: this checkout's src/)")
    p.add_argument("--cache-dir", type=Path, default=BENCH / ".cache",
                   help="where the debootstrap root and base image layouts are kept between runs")
    p.add_argument("--results-dir", type=Path, default=BENCH / "results")
    p.add_argument("--work-fs", choices=("host", "ext4-journal"), default="host",
                   help="where the work tree lives: this machine's disk (default), or a fresh journaled "
                        "ext4 image loop-mounted for the run (bench/lib/workfs.py says why)")
    p.add_argument("--work-fs-gb", type=int, default=40, help="size of the --work-fs ext4-journal image (sparse)")
    p.add_argument("--keep-going", action="store_true", default=True, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _sigterm(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv=None) -> int:
    args = parse(argv)
    runs = args.runs or (1 if args.quick else 3)
    sizes = scenarios.Sizes.quick() if args.quick else scenarios.Sizes()
    chosen = scenarios.select([s for s in args.scenarios.split(",") if s])
    the_tools = tools.make_tools([t for t in args.tools.split(",") if t], args.mason_cmd, args.mason_template, args.mason_src,
                                 args.cache_dir.resolve())
    signal.signal(signal.SIGTERM, _sigterm)
    # even when started with SIGINT ignored (a background job of a script), Ctrl-C/kill -INT cleans up
    signal.signal(signal.SIGINT, signal.default_int_handler)
    deps.ensure_packages()
    layouts = bases.make_bases(args.cache_dir.resolve(), sizes.bigroot_files)

    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    work = BENCH / ".work" / f"{started.replace(':', '')}-{uuid.uuid4().hex[:6]}"
    logs = args.results_dir / "logs" / work.name  # kept (git-ignored): the tools' own output
    image = work.with_name(work.name + ".ext4")
    if args.work_fs == "ext4-journal":
        work.mkdir(parents=True)
        workfs.mount_journaled_ext4(image, work, args.work_fs_gb)
    results = {"started": started, "runs": runs, "quick": args.quick, "sizes": dataclasses.asdict(sizes),
               "work_fs": args.work_fs,
               "mason_template": args.mason_template or tools.MASON_TEMPLATE, "measurements": {}}
    try:
        with Registry(work / "registry") as reg:
            refs = bases.push_bases(layouts, reg.host)
            refs["bigroot"] = refs[f"bigroot-{sizes.bigroot_files}"]
            results["machine"] = report.machine(the_tools)
            results["registry"] = reg.host
            for sc in chosen:
                context = work / "ctx" / sc.name
                dockerfile = sc.write(context, sizes, refs)
                per_tool = results["measurements"].setdefault(sc.name, {t.name: [] for t in the_tools})
                for i in range(runs):
                    # alternate which tool goes first, so neither always gets the warmer page cache
                    order = the_tools if i % 2 == 0 else list(reversed(the_tools))
                    for tool in order:
                        m = _one(sc, tool, i, context, dockerfile, reg.host, work, logs)
                        per_tool[tool.name].append(m)
                        print(f"bench: {sc.name:16} run {i + 1}/{runs} {tool.name:12} "
                              + (f"{m['seconds']:7.1f} s  peak RSS {m['peak_rss_mb']:6.0f} MB"
                                 if m["returncode"] == 0 else f"FAILED (exit {m['returncode']}, log {m['log']})"),
                              flush=True)
            results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    except KeyboardInterrupt:
        print("bench: interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        unmount_under(work)
        shutil.rmtree(work, ignore_errors=True)
        image.unlink(missing_ok=True)

    results["summary"] = report.summarize(chosen, results["measurements"])
    j, md = report.write(results, args.results_dir)
    print(report.markdown(results))
    print(f"bench: wrote {j} and {md}")
    return 0


def _one(sc, tool, i, context, dockerfile, host, work, logdir) -> dict:
    """Prime (if the scenario wants), mutate, then the measured build; all on fresh local state."""
    tag = f"{tool.name}-{sc.name}-{i}-{uuid.uuid4().hex[:6]}"
    cache_repo = f"{host}/cache/{tag}"
    logdir.mkdir(parents=True, exist_ok=True)
    log = logdir / f"{tag}.log"

    def req(phase):
        return tools.BuildRequest(context=context, dockerfile=dockerfile,
                                  destination=f"{host}/out/{tool.name}-{sc.name}:{i}-{phase}",
                                  cache_repo=cache_repo, registry=host,
                                  state=work / "state" / f"{tag}-{phase}", log=log)

    if sc.reset:
        sc.reset(context)
    if sc.prime:
        primed = tool.build(req("prime"))
        if primed.returncode:
            return {"seconds": primed.seconds, "returncode": primed.returncode, "phase": "prime",
                    "peak_rss_mb": primed.peak_rss_mb, "log": str(log)}
    if sc.mutate:
        sc.mutate(context, tag)
    # the machine may be shared (other sessions' tests): record how busy it was
    load = os.getloadavg()[0]
    m = tool.build(req("measured"))
    return {"seconds": m.seconds, "load1_before": load, "tree_rss_mb": m.tree_rss_mb, "max_proc_rss_mb": m.max_proc_rss_mb,
            "peak_rss_mb": m.peak_rss_mb, "returncode": m.returncode, "log": str(log)}


if __name__ == "__main__":
    try:
        sys.exit(main())
    except deps.BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        sys.exit(1)
