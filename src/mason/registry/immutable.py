"""Recognise a registry refusing a manifest PUT because the tag is immutable.

There is no standard error code for it (the distribution spec has none), so each registry
says it its own way; what they share is a 4xx status and the word "immutable" in their
own error text:

- Amazon ECR: 400 ``TAG_INVALID`` "The image tag 'v1' already exists in the 'app'
  repository and cannot be overwritten because the repository is immutable." (newer
  answers: "… because the tag is immutable.");
- Harbor (tag immutability rules): 412 ``PRECONDITION`` "Failed to process request due to
  'app:v1' configured as immutable.";
- Google Artifact Registry: 400/403 "… The repository has enabled tag immutability.";
- Docker Hub (immutable tags) and others answer 403 ``DENIED`` / 409 with a similar text.

Only the registry's own part of the error is searched (after ``HTTP <status>``), never the
URL or repository name, so a repository called ``immutable-app`` is not mistaken for one.
"""

from __future__ import annotations

from mason.errors import RegistryError

IMMUTABLE_STATUSES = frozenset({400, 403, 409, 412})
_PHRASES = ("immutable", "immutability")


def registry_detail(error: RegistryError) -> str:
    """The part of ``error``'s message the registry wrote (reason phrase and error entries)."""
    marker = f"failed: HTTP {error.status}"
    _, found, rest = error.message.partition(marker)
    return rest if found else ""


def is_immutable_tag_error(error: BaseException) -> bool:
    if not isinstance(error, RegistryError) or error.status not in IMMUTABLE_STATUSES:
        return False
    detail = registry_detail(error).lower()
    return any(phrase in detail for phrase in _PHRASES)
