"""Start-up time of the CLI: ``python -m mason --help`` and ``python -m mason build --help``.

Not a test (wall time depends on the machine); run it after changing imports:
    PYTHONPATH=src .venv/bin/python bench/cli_startup.py [runs]
Also prints which mason/third-party modules ``mason --help`` imported, to catch eager imports.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def wall(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    baseline = wall(["-c", "pass"], runs)
    for argv in (["-m", "mason", "--help"], ["-m", "mason", "build", "--help"]):
        t = wall(argv, runs)
        print(f"{' '.join(argv[1:]):<24} median {t * 1000:6.1f} ms  (interpreter alone {baseline * 1000:.1f} ms)")
    probe = ("import sys, runpy; sys.argv=['mason','--help']\n"
             "try: runpy.run_module('mason', run_name='__main__')\n"
             "except SystemExit: pass\n"
             "print(sorted(m for m in sys.modules if m.startswith(('mason', 'requests', 'ruamel', 'zstandard', "
             "'isal', 'libarchive'))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout
    print("modules imported by 'mason --help':", out.strip().splitlines()[-1] if out.strip() else "?")


if __name__ == "__main__":
    main()
