"""``--single-snapshot``: the final stage's own changes become one layer, as in Kaniko.

Kaniko snapshots the filesystem only after the stage's last command when the flag is on, so
the image is the base's layers plus one layer holding everything the stage's RUN, COPY, ADD
and WORKDIR steps changed. mason builds the stage step by step as usual (each step needs
the previous ones' files, and the cache keys stay per step), then replays the stage's own
layers, in order and with their whiteouts, onto a fresh root over the base and takes that
root's changes as the one layer. The per-step layers are dropped from the image config; the
metadata-only history entries stay. Earlier stages are untouched: only the final stage's
layers reach the image.
"""

from __future__ import annotations

from mason.executor import events as ev
from mason.tarfs.extract import SAFE_DEVICES, ExtractOptions, extract_layer


def squash_stage(builder) -> None:
    """Replace the stage's layers above its base by one layer with the same filesystem."""

    state, services, layers = builder.state, builder.services, builder.layers
    base_count = builder.base_layer_count
    own = state.layers[base_count:]
    if len(own) < 2:
        return      # none or one: already a single snapshot
    base = list(state.layers[:base_count])
    options = ExtractOptions(mode="apply", allowed_devices=SAFE_DEVICES, cancel=services.cancel)
    with layers.step(base) as fs:
        for ref in own:
            with ref.opener() as blob:
                extract_layer(blob, fs.root, media_type=ref.descriptor.media_type, options=options,
                              expected_diff_id=ref.diff_id)
    created_by = _drop_layers(state.config.doc, len(own))
    del state.layers[base_count:]
    layer = layers.commit(fs, created_by, empty_layer=False)
    services.reporter.emit(ev.Info(
        f"--single-snapshot: stage {builder.stage.id}'s {len(own)} layers taken as one snapshot"
        + (f" ({layer.descriptor.digest}, {layer.descriptor.size} bytes)" if layer is not None else
           " (no change left: no layer)")))


def _drop_layers(doc: dict, count: int) -> str:
    """Remove the last ``count`` layers (diff_ids and their history entries) from the config
    document; returns the history text of the last one, which the single layer takes (Kaniko
    names its snapshot after the stage's last command)."""
    del doc["rootfs"]["diff_ids"][-count:]
    history = doc["history"]
    last = ""
    removed = 0
    for index in range(len(history) - 1, -1, -1):
        if removed == count:
            break
        if not history[index].get("empty_layer"):
            if not last:
                last = history[index].get("created_by", "")
            del history[index]
            removed += 1
    return last
