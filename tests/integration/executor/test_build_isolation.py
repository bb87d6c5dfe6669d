"""The reason mason exists: builds in one process never see each other (Kaniko #1829)."""

from __future__ import annotations

import threading

import pytest

from mason.errors import BuildError
from tests.integration.executor.buildhelpers import build, overlay_mounts_below, tree, unpack, write_context

TRAP = """\
FROM {base} AS build
RUN mkdir -p /out && echo {name} > /out/{name}.txt
FROM {base}
COPY --from=build /out /out
"""


def _contexts(tmp_path, busybox_layout):
    base = f"oci:{busybox_layout}:latest"
    return {name: write_context(tmp_path / f"ctx-{name}", TRAP.format(base=base, name=name))
            for name in ("a", "b")}


def _check(tmp_path, name, layout):
    root = unpack(layout, tmp_path / f"unpacked-{name}-{layout.name}")
    assert tree(root, "out") == {f"out/{name}.txt": f"{name}\n"}


def test_kaniko_trap_sequential_builds_do_not_leak(tmp_path, busybox_layout):
    ctx = _contexts(tmp_path, busybox_layout)
    work = tmp_path / "work"
    for name in ("a", "b"):
        build(ctx[name], tmp_path / f"out-{name}", work)
    for name in ("a", "b"):
        _check(tmp_path, name, tmp_path / f"out-{name}")
    assert list(work.iterdir()) == []


def test_kaniko_trap_parallel_builds_do_not_leak(tmp_path, busybox_layout):
    ctx = _contexts(tmp_path, busybox_layout)
    work = tmp_path / "work"
    errors = []

    def one(name):
        try:
            build(ctx[name], tmp_path / f"par-{name}", work, cache_dir=tmp_path / "shared-cache")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for name in ("a", "b"):
        _check(tmp_path, name, tmp_path / f"par-{name}")
    assert list(work.iterdir()) == []


def test_failed_build_leaves_nothing_and_names_the_line(tmp_path, busybox_layout):
    ctx = write_context(tmp_path / "ctx", f"FROM oci:{busybox_layout}:latest\nRUN echo fine\nRUN exit 3\n")
    work = tmp_path / "work"
    with pytest.raises(BuildError) as info:
        build(ctx, tmp_path / "out", work)
    assert ":3" in str(info.value) and "code 3" in str(info.value)
    assert list(work.iterdir()) == []
    assert overlay_mounts_below(tmp_path) == []
    assert not (tmp_path / "out").exists()
