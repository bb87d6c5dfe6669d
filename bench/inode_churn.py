#!/usr/bin/env python3
"""File creation right after many deletions, on one directory's file system.

    python3 bench/inode_churn.py /var/tmp/churn          # this machine's disk
    python3 bench/inode_churn.py /mnt/journaled/churn    # e.g. a loop-mounted journaled ext4

Creates 7 000 files of 700 bytes (70 directories of 100), then 16 000 more which are synced
and deleted, then 7 000 again, and prints the wall and system seconds of each phase. On an
ext4 without a journal the second creation pays for the deletions just before it
(``recently_deleted()``); bench/README.md has the figures and why the unprivileged levels
care. The directory must not exist; it is removed at the end.
"""

from __future__ import annotations

import os
import shutil
import sys
import time


def make_tree(top: str, files: int) -> None:
    os.makedirs(top)
    for first in range(0, files, 100):
        sub = os.path.join(top, f"d{first // 100}")
        os.mkdir(sub)
        for i in range(100):
            with open(os.path.join(sub, f"f{i}"), "wb") as f:
                f.write(b"x" * 700)


def timed(label: str, fn) -> None:
    wall, before = time.perf_counter(), os.times()
    fn()
    after = os.times()
    print(f"{label}: wall {time.perf_counter() - wall:.2f} s, system {after.system - before.system:.2f} s",
          flush=True)


def main() -> int:
    base = sys.argv[1]
    if os.path.exists(base):
        print(f"{base} exists; give a new directory", file=sys.stderr)
        return 2
    try:
        timed("create 7000", lambda: make_tree(os.path.join(base, "a"), 7000))
        make_tree(os.path.join(base, "old"), 16000)
        os.sync()
        timed("delete 16000", lambda: shutil.rmtree(os.path.join(base, "old")))
        timed("create 7000 right after", lambda: make_tree(os.path.join(base, "b"), 7000))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
