"""Cache keys: the SHA-256 of a canonical JSON document, never of a joined string.

A key names "what this step would produce". It is a chain (BuildKit's, not Kaniko's):

    key(step) = H({"v", "parent": key(previous step), "step": StepRecord})

where the chain starts at ``chain_start`` (the base image's resolved manifest digest for
the platform, a fixed seed for ``scratch``, the final key of the stage a ``FROM <stage>``
names) and ``StepRecord`` is a typed dict of the step's definition after expansion plus
the digests of the inputs it reads (see ``mason.cache.records``). Every part is a JSON
value inside one document, so no two different records can encode to the same bytes
(Kaniko joined parts with "-"; ``a-b`` + ``c`` collided with ``a`` + ``b-c``).

A step whose output cannot be predicted from its definition (ADD of a URL without
``--checksum``) has no key; the chain continues from its *output* with ``chain_output``.

``input_digests`` gives each top-level field of a record its own digest: the cache report
compares those with the previous build to say *which* input changed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

KEY_VERSION = 2                 # bump when the meaning of any record field changes
# 2: a step that changes nothing has an empty layer (entries stored before have none)
SCRATCH_SEED = "mason.cache/scratch/v1"


def canonical(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: one byte string per JSON value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8", "surrogateescape")


def digest_of(value: Any) -> str:
    """``sha256:<hex>`` of a JSON value's canonical encoding."""
    return "sha256:" + hashlib.sha256(canonical(value)).hexdigest()


def chain_start(*, platform: str, base_digest: str | None = None, stage_key: str | None = None,
                scratch: bool = False) -> str:
    """The key a stage starts from. Exactly one of the three origins must be given."""
    given = [base_digest is not None, stage_key is not None, scratch]
    if sum(given) != 1:
        raise ValueError("chain_start needs exactly one of base_digest, stage_key, scratch")
    if stage_key is not None:
        # FROM <stage>: the stage's final key already covers its platform and base.
        return digest_of({"v": KEY_VERSION, "from_stage": stage_key})
    if scratch:
        return digest_of({"v": KEY_VERSION, "scratch": SCRATCH_SEED, "platform": platform})
    return digest_of({"v": KEY_VERSION, "base": base_digest, "platform": platform})


def step_key(parent: str, record: Mapping[str, Any]) -> str:
    """The key of a step whose definition and inputs are ``record``."""
    return digest_of({"v": KEY_VERSION, "parent": parent, "step": dict(record)})


def chain_output(parent: str, kind: str, diff_id: str | None) -> str:
    """The chain after a step that has no key of its own: it continues from what the step
    actually produced (its layer's diff_id, or None when it changed nothing)."""
    return digest_of({"v": KEY_VERSION, "parent": parent, "output": {"kind": kind, "diff_id": diff_id}})


def input_digests(record: Mapping[str, Any]) -> dict[str, str]:
    """Each top-level field of a record, digested on its own (for the cache report)."""
    return {name: digest_of(value) for name, value in sorted(record.items())}


def key_hex(key: str) -> str:
    """The hex part of ``sha256:<hex>``: the tag of the key's entry in a cache repository."""
    algorithm, _, hexpart = key.partition(":")
    if algorithm != "sha256" or len(hexpart) != 64:
        raise ValueError(f"not a cache key: {key!r}")
    return hexpart
