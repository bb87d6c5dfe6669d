"""Keys that are never wrong: each test names the Kaniko bug it guards against."""

from __future__ import annotations

import os

from tests.integration.executor.buildhelpers import write_context
from tests.integration.cache.cachehelpers import cache_build, cache_states
from tests.support.images import push_layout

COPY_RUN = """\
FROM {base}
COPY files/ /files/
RUN ls -ln /files > /listing
"""


def _base(registry, busybox_layout, name="base/busybox", tag="1"):
    push_layout(busybox_layout, f"{registry.host}/{name}:{tag}")
    return f"{registry.host}/{name}:{tag}"


def _copy_context(tmp_path, registry, busybox_layout):
    base = _base(registry, busybox_layout)
    ctx = write_context(tmp_path / "ctx", COPY_RUN.format(base=base), {"files/a.txt": "a\n", "files/b.txt": "b\n"})
    return ctx


def _rebuild_states(ctx, tmp_path, dest, change) -> list[str]:
    cache_build(ctx, tmp_path, dest, cache_copy_layers=True)
    change()
    _, events, _, _, _ = cache_build(ctx, tmp_path, dest, cache_copy_layers=True)
    return cache_states(events)


def test_cache_renaming_a_copied_file_misses_kaniko_2241(tmp_path, registry_plain, busybox_layout):
    ctx = _copy_context(tmp_path, registry_plain, busybox_layout)
    states = _rebuild_states(ctx, tmp_path, f"{registry_plain.host}/inv/rename:1",
                             lambda: os.rename(ctx / "files/b.txt", ctx / "files/c.txt"))
    assert states == ["miss", "miss"]


def test_cache_changing_a_mode_misses_touching_mtimes_hits(tmp_path, registry_plain, busybox_layout):
    ctx = _copy_context(tmp_path, registry_plain, busybox_layout)
    dest = f"{registry_plain.host}/inv/mode:1"
    assert _rebuild_states(ctx, tmp_path, dest, lambda: os.chmod(ctx / "files/a.txt", 0o755)) == ["miss", "miss"]

    def touch():
        for name in ("files/a.txt", "files/b.txt", "files"):
            os.utime(ctx / name, (1_000_000, 1_000_000))

    assert _rebuild_states(ctx, tmp_path, dest, touch) == ["hit", "hit"]


def test_cache_base_change_of_from_only_stage_misses_kaniko_1833(tmp_path, registry_plain, busybox_layout):
    base = _base(registry_plain, busybox_layout, "inv/base", "a")
    dockerfile = "FROM {base} AS parent\nFROM parent\nRUN echo child > /child\n"
    ctx = write_context(tmp_path / "ctx", dockerfile.format(base=f"{registry_plain.host}/inv/moving:1"))
    push_layout(busybox_layout, f"{registry_plain.host}/inv/moving:1")
    dest = f"{registry_plain.host}/inv/fromonly:1"
    first, ev1, _, _, _ = cache_build(ctx, tmp_path, dest)
    assert cache_states(ev1) == ["miss"]
    # Move the tag to a different image (one more layer), built by mason without cache.
    other = write_context(tmp_path / "other", f"FROM {base}\nRUN echo v2 > /v2\n")
    cache_build(other, tmp_path, f"{registry_plain.host}/inv/moving:1", cache_run_layers=False)
    second, ev2, _, _, _ = cache_build(ctx, tmp_path, dest)
    assert cache_states(ev2) == ["miss"]
    assert second.steps[0].cache_key != first.steps[0].cache_key


COPY_FROM = """\
FROM {base} AS src
COPY data/ /data/
FROM {base}
COPY --from=src /data/wanted.txt /wanted.txt
RUN cat /wanted.txt > /seen
"""


def test_cache_copy_from_stage_is_keyed_on_copied_content_kaniko_1244_1262(tmp_path, registry_plain, busybox_layout):
    base = _base(registry_plain, busybox_layout)
    ctx = write_context(tmp_path / "ctx", COPY_FROM.format(base=base),
                        {"data/wanted.txt": "wanted\n", "data/other.txt": "other\n"})
    dest = f"{registry_plain.host}/inv/copyfrom:1"
    # A non-copied file changes: the source stage misses, the copy and what follows still hit (#1244).
    states = _rebuild_states(ctx, tmp_path, dest, lambda: (ctx / "data/other.txt").write_text("changed\n"))
    assert states == ["miss", "hit", "hit"]
    # A copied file changes: the copy misses (#1262).
    states = _rebuild_states(ctx, tmp_path, dest, lambda: (ctx / "data/wanted.txt").write_text("new\n"))
    assert states == ["miss", "miss", "miss"]


ARGS = """\
FROM {base}
RUN echo early > /early
ARG VERSION=1
RUN echo "$VERSION" > /version
"""


def test_cache_arg_changes_only_steps_that_see_it(tmp_path, registry_plain, busybox_layout):
    base = _base(registry_plain, busybox_layout)
    ctx = write_context(tmp_path / "ctx", ARGS.format(base=base))
    dest = f"{registry_plain.host}/inv/args:1"
    cache_build(ctx, tmp_path, dest, build_args={"VERSION": "1"})
    _, same, _, _, _ = cache_build(ctx, tmp_path, dest, build_args={"VERSION": "1"})
    assert cache_states(same) == ["hit", "none", "hit"]
    _, changed, _, _, _ = cache_build(ctx, tmp_path, dest, build_args={"VERSION": "2"})
    # Steps before the ARG's first use keep their hits; the RUN that sees it misses.
    assert cache_states(changed) == ["hit", "none", "miss"]
    # A proxy build-arg reaches RUN but is not part of any key (BuildKit's rule).
    _, proxied, _, _, _ = cache_build(ctx, tmp_path, dest, build_args={"VERSION": "2", "HTTP_PROXY": "http://p:3128"})
    assert cache_states(proxied) == ["hit", "none", "hit"]
