"""The Kaniko trap (Kaniko #1829) in the unprivileged harness: two multi-stage builds whose
stages are both named ``build`` write different ``/out`` files; each final image must hold only
its own.  One Python process in the harness calls ``run_build`` for both, one after the other,
then both at once in two threads."""

from __future__ import annotations

import json

import pytest

from tests.integration.executor.buildhelpers import tree, unpack, write_context
from tests.support.unpriv import python_in_harness

pytestmark = pytest.mark.integration

TRAP = """\
FROM {base} AS build
RUN mkdir -p /out && echo {name} > /out/{name}.txt
FROM {base}
COPY --from=build /out /out
"""

DRIVER = r"""
import json, sys, threading
from pathlib import Path
from mason.executor.executor import run_build
from mason.executor.options import BuildOptions
ctx, out, work = json.loads(sys.argv[1])
results, errors = {}, []

def one(name, label):
    try:
        r = run_build(BuildOptions(context_dir=Path(ctx[name]), no_push=True, reproducible=True,
                                   oci_layout_path=Path(out) / f"{label}-{name}", work_root=Path(work)))
        results[f"{label}-{name}"] = [r.image_digest, r.isolation]
    except BaseException as e:
        errors.append(f"{label}-{name}: {type(e).__name__}: {e}")

for name in ("a", "b"):
    one(name, "seq")
threads = [threading.Thread(target=one, args=(n, "par")) for n in ("a", "b")]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"results": results, "errors": errors}))
"""


def test_kaniko_trap_in_harness(tmp_path, busybox_layout):
    base = f"oci:{busybox_layout}:latest"
    ctx = {n: str(write_context(tmp_path / f"ctx-{n}", TRAP.format(base=base, name=n))) for n in ("a", "b")}
    out, work = tmp_path / "out", tmp_path / "work"
    out.mkdir()
    arg = json.dumps([ctx, str(out), str(work)])
    res = python_in_harness(f"import sys; sys.argv[1:] = [{arg!r}]\n" + DRIVER, timeout=120)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout.splitlines()[-1])
    assert report["errors"] == []
    results = report["results"]
    assert {iso for _, iso in results.values()} == {"chroot"}
    for name in ("a", "b"):
        assert results[f"seq-{name}"][0] == results[f"par-{name}"][0]   # reproducible: same image
        for label in ("seq", "par"):
            root = unpack(out / f"{label}-{name}", tmp_path / f"unpacked-{label}-{name}")
            assert tree(root, "out") == {f"out/{name}.txt": f"{name}\n"}
    assert results["seq-a"][0] != results["seq-b"][0]
    assert list(work.iterdir()) == []
