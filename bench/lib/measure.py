"""Run one command and measure it: wall time and peak memory of its whole process tree.

Two memory figures, because neither alone is the truth:
- ``tree_rss_mb``: the largest sum of RSS over the command and all its descendants, sampled
  from /proc every ``interval`` seconds (short spikes between samples are missed; shared pages
  are counted once per process, so it errs high);
- ``max_proc_rss_mb``: ru_maxrss from wait4, the peak of the single largest process of the tree
  (exact, but blind to several processes being big at once).
``peak_rss_mb`` is the larger of the two, and is what the report compares with the target.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Measurement:
    seconds: float
    tree_rss_mb: float
    max_proc_rss_mb: float
    returncode: int
    cpu_seconds: float = 0.0   # user + system of the tree (wait4: the process and its reaped descendants)

    @property
    def peak_rss_mb(self) -> float:
        return max(self.tree_rss_mb, self.max_proc_rss_mb)


def _tree_rss_bytes(root: int) -> int:
    """Sum of RSS of root and its descendants, from one pass over /proc/*/stat."""
    rss, members = _tree(root)
    return sum(rss.get(p, 0) for p in members)


def _tree(root: int) -> tuple[dict[int, int], set[int]]:
    """(pid -> RSS bytes for every process, root and its descendants)."""
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        # fields after the ")" closing comm: state ppid ... rss is field 24 overall
        rest = data[data.rfind(b")") + 2:].split()
        pid = int(name)
        parent[pid] = int(rest[1])
        rss[pid] = int(rest[21]) * _PAGE
    members = {root}
    changed = True
    while changed:
        changed = False
        for pid, ppid in parent.items():
            if ppid in members and pid not in members:
                members.add(pid)
                changed = True
    return rss, members


def kill_tree(root: int) -> None:
    """SIGKILL root's process group and every descendant (some leave the group, e.g. setsid)."""
    try:
        _, members = _tree(root)
    except OSError:
        members = {root}
    try:
        os.killpg(root, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for pid in members:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class _Sampler(threading.Thread):
    def __init__(self, pid: int, interval: float):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, _tree_rss_bytes(self.pid))
            self.done.wait(self.interval)


def run_measured(argv: list[str], log: Path, env: dict | None = None, cwd: Path | None = None,
                 interval: float = 0.1) -> Measurement:
    """Run argv to completion (output to log), killing its process group if we are interrupted."""
    with open(log, "ab") as out:
        out.write(("$ " + " ".join(argv) + "\n").encode())
        out.flush()
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True)
    sampler = _Sampler(proc.pid, interval)
    sampler.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except BaseException:
        kill_tree(proc.pid)
        proc.wait()
        raise
    finally:
        sampler.done.set()
        sampler.join()
    elapsed = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measurement(seconds=elapsed, tree_rss_mb=sampler.peak / 2**20,
                       max_proc_rss_mb=usage.ru_maxrss / 1024, returncode=proc.returncode,
                       cpu_seconds=usage.ru_utime + usage.ru_stime)


def combine(parts: list[Measurement]) -> Measurement:
    """Steps run one after another (bud then push): times add, peaks take the max."""
    return Measurement(seconds=sum(p.seconds for p in parts),
                       tree_rss_mb=max(p.tree_rss_mb for p in parts),
                       max_proc_rss_mb=max(p.max_proc_rss_mb for p in parts),
                       returncode=next((p.returncode for p in parts if p.returncode), 0),
                       cpu_seconds=sum(p.cpu_seconds for p in parts))
