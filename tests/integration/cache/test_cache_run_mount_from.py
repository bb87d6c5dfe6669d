"""``RUN --mount=from=…`` is keyed by what the mount shows: the same stage content (or the same
image) is a hit, as in BuildKit, whose exec op keys a mount by its input's content; a change
in the mounted files is a miss."""

from __future__ import annotations

from tests.integration.cache.cachehelpers import cache_build, cache_states
from tests.integration.executor.buildhelpers import write_context
from tests.support.images import push_layout

DOCKERFILE = """\
FROM {base} AS src
COPY other/ /other/
COPY data/ /data/
FROM {base}
RUN --mount=from=src,source=/data,target=/m cat /m/a.txt > /seen
RUN --mount=type=bind,from={base},source=/bin,target=/b ls /b/busybox > /image-seen
"""


def test_run_mounting_an_unchanged_stage_or_image_is_a_hit(tmp_path, registry_plain, busybox_layout):
    base = f"{registry_plain.host}/mountfrom/busybox:1"
    push_layout(busybox_layout, base)
    ctx = write_context(tmp_path / "ctx", DOCKERFILE.format(base=base), {"data/a.txt": "a\n", "other/x": "x\n"})
    dest = f"{registry_plain.host}/mountfrom/out:1"
    _, first, _, _, _ = cache_build(ctx, tmp_path, dest, cache_copy_layers=True)
    assert cache_states(first) == ["miss", "miss", "miss", "miss"]
    _, second, _, _, _ = cache_build(ctx, tmp_path, dest, cache_copy_layers=True)
    assert cache_states(second) == ["hit", "hit", "hit", "hit"]
    # the stage changes, not the mounted /data: the RUNs mounting it are hits
    (ctx / "other/x").write_text("changed\n")
    _, third, _, _, _ = cache_build(ctx, tmp_path, dest, cache_copy_layers=True)
    assert cache_states(third) == ["miss", "miss", "hit", "hit"]
    # the mounted files change: the RUN reruns and sees them
    (ctx / "data/a.txt").write_text("changed\n")
    result, fourth, _, _, _ = cache_build(ctx, tmp_path, dest, cache_copy_layers=True)
    assert cache_states(fourth) == ["hit", "miss", "miss", "miss"]
