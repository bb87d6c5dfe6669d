"""Child process for the memory test: push then pull a large generated blob, print peak RSS.

Run as ``python memory_child.py HOST SIZE_MB``; prints one JSON line. The blob is generated
on the fly (a random 1 MiB block with a per-block counter), never held in memory whole.
"""

import hashlib
import io
import json
import os
import sys
import time

from mason.oci.reference import parse_reference
from mason.registry import RegistryClient, RegistryOptions

BLOCK = 1 << 20


class Generated(io.RawIOBase):
    def __init__(self, seed: bytes, size: int):
        self._seed, self._size, self._pos = seed, size, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self._size - self._pos)
        if n <= 0:
            return 0
        out, done = memoryview(buffer), 0
        while done < n:
            block, offset = divmod(self._pos, BLOCK)
            take = min(n - done, BLOCK - offset)
            chunk = block.to_bytes(8, "big") + self._seed[8:]
            out[done:done + take] = chunk[offset:offset + take]
            done += take
            self._pos += take
        return n


def main() -> None:
    host, size = sys.argv[1], int(sys.argv[2]) * BLOCK
    seed = os.urandom(BLOCK)
    hasher, source = hashlib.sha256(), io.BufferedReader(Generated(seed, size), BLOCK)
    while chunk := source.read(BLOCK):
        hasher.update(chunk)
    digest = f"sha256:{hasher.hexdigest()}"
    client = RegistryClient(options=RegistryOptions(insecure_registries={host}))
    repo = parse_reference(f"{host}/memory/big")
    start = time.monotonic()
    client.upload_blob(repo, digest, size, lambda: io.BufferedReader(Generated(seed, size), BLOCK))
    uploaded = time.monotonic()
    total = 0
    with client.open_blob(repo, digest, size) as f:
        while chunk := f.read(BLOCK):
            total += len(chunk)
    done = time.monotonic()
    print(json.dumps({"peak_rss_kb": peak_rss_kb(), "bytes": total,
                      "upload_s": round(uploaded - start, 2), "download_s": round(done - uploaded, 2)}))



def peak_rss_kb() -> int:
    """This process's own peak RSS (VmHWM). Not ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux
    carries that over ``execve`` from the pre-exec image, and a child spawned with vfork
    (as subprocess does) then reports at least its parent's (pytest's) resident size."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


if __name__ == "__main__":
    main()
