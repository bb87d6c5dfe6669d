"""Resource bounds on hostile Dockerfiles: memory linear in the Dockerfile's length (ENV lines
used to cost quadratic memory: 4,000 lines took 670 MB, 20,000 a MemoryError) and a bound on
what variable expansion may produce (a 500-byte Dockerfile that repeats a variable ten times per
line grew a word tenfold per line and spun for minutes). Peak memory is the child's VmHWM."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.reliability.relhelpers import assert_no_traceback, cli_env, text, work_dirs

pytestmark = pytest.mark.integration

_MEASURED = ("import re, runpy, sys; sys.argv = ['mason'] + sys.argv[1:]\n"
             "try:\n    runpy.run_module('mason', run_name='__main__')\n"
             "finally:\n    print('PEAK', re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1),"
             " file=sys.stderr)")


def _measured_build(tmp_path, dockerfile: str, name: str) -> tuple[subprocess.CompletedProcess, int]:
    ctx = tmp_path / name
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    proc = subprocess.run([sys.executable, "-c", _MEASURED, "build", "--context", str(ctx), "--no-push",
                           "--oci-layout-path", str(tmp_path / f"out-{name}"), "--work-dir", str(tmp_path / "work"),
                           "--verbosity", "warn"],
                          capture_output=True, env=cli_env(), timeout=600)
    assert_no_traceback(proc)
    assert work_dirs(tmp_path / "work") == []
    return proc, int(re.findall(r"PEAK (\d+)", proc.stderr.decode())[-1])


def _env_lines(n: int) -> str:
    return "FROM scratch\n" + "".join(f"ENV VARIABLE_{i}=value-{i}-abcdefghijklmnopqrstuvwxyz\n" for i in range(n))


def test_memory_is_linear_in_env_lines(tmp_path):
    peaks = {}
    for n in (1_000, 4_000, 20_000):
        proc, peaks[n] = _measured_build(tmp_path, _env_lines(n), f"env{n}")
        assert proc.returncode == 0, text(proc)[-2000:]
    print("peak kB by ENV lines:", peaks)
    # 19,000 more lines cost well under 10 kB each (quadratic growth cost 670 MB at 4,000 lines)
    assert peaks[20_000] - peaks[1_000] < 190_000, peaks
    assert peaks[4_000] < 150_000, peaks


def test_arg_lines_are_linear_too(tmp_path):
    dockerfile = "FROM scratch\n" + "".join(f"ARG A{i}=v{i}\n" for i in range(20_000)) + "LABEL last=$A19999\n"
    proc, peak = _measured_build(tmp_path, dockerfile, "args")
    assert proc.returncode == 0, text(proc)[-2000:]
    assert peak < 250_000, peak


def test_an_expansion_bomb_is_a_clear_error_at_its_line(tmp_path):
    lines = ["FROM scratch", "ENV a=0123456789"]
    for prev, name in zip("abcdefghij", "bcdefghijk"):
        lines.append(f"ENV {name}=" + ("${" + prev + "}") * 10)
    lines.append("LABEL x=$k")
    dockerfile = "\n".join(lines) + "\n"
    assert len(dockerfile) < 600
    proc, peak = _measured_build(tmp_path, dockerfile, "bomb")
    out = text(proc)
    assert proc.returncode == 1, out[-2000:]
    # g = ten copies of f (10^6 bytes): the first word past the bound, on line 8
    assert "Dockerfile:8" in out and "larger than 1048576 bytes" in out, out[-2000:]
    assert peak < 200_000, peak


@pytest.mark.parametrize("mode", ["auto", "walk"])
def test_the_layer_entry_limit_is_an_option_named_by_its_hint(tmp_path, mode):
    from tests.reliability.relhelpers import gz_layer, mason, member, write_layout

    layout = write_layout(tmp_path / "l", [gz_layer([member(f"f{i}") for i in range(1_200)])])
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "f").write_text("f\n")
    (ctx / "Dockerfile").write_text(f"FROM oci:{layout}\nCOPY f /f\n")
    common = ("build", "--context", str(ctx), "--no-push", "--work-dir", str(tmp_path / "work"),
              "--snapshot-mode", mode)
    proc = mason(*common, "--max-layer-entries", "1000")
    out = text(proc)
    assert_no_traceback(proc)
    assert proc.returncode == 1, out[-2000:]
    assert "more than 1000 entries" in out and "--max-layer-entries" in out, out[-2000:]
    assert "ExtractLimits" not in out
    assert work_dirs(tmp_path / "work") == []
    proc = mason(*common, "--max-layer-entries", "1201")
    assert proc.returncode == 0, text(proc)[-2000:]
