"""Filesystem operations of COPY/ADD, confined to a build's root directory.

Public API (pinned by tests/unit/fsops/test_fsops_api.py)::

    SourceTree(root, ignore=None, label="build context")     what COPY reads from
    copy(tree, sources, root, dest, *, workdir="/", chown=None, chmod=None, excludes=(),
         parents=False, preserve_owner=False, copy_xattrs=False, where=None) -> CopyResult
    write_content(root, dest, name, data, *, workdir="/", chown=None, chmod=None,
                  mtime_ns=None, mode=0o644) -> CopyResult              (COPY heredocs)
    add(tree, sources, root, dest, *, work_dir, workdir="/", options=AddOptions(),
        session=None, where=None) -> CopyResult
    digest_sources(tree, sources, *, dest, workdir="/", chown=None, chmod=None, excludes=(),
                   parents=False, preserve_owner=False, copy_xattrs=False, where=None,
                   hash_cache=None, extra=None) -> SourceDigest(digest, manifest)
    digest_content(name, data, *, dest, workdir="/", chown=None, chmod=None) -> str
    parse_chmod(text) -> Chmod;  resolve(root, path) / resolve_inroot / make_dirs
    is_tar_archive(path), extract_tar(path, root, dest_inroot, *, chown=None, written=None)
"""

from typing import TYPE_CHECKING

from mason.fsops.add import AddOptions, add
from mason.fsops.chmod import Chmod, parse_chmod
from mason.fsops.copy import CopyResult, copy, write_content
from mason.fsops.digest import SourceDigest, digest_content, digest_sources
from mason.fsops.rootpath import make_dirs, resolve, resolve_inroot
from mason.fsops.sources import IgnoreMatcher, SourceTree
from mason.lazyexports import lazy_exports

# Imported at first use (PEP 562): archive loads tarfile, which only ADD of a tar needs.
_LAZY = {"extract_tar": "mason.fsops.archive", "is_tar_archive": "mason.fsops.archive"}

if TYPE_CHECKING:
    from mason.fsops.archive import extract_tar, is_tar_archive


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)

__all__ = ["AddOptions", "add", "extract_tar", "is_tar_archive", "Chmod", "parse_chmod",
           "CopyResult", "copy", "write_content", "SourceDigest", "digest_content",
           "digest_sources", "make_dirs", "resolve", "resolve_inroot", "IgnoreMatcher",
           "SourceTree"]
