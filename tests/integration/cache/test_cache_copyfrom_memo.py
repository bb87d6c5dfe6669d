"""A rebuild in which only a stage's other paths changed finds a COPY --from's content digest
by the layers that can change the copied paths: it reads none of the copied files, and the
step still hits with the same image as a build that hashed them. Both snapshot strategies:
overlay judges the layers by their lower dirs, the walk (chroot, host-root) by their tar
headers (recorded when extracted, read from the blob for a step's own layer)."""

from __future__ import annotations

import pytest

import mason.fsops
from tests.integration.executor.buildhelpers import write_context
from tests.integration.cache.cachehelpers import cache_build, cache_states
from tests.support.images import push_layout

DOCKERFILE = """\
FROM {base} AS gen
RUN mkdir -p /gen/d && for i in $(seq 1 30); do echo $i > /gen/d/f$i; done
COPY src/ /src/
RUN cat /src/* > /src.all

FROM {base}
COPY --from=gen /gen /opt/gen
COPY --from=gen /src.all /opt/src.all
"""


@pytest.mark.parametrize("snapshot", ["overlay", "walk"])
def test_copy_from_key_comes_from_the_layer_memo(tmp_path, registry_plain, busybox_layout, monkeypatch, snapshot):
    host = registry_plain.host
    base = f"{host}/memo-{snapshot}/base:1"
    push_layout(busybox_layout, base)
    ctx = write_context(tmp_path / "ctx", DOCKERFILE.format(base=base), {"src/a": "one\n"})
    common = dict(cache_repo=f"{host}/memo-{snapshot}/cache", cache_copy_layers=True, source_date_epoch=1_700_000_000,
                  snapshot_mode=snapshot)
    cache_build(ctx, tmp_path, None, oci_layout_path=tmp_path / "prime", **common)

    (ctx / "src" / "a").write_text("two\n")
    hashed = []
    real = mason.fsops.digest_sources

    def counting(tree, sources, **kw):
        if getattr(tree, "label", "").startswith("stage"):
            hashed.append(list(sources))
        return real(tree, sources, **kw)

    monkeypatch.setattr(mason.fsops, "digest_sources", counting)
    result, events, *_ = cache_build(ctx, tmp_path, None, oci_layout_path=tmp_path / "memo", **common)
    states = cache_states(events)
    # gen: RUN hit, COPY src/ miss, RUN miss; final: /gen hit (by the memo), /src.all miss
    assert states == ["hit", "miss", "miss", "hit", "miss"]
    assert ["/gen"] not in hashed             # its digest came from the memo
    assert ["/src.all"] in hashed             # the layer that changed it is new: hashed

    monkeypatch.setattr(mason.fsops, "digest_sources", real)
    again, events_again, *_ = cache_build(ctx, tmp_path, None, oci_layout_path=tmp_path / "again",
                                          **{**common, "cache_repo": f"{host}/memo-{snapshot}/cache-fresh"})
    assert again.image_digest == result.image_digest   # the same image as without any memo
