#!/usr/bin/env python3
"""mason against itself: two (or more) source trees, same scenario, runs interleaved.

    python3 bench/ab.py --src before=/work/main/src --src after=src --scenario one-file --runs 5
    python3 bench/ab.py --src now=src --scenario cold --runs 1 --profile /tmp/prof   # py-spy
    python3 bench/ab.py --src before=/tmp/src-before --src after=src --tools mason,mason-unpriv --scenario cold

On a shared machine absolute times drift with other people's load, so a before/after
comparison must alternate the variants run by run (ABAB..., the first variant changing
each run) and compare medians; this does that, with the benchmark's own registry, bases,
scenario contexts and fresh local state per build (``bench/lib``). ``--tools`` runs each
variant with several of the benchmark's mason tools (``mason``, ``mason-unpriv``,
``mason-hostroot``) back to back, and prints each tool's ratio to the first one, pairwise per
run and variant: on a loaded machine that ratio is steadier than either time. ``--profile DIR`` runs
each measured build under ``py-spy record --idle --threads --format raw`` (py-spy is not a
mason dependency: point ``--py-spy`` at any install of it) and prints the top entries.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from lib import bases, deps, scenarios, tools, workfs  # noqa: E402
from lib.mounts import unmount_under  # noqa: E402
from lib.registry import Registry  # noqa: E402


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--src", action="append", required=True, help="NAME=DIR: a mason source tree (repeat)")
    p.add_argument("--scenario", default="one-file", help="cold, all-cached, one-file, big-root, copy-many, ...")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--profile", type=Path, default=None, help="directory for py-spy raw profiles")
    p.add_argument("--py-spy", default="py-spy")
    p.add_argument("--cache-dir", type=Path, default=BENCH / ".cache")
    p.add_argument("--extra", default="", help="extra mason flags appended to the template")
    p.add_argument("--tools", default="mason", help="mason tools to run per variant, e.g. mason,mason-unpriv")
    p.add_argument("--work-fs", choices=("host", "ext4-journal"), default="host",
                   help="where the work tree lives, as in run.py (bench/lib/workfs.py says why)")
    p.add_argument("--work-fs-gb", type=int, default=40, help="size of the --work-fs ext4-journal image (sparse)")
    return p.parse_args(argv)


def top(raw: Path, n: int = 25) -> str:
    """Inclusive and self sample counts per function from py-spy's collapsed stacks (all
    threads; idle included, so inclusive counts of the main thread are wall-clock shares)."""
    incl: collections.Counter = collections.Counter()
    own: collections.Counter = collections.Counter()
    total = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        thread, frames = frames[0], frames[1:]
        c = int(count)
        total[thread] += c
        for f in set(frames):
            incl[(thread, f)] += c
        if frames:
            own[(thread, frames[-1])] += c
    out = [f"threads (samples): {dict(total.most_common(6))}", "-- inclusive --"]
    out += [f"{c:6d}  {t[:20]:20} {f[:140]}" for (t, f), c in incl.most_common(n * 2)]
    out += ["-- self --"]
    out += [f"{c:6d}  {t[:20]:20} {f[:140]}" for (t, f), c in own.most_common(n)]
    return "\n".join(out)


def main(argv=None) -> int:
    args = parse(argv)
    variants = [tuple(s.split("=", 1)) for s in args.src]
    sizes = scenarios.Sizes.quick() if args.quick else scenarios.Sizes()
    sc = scenarios.select([args.scenario])[0]
    deps.ensure_packages()
    layouts = bases.make_bases(args.cache_dir.resolve(), sizes.bigroot_files)
    work = BENCH / ".work" / f"ab-{uuid.uuid4().hex[:6]}"
    logs = BENCH / "results" / "logs" / work.name
    image = work.with_name(work.name + ".ext4")
    if args.work_fs == "ext4-journal":
        work.mkdir(parents=True)
        workfs.mount_journaled_ext4(image, work, args.work_fs_gb)
    logs.mkdir(parents=True, exist_ok=True)
    names = args.tools.split(",")
    times: dict[tuple[str, str], list[float]] = {(v, t): [] for v, _ in variants for t in names}
    cpus: dict[tuple[str, str], list[float]] = {(v, t): [] for v, _ in variants for t in names}
    ratios: dict[tuple[str, str], list[float]] = {(v, t): [] for v, _ in variants for t in names[1:]}
    try:
        with Registry(work / "registry") as reg:
            refs = bases.push_bases(layouts, reg.host)
            refs["bigroot"] = refs[f"bigroot-{sizes.bigroot_files}"]
            context = work / "ctx"
            dockerfile = sc.write(context, sizes, refs)
            for i in range(args.runs):
                order = variants if i % 2 == 0 else list(reversed(variants))
                for name, src in order:
                    template = tools.MASON_TEMPLATE + (" " + args.extra if args.extra else "")
                    made = tools.make_tools(names, None, template, Path(src).resolve(), args.cache_dir.resolve())
                    seconds: dict[str, float] = {}
                    for mason in (made if i % 2 == 0 else list(reversed(made))):
                        tag = f"{name}-{mason.name}-{i}-{uuid.uuid4().hex[:6]}"
                        prof = None
                        if args.profile and mason.name != "mason-hostroot":
                            args.profile.mkdir(parents=True, exist_ok=True)
                            prof = args.profile / f"{args.scenario}-{tag}.txt"
                        plain = tools.make_tools([mason.name], None, template, Path(src).resolve(),
                                                 args.cache_dir.resolve())[0]
                        if prof is not None:
                            mason.mason = (f"{args.py_spy} record --idle --threads --format raw -r 100 "
                                           f"-o {prof} -- {mason.mason}")
                        log = logs / f"{tag}.log"

                        def req(phase, tag=tag, log=log):
                            return tools.BuildRequest(context=context, dockerfile=dockerfile,
                                                      destination=f"{reg.host}/out/{tag}:{phase}",
                                                      cache_repo=f"{reg.host}/cache/{tag}", registry=reg.host,
                                                      state=work / "state" / f"{tag}-{phase}", log=log)

                        if sc.reset:
                            sc.reset(context)
                        if sc.prime:
                            primed = plain.build(req("prime"))
                            if primed.returncode:
                                print(f"{name}/{mason.name}: priming failed, see {log}")
                                return 1
                        if sc.mutate:
                            sc.mutate(context, tag)
                        load = os.getloadavg()[0]
                        m = mason.build(req("measured"))
                        status = "" if m.returncode == 0 else f" FAILED (see {log})"
                        print(f"ab: {args.scenario} run {i + 1} {name:10} {mason.name:14} {m.seconds:7.2f} s "
                              f"cpu {m.cpu_seconds:6.2f} s  load {load:4.1f}  rss {m.peak_rss_mb:5.0f} MB{status}",
                              flush=True)
                        if m.returncode == 0:
                            times[(name, mason.name)].append(m.seconds)
                            cpus[(name, mason.name)].append(m.cpu_seconds)
                            seconds[mason.name] = m.seconds
                        if prof is not None and prof.exists():
                            (prof.with_suffix(".top")).write_text(top(prof))
                    for other in names[1:]:
                        if names[0] in seconds and other in seconds:
                            ratios[(name, other)].append(seconds[other] / seconds[names[0]])
    finally:
        unmount_under(work)
        shutil.rmtree(work, ignore_errors=True)
        image.unlink(missing_ok=True)
    print(f"ab: {args.scenario}, {args.runs} runs, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    for (name, tool), ts in times.items():
        if ts:
            cs = cpus[(name, tool)]
            print(f"ab: {name:10} {tool:14} median {statistics.median(ts):7.2f} s (runs {', '.join(f'{t:.2f}' for t in ts)})"
                  f"  cpu median {statistics.median(cs):6.2f} s (runs {', '.join(f'{c:.2f}' for c in cs)})")
    for (name, tool), rs in ratios.items():
        if rs:
            print(f"ab: {name:10} {tool}/{names[0]} median {statistics.median(rs):5.2f} (runs {', '.join(f'{r:.2f}' for r in rs)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
