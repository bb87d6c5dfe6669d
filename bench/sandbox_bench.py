"""What the RUN sandbox's network design costs: per RUN, and on a download-heavy RUN.

    sudo .venv/bin/python bench/sandbox_bench.py [--runs 10] [--mb 300]

Runs RUN steps straight through mason's NamespaceRunner on a busybox root made here (no image,
no snapshot: only the sandbox is measured), in the three network modes:

* ``host``: the builder's network namespace (``RUN --network=host``; the cost of design (b),
  the shared namespace with capabilities dropped, is this one);
* ``none``: a namespace of its own with only loopback;
* ``sandbox``: a namespace of its own with slirp4netns (the default, design (a)).

1. a trivial RUN (``true``): the median and spread of ``--runs`` wall times;
2. a download-heavy RUN: busybox ``wget`` of a ``--mb`` MB file from busybox ``httpd`` on the
   builder's 127.0.0.1 (at 127.0.0.1 for ``host``, at slirp4netns's gateway 10.0.2.2 with
   ``host_loopback`` for ``sandbox``); the median of 3 wall times and its throughput.
3. with ``--apt-root DIR`` (a ``debootstrap --variant=minbase bookworm DIR`` tree): a real
   download-heavy RUN, ``apt-get update`` plus ``apt-get install -d curl python3`` from the
   Debian mirror, 3 runs per mode, interleaved (the mirror's speed drifts).
Every server listens on 127.0.0.1 only. Prints measured figures only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mason.sandbox.namespace import NamespaceRunner  # noqa: E402
from mason.sandbox.spec import RunSpec  # noqa: E402
from tests.support.busyroot import make_busybox_root  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(runner, root, cmd, network, loopback=False) -> float:
    spec = RunSpec(root=root, argv=("/bin/sh", "-c", cmd), env=("PATH=/bin",), network=network,
                   host_loopback=loopback)
    lines = []
    t0 = time.monotonic()
    code = runner.run(spec, lambda stream, line: lines.append(line))
    elapsed = time.monotonic() - t0
    if code != 0:
        raise SystemExit(f"RUN {cmd!r} ({network}) failed with {code}: {lines[-5:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--mb", type=int, default=300)
    ap.add_argument("--apt-root", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        tmp = Path(tmp)
        root = make_busybox_root(tmp / "root")
        runner = NamespaceRunner(tmp / "scratch")
        print(f"trivial RUN (true), {args.runs} runs each, wall ms")
        for network in ("host", "none", "sandbox"):
            _run(runner, root, "true", network)  # warm
            times = [_run(runner, root, "true", network) * 1000 for _ in range(args.runs)]
            print(f"  {network:8s} median {statistics.median(times):6.1f}  min {min(times):6.1f}  "
                  f"max {max(times):6.1f}")
        www = tmp / "www"
        www.mkdir()
        with open(www / "big", "wb") as f:
            for _ in range(args.mb):
                f.write(os.urandom(1 << 20))
        port = _free_port()
        httpd = subprocess.Popen([shutil.which("busybox"), "httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", str(www)])
        try:
            time.sleep(0.3)
            print(f"download-heavy RUN (wget of {args.mb} MB from 127.0.0.1), 3 runs each")
            for network, host, loopback in (("host", "127.0.0.1", False), ("sandbox", "10.0.2.2", True)):
                cmd = f"wget -q -O /dev/null http://{host}:{port}/big"
                times = [_run(runner, root, cmd, network, loopback) for _ in range(3)]
                med = statistics.median(times)
                print(f"  {network:8s} median {med:6.2f} s  ({args.mb / med:6.0f} MB/s)  all "
                      + " ".join(f"{t:.2f}" for t in times))
        finally:
            httpd.terminate()
            httpd.wait()
        if args.apt_root:
            _apt(runner, args.apt_root)


APT = ("rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb && apt-get update -qq && "
       "apt-get install -y -qq --no-install-recommends -d curl python3 >/dev/null")


def _apt(runner, root: Path) -> None:
    print("apt-get update + install -d curl python3 (Debian mirror), 3 runs each, interleaved")
    times = {"host": [], "sandbox": []}
    for _ in range(3):
        for network in times:
            spec = RunSpec(root=root, argv=("/bin/sh", "-c", APT), network=network,
                           env=("PATH=/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND=noninteractive"))
            lines = []
            t0 = time.monotonic()
            if runner.run(spec, lambda stream, line: lines.append(line)) != 0:
                raise SystemExit(f"apt RUN ({network}) failed: {lines[-5:]}")
            times[network].append(time.monotonic() - t0)
    for network, values in times.items():
        print(f"  {network:8s} median {statistics.median(values):6.1f} s  all " + " ".join(f"{t:.1f}" for t in values))


if __name__ == "__main__":
    main()
