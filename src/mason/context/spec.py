"""Parsing ``--context`` values (Kaniko's spellings) into typed specs.

    /path, ./rel, dir:///path          a local directory
    tar://file.tar[.gz|…]              a local tar archive (compression by content)
    tar://stdin                        a tar archive on standard input
    git://host/repo[#ref[#commit]]     Kaniko's git context (cloned over https)
    https://host/repo.git#ref:subdir   BuildKit's git context
    https://host/ctx.tar.gz            a tarball downloaded over HTTP(S)

``s3://``, ``gs://``, ``az://`` (Kaniko's cloud buckets) are refused, never ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mason.fetch import git as gitsrc
from mason.errors import NotSupportedError, UsageError


@dataclass(frozen=True)
class DirSpec:
    """``--context`` naming a local directory."""

    path: str


@dataclass(frozen=True)
class TarSpec:
    """``--context`` naming a tar archive (a file, or ``tar://stdin``)."""

    path: str | None  # None: standard input


@dataclass(frozen=True)
class GitSpec:
    """``--context`` naming a git repository (Kaniko's ``git://`` or BuildKit's ``….git#ref`` form)."""

    source: gitsrc.GitSource


@dataclass(frozen=True)
class HttpTarSpec:
    """``--context`` naming a tarball (or a Dockerfile) to download over HTTP(S)."""

    url: str


ContextSpec = DirSpec | TarSpec | GitSpec | HttpTarSpec

def parse_context(text: str, *, git_pull_method: str = "https") -> ContextSpec:
    """Parse a ``--context`` value; raise UsageError naming it when it is malformed."""
    if not text:
        raise UsageError("--context is empty")
    if text.startswith(("s3://", "gs://", "az://", "azblob://")):
        raise NotSupportedError(f"--context {text!r}: cloud bucket contexts are not supported",
                                hint="download the archive in an earlier job step and pass "
                                     "tar://FILE instead")
    if text.startswith("dir://"):
        path = text[len("dir://"):]
        if not path:
            raise UsageError(f"--context {text!r}: dir:// needs a path")
        return DirSpec(path)
    if text.startswith("tar://"):
        path = text[len("tar://"):]
        if not path:
            raise UsageError(f"--context {text!r}: tar:// needs a file path or 'stdin'")
        return TarSpec(None if path == "stdin" else path)
    if text.startswith("git://"):
        return GitSpec(gitsrc.parse_kaniko(text, pull_method=git_pull_method))
    if gitsrc.is_git_url(text):
        return GitSpec(gitsrc.parse_buildkit(text))
    if text.startswith(("http://", "https://")):
        return HttpTarSpec(text)
    m = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", text)
    if m:
        scheme = m.group(1)
        raise UsageError(f"--context {text!r}: unknown scheme {scheme!r} "
                         "(known: dir://, tar://, git://, http(s)://)")
    return DirSpec(text)
