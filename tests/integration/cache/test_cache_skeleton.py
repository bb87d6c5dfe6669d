"""A COPY that misses after a cache hit runs over the hit layer's skeleton (its directories
and links, files left out) instead of extracting it, and gives the same image as over the
full layer; one that reaches a left-out file runs again over the full view."""

from __future__ import annotations

import json

import pytest

from tests.integration.executor.buildhelpers import write_context
from tests.integration.cache.cachehelpers import cache_build, cache_states, extracted
from tests.support.images import push_layout

DOCKERFILE = """\
FROM {base} AS gen
RUN mkdir -p /gen/d/e && for i in $(seq 1 40); do echo $i > /gen/d/f$i; done && ln -s f1 /gen/d/sym
COPY src/ /src/

FROM {base}
COPY --from=gen /gen /opt/gen
COPY --from=gen /src /opt/src
COPY extra/ {extra_dest}
"""


@pytest.mark.parametrize("extra_dest, reaches_hidden", [("/opt/gen/d/e/", False), ("/opt/gen/d/", True)])
def test_skeleton_of_a_hit_layer_gives_the_same_image(tmp_path, registry_plain, busybox_layout, extra_dest,
                                                      reaches_hidden):
    host = registry_plain.host
    base = f"{host}/skel/base:1"
    push_layout(busybox_layout, base)
    # extra/f1 lands on the hit layer's /opt/gen/d/f1 when copied into /opt/gen/d/.
    ctx = write_context(tmp_path / "ctx", DOCKERFILE.format(base=base, extra_dest=extra_dest),
                        {"src/a": "one\n", "extra/f1": "replaced\n", "extra/new": "new\n"})
    results = {}
    for direct in (True, False):
        # each variant its own cache: primed, then /src changes and /gen does not
        common = dict(cache_repo=f"{host}/skel/cache-{int(reaches_hidden)}-{int(direct)}", cache_copy_layers=True,
                      source_date_epoch=1_700_000_000, direct_copy=direct)
        (ctx / "src" / "a").write_text("one\n")
        cache_build(ctx, tmp_path, None, oci_layout_path=tmp_path / f"prime-{direct}", **common)
        (ctx / "src" / "a").write_text("two\n")
        result, events, _, _, cache_dir = cache_build(ctx, tmp_path, None, oci_layout_path=tmp_path / f"out-{direct}",
                                                      **common)
        results[direct] = (result, cache_states(events), cache_dir)
    (on, states_on, dir_on), (off, states_off, _) = results[True], results[False]
    assert on.image_digest == off.image_digest
    assert states_on == states_off
    # final stage: COPY --from=gen /gen hit, the two COPYs after it missed
    assert states_on[-3:] == ["hit", "miss", "miss"]

    gen_layer = json.loads(on.config)["rootfs"]["diff_ids"][1]
    stored = {p.name for p in extracted(dir_on)}
    if reaches_hidden:
        assert gen_layer.split(":")[1] in stored       # rerun over the full view extracted it
    else:
        assert gen_layer.split(":")[1] not in stored   # only its skeleton was read
