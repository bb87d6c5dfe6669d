"""The end of a build: the summary table and the ``--metadata-file`` JSON.

Both read the executor's result (``image_digest``, ``config_digest``, ``pushed`` as
``(reference, digest)`` pairs, ``steps`` with ``step_id, instruction, location, cache,
seconds, layer_digest, layer_size``). The metadata file uses BuildKit's keys
(``containerimage.digest``, ``containerimage.config.digest``, ``image.name``) so tools that
read ``docker buildx build --metadata-file`` output read mason's, plus mason's own
``mason.*`` keys for per-destination references and per-step records.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mason.cli.digest_files import repository_name
from mason.cli.render.logline import _size


def step_records(result) -> list[dict]:
    return [{"step_id": s.step_id, "instruction": s.instruction, "location": s.location, "cache": s.cache,
             "seconds": round(float(s.seconds), 3), "layer_digest": s.layer_digest, "layer_size": s.layer_size}
            for s in result.steps]


def metadata(result) -> dict:
    pushed = list(result.pushed)
    return {
        "containerimage.digest": result.image_digest,
        "containerimage.config.digest": result.config_digest,
        "image.name": ",".join(ref for ref, _ in pushed),
        "mason.destinations": [{"reference": ref, "digest": digest,
                                "name_with_digest": f"{repository_name(ref)}@{digest}"}
                               for ref, digest in pushed],
        "mason.steps": step_records(result),
    }


def write_metadata_file(path: Path, result) -> None:
    """Written whole to a temporary file and renamed, so a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(metadata(result), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def summary_lines(result, width: int = 100) -> list[str]:
    """A plain-text table (no control codes): steps, cache, time, layer; then pushed references."""
    rows = [("STEP", "INSTRUCTION", "CACHE", "TIME", "LAYER")]
    for s in result.steps:
        layer = "-" if s.layer_size is None else _size(s.layer_size)
        rows.append((s.step_id, s.instruction, s.cache, f"{float(s.seconds):.1f}s", layer))
    fixed = [max(len(r[i]) for r in rows) for i in (0, 2, 3, 4)]
    room = max(width - sum(fixed) - 8, 20)
    lines = []
    for step_id, instruction, cache, took, layer in rows:
        if len(instruction) > room:
            instruction = instruction[:room - 1] + "…"
        lines.append(f"{step_id:<{fixed[0]}}  {instruction:<{room}}  {cache:<{fixed[1]}}  "
                     f"{took:>{fixed[2]}}  {layer:>{fixed[3]}}".rstrip())
    hits = sum(1 for s in result.steps if s.cache == "hit")
    cacheable = sum(1 for s in result.steps if s.cache in ("hit", "miss"))
    lines.append(f"cache: {hits}/{cacheable} hit" if cacheable else "cache: not used")
    if result.config_digest:
        lines.append(f"image: {result.image_digest}  config: {result.config_digest}")
    else:       # several platforms: the result is an index, each platform's image has its config
        lines.append(f"image index: {result.image_digest}")
    for ref, digest in result.pushed:
        lines.append(f"pushed: {ref}@{digest}")
    return lines
