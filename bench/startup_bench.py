#!/usr/bin/env python3
"""Start-up and the all-cached rebuild, end to end, in each mode mason runs in.

    python3 bench/startup_bench.py                                  # 5 runs, every mode and scenario
    python3 bench/startup_bench.py --runs 7 --modes privileged,chroot --scenarios small
    python3 bench/startup_bench.py --src before=/tmp/src-before --src after=src --modes privileged,chroot

What is timed is the wall clock of one mason process, start to exit (``bench/lib/measure.py``):

- ``--version`` and ``--help``: interpreter start and the CLI's imports;
- an **all-cached rebuild**: ``mason build --cache=true --cache-repo REG/cache/… --destination
  REG/out/…:tag`` where a priming build (same mode, same source tree) already filled the
  registry layer cache, so every step is a hit and the push finds its layers in the registry.
  Each measured build gets a fresh ``--work-dir``/``--cache-dir`` (an ephemeral CI job).

Scenarios: ``small`` (FROM busybox, a COPY of a few files, two RUNs) and ``two-stage``
(``bench/scenarios/two-stage``, full size: 7 000 generated files, 2 000 context files).
The bases are the test suite's own layouts (``.mason/images/{busybox,debian}``, made by
``scripts/setup``/``scripts/make-debian-image``, never downloaded), pushed with skopeo to a
``docker-registry`` on 127.0.0.1 (``bench/lib/registry.py``).

Modes: ``privileged`` (this machine, root: namespaces), ``chroot`` (the same command through
``tests/support/unpriv_exec.py``, Docker's default container: mason must pick chroot), and
``host-root`` (mason's own image, built by this checkout offline by ``tests.support.masonimage``,
as a container root: ``/kaniko/executor`` run there through the same harness). The harness's
own cost (its interpreter, the namespace set-up) is timed alone and printed beside, since it is
part of the measured wall clock but not of mason. ``--src`` trees apply to privileged and
chroot (``PYTHONPATH``); for host-root, an image is made per tree (its ``src/`` swapped in).
Runs interleave the source trees (ABAB…, alternating which goes first).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO))

from lib import scenarios  # noqa: E402
from lib.measure import run_measured  # noqa: E402
from lib.mounts import unmount_under  # noqa: E402
from lib.registry import Registry  # noqa: E402

EXEC_SCRIPT = REPO / "tests" / "support" / "unpriv_exec.py"
SMALL = """FROM {busybox}
COPY files/ /files/
RUN cat /files/* | wc -c > /size
RUN echo built > /built && ls /files > /list
"""
MODES = ("privileged", "chroot", "host-root")
SCENARIOS = ("small", "two-stage")


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    p.add_argument("--src", action="append", default=None, help="NAME=DIR: a mason source tree (repeat)")
    p.add_argument("--python", default=str(REPO / ".venv/bin/python"))
    p.add_argument("--no-startup", action="store_true", help="skip the --version/--help figures")
    return p.parse_args(argv)


def _run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode:
        raise SystemExit(f"{' '.join(map(str, argv[:4]))}… exited {r.returncode}: {r.stderr[-2000:]}")
    return r


class Runner:
    """How one (mode, source tree) starts mason, and where its fresh state goes."""

    def __init__(self, mode: str, src: Path, python: str, work: Path, hostroot: "HostRoot | None" = None):
        self.mode, self.src, self.python, self.work, self.hostroot = mode, src, python, work, hostroot

    def mason(self, args: list[str], state: Path) -> tuple[list[str], dict]:
        if self.mode == "host-root":
            assert self.hostroot is not None
            # /kaniko/executor is `mason build` (Kaniko's executor): no subcommand, no --version
            args = args[1:] if args[:1] == ["build"] else args
            return self.hostroot.argv(args, state), self.hostroot.env
        argv = [self.python, "-m", "mason", *args]
        if self.mode == "chroot":
            argv = [sys.executable, "-I", str(EXEC_SCRIPT), "--", *argv]
        return argv, dict(_env(), PYTHONPATH=str(self.src))

    def outside(self, path: Path) -> str:
        """path as the mason process sees it (host-root: under the /builds volume)."""
        return self.hostroot.inside(path) if self.mode == "host-root" else str(path)


class HostRoot:
    """mason's image unpacked once; each build runs in the same container root (as CI jobs of
    one runner would), the work tree bound as ``/builds``."""

    def __init__(self, work: Path, name: str, src: Path):
        from tests.support.masonimage import build, build_context

        print(f"bench: building mason's image from {src} for host-root…", flush=True)
        t = time.monotonic()
        img_dir = work / f"img-{name}"
        # the image's mason (its src/ and the wheel it installs) is the tree under test
        context = build_context(img_dir / "context", src=src)
        img = build(img_dir, target=None, cache=img_dir / "cache", context=context)
        bundle = img.unpack(img_dir / "bundle")
        print(f"bench: image built in {time.monotonic() - t:.0f} s", flush=True)
        self.root = work / f"root-{name}"
        _run(["cp", "-a", str(bundle.rootfs), str(self.root)])
        (self.root / ".dockerenv").touch()
        for d in ("proc", "sys", "dev", "builds"):
            (self.root / d).mkdir(exist_ok=True)
        for f in ("etc/hosts", "etc/resolv.conf"):
            (self.root / f).touch()
        self.env = {k: v for k, v in bundle.env().items() if k != "TERM"}
        self.builds = work

    def inside(self, path: Path) -> str:
        return "/builds/" + str(path.relative_to(self.builds))

    def argv(self, args: list[str], state: Path) -> list[str]:
        return [sys.executable, "-I", str(EXEC_SCRIPT), "--rootfs", str(self.root), "--cwd", "/",
                "--bind", f"{self.builds}:/builds", "--", "/kaniko/executor", *args]


def _env() -> dict[str, str]:
    """This environment, but writing bytecode: a CI job's mason (an installed package, an image)
    has its .pyc files, so a run that recompiled every module would measure the wrong thing."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def build_args(r: Runner, ctx: Path, dockerfile: Path, dest: str, cache_repo: str, registry: str,
               state: Path) -> list[str]:
    return ["build", "--context", r.outside(ctx), "--dockerfile", r.outside(dockerfile), "--destination", dest,
            "--cache=true", "--cache-repo", cache_repo, "--work-dir", r.outside(state / "work"),
            "--cache-dir", r.outside(state / "cache"), "--reproducible", "--insecure-registry", registry]


CPU: dict[tuple[str, str, str], list[float]] = {}   # CPU seconds (user + system) per measured run


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(r: Runner, args: list[str], state: Path, log: Path, cpu_key: tuple[str, str, str] | None = None) -> float:
    """Wall seconds of one mason process; its CPU seconds (and its waited-for children's:
    less swayed by other load than wall time, never a substitute for it) go to ``CPU``."""
    state.mkdir(parents=True)
    argv, env = r.mason(args, state)
    before = _children_cpu()
    try:
        m = run_measured(argv, log, env=env, cwd=state)
    finally:
        unmount_under(state)
        shutil.rmtree(state, ignore_errors=True)
    if m.returncode:
        raise SystemExit(f"{r.mode}: {' '.join(args[:2])} exited {m.returncode}; see {log}")
    if cpu_key is not None:
        CPU.setdefault(cpu_key, []).append(_children_cpu() - before)
    return m.seconds


def harness_alone(mode: str, hostroot: HostRoot | None, runs: int, work: Path) -> float:
    """The unprivileged harness starting /bin/true: what it adds to every measured chroot/host-root run."""
    if mode != "chroot":
        return 0.0     # host-root's image has no /bin/true: its harness costs about the same
    times = []
    for _ in range(runs):
        argv, env = [sys.executable, "-I", str(EXEC_SCRIPT), "--", "/bin/true"], _env()
        t = time.monotonic()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.monotonic() - t)
    return statistics.median(times)


def main(argv=None) -> int:
    args = parse(argv)
    if os.geteuid() != 0:
        raise SystemExit("run as root (the privileged mode and the harness need it)")
    modes = [m for m in args.modes.split(",") if m]
    wanted = [s for s in args.scenarios.split(",") if s]
    srcs = [(n, Path(d).resolve()) for n, d in (s.split("=", 1) for s in (args.src or [f"src={REPO / 'src'}"]))]
    work = Path(tempfile.mkdtemp(prefix="startup-"))
    logs = BENCH / "results" / "logs" / work.name
    logs.mkdir(parents=True, exist_ok=True)
    print(f"bench: load average {os.getloadavg()} at the start; logs in {logs}", flush=True)
    results: dict[tuple[str, str, str], list[float]] = {}
    try:
        hostroots = {name: HostRoot(work / "hostroot", name, src) for name, src in srcs} if "host-root" in modes else {}
        hostroot = next(iter(hostroots.values()), None)
        with Registry(work / "registry") as reg:
            refs = {}
            for name, layout, tag in (("busybox", ".mason/images/busybox", "latest"),
                                      ("debian", ".mason/images/debian", "bookworm")):
                ref = f"{reg.host}/bench/{name}:latest"
                if name == "debian" and "two-stage" not in wanted:
                    continue
                _run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{REPO / layout}:{tag}",
                      f"docker://{ref}"])
                refs[name] = ref
            contexts = {}
            for sc in wanted:
                # under the host-root volume so every mode reads the same context
                base = (work / "hostroot") if hostroot else work
                ctx = base / f"ctx-{sc}"
                if sc == "small":
                    (ctx / "files").mkdir(parents=True)
                    for i in range(5):
                        (ctx / "files" / f"f{i}.txt").write_text(f"file {i}\n" * (i + 1))
                    (ctx / "Dockerfile").write_text(SMALL.format(busybox=refs["busybox"]))
                    contexts[sc] = (ctx, ctx / "Dockerfile")
                else:
                    s = scenarios.select(["all-cached"])[0]
                    refs_all = dict(refs, bigroot=refs["busybox"])
                    contexts[sc] = (ctx, s.write(ctx, scenarios.Sizes(), refs_all))
            for mode in modes:
                h = harness_alone(mode, hostroot, args.runs, work)
                if h:
                    print(f"{mode}: the harness alone (/bin/true) median {h:.3f} s", flush=True)
                runners = [(name, Runner(mode, src, args.python, (work / "hostroot") if hostroot else work,
                                         hostroots.get(name)))
                           for name, src in srcs]
                state_base = (work / "hostroot") if hostroot else work
                startup = ("--help",) if mode == "host-root" else ("--version", "--help")
                for _name, r in runners:    # writes the .pyc files a CI job's mason has
                    timed(r, [startup[0]], state_base / f"st-{uuid.uuid4().hex[:8]}", logs / "startup.log")
                if not args.no_startup:
                    for what in startup:
                        for i in range(args.runs):
                            for name, r in (runners if i % 2 == 0 else runners[::-1]):
                                t = timed(r, [what], state_base / f"st-{uuid.uuid4().hex[:8]}", logs / "startup.log",
                                          (mode, what, name))
                                results.setdefault((mode, what, name), []).append(t)
                for sc in wanted:
                    ctx, dockerfile = contexts[sc]
                    for name, r in runners:
                        tag = f"{mode}-{sc}-{name}-{uuid.uuid4().hex[:6]}"
                        log = logs / f"{tag}.log"
                        state = state_base / f"state-{tag}"
                        cache_repo = f"{reg.host}/cache/{tag}"
                        timed(r, build_args(r, ctx, dockerfile, f"{reg.host}/out/{tag}:prime", cache_repo,
                                            reg.host, state / "prime"), state / "prime", log)
                        r.cache_repo = cache_repo  # type: ignore[attr-defined]
                        r.tag = tag  # type: ignore[attr-defined]
                    for i in range(args.runs):
                        for name, r in (runners if i % 2 == 0 else runners[::-1]):
                            tag = r.tag  # type: ignore[attr-defined]
                            args_ = build_args(r, ctx, dockerfile, f"{reg.host}/out/{tag}:run{i}",
                                               r.cache_repo, reg.host,  # type: ignore[attr-defined]
                                               state_base / f"state-{tag}" / f"run{i}")
                            t = timed(r, args_, state_base / f"state-{tag}" / f"run{i}", logs / f"{tag}.log",
                                      (mode, sc, name))
                            results.setdefault((mode, sc, name), []).append(t)
                            print(f"  {mode:10} {sc:9} {name:8} run {i}: {t:.3f} s "
                                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
    finally:
        unmount_under(work)
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nbench: load average {os.getloadavg()} at the end")
    print("| mode | what | tree | median wall s | runs (wall s) | median CPU s | runs (CPU s) |\n"
          "|---|---|---|---:|---|---:|---|")
    for key, ts in results.items():
        mode, what, name = key
        cpu = f"{statistics.median(CPU[key]):.3f}" if CPU.get(key) else "—"
        cpu_runs = ", ".join(f"{c:.2f}" for c in CPU.get(key, ()))
        print(f"| {mode} | {what} | {name} | {statistics.median(ts):.3f} | {', '.join(f'{t:.3f}' for t in ts)} "
              f"| {cpu} | {cpu_runs} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
