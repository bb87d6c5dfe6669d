"""The second build of the same context hits every step and downloads nothing."""

from __future__ import annotations

import json

from tests.integration.executor.buildhelpers import write_context
from tests.integration.cache.cachehelpers import cache_build, cache_states, extracted, warnings
from tests.support.images import push_layout

TWO_STAGE = """\
FROM {base} AS build
WORKDIR /src
COPY app.txt .
RUN cp app.txt app.out && echo built >> app.out
FROM {base}
ARG GREETING=hello
ENV MODE=prod
COPY --from=build /src/app.out /app/app.out
RUN echo "$GREETING $MODE" > /app/greeting
"""


def _base(registry, busybox_layout, name="base/busybox"):
    push_layout(busybox_layout, f"{registry.host}/{name}:1")
    return f"{registry.host}/{name}:1"


def test_cache_second_build_hits_everything_downloads_nothing(tmp_path, registry_plain, busybox_layout):
    base = _base(registry_plain, busybox_layout)
    ctx = write_context(tmp_path / "ctx", TWO_STAGE.format(base=base), {"app.txt": "app\n"})
    dest = f"{registry_plain.host}/rebuild/app:1"
    first, ev1, _, _, _ = cache_build(ctx, tmp_path, dest, reproducible=True, cache_copy_layers=True)
    assert set(cache_states(ev1)) <= {"miss", "none"} and "miss" in cache_states(ev1)
    assert warnings(ev1) == []
    second, ev2, client, _, cache_dir = cache_build(ctx, tmp_path, dest, reproducible=True,
                                                    cache_copy_layers=True)
    layer_steps = [s for s in second.steps if s.cache != "none"]
    assert [s.cache for s in layer_steps] == ["hit"] * 5, [(s.instruction, s.cache) for s in second.steps]
    assert all(s.cache_key and s.cache_key.startswith("sha256:") for s in layer_steps)
    assert [s.cache_key for s in layer_steps] == [s.cache_key for s in first.steps if s.cache != "none"]
    # Nothing downloaded but small JSON blobs (configs); nothing extracted.
    manifest = json.loads(second.manifest)
    layer_digests = {layer["digest"] for layer in manifest["layers"]}
    assert not layer_digests & set(client.downloads)
    assert extracted(cache_dir) == []
    assert second.image_digest == first.image_digest
    assert warnings(ev2) == []
