"""Build contexts: directories, tar archives, git repositories and tarball URLs.

Public API (pinned by tests/unit/context/test_ctx_api.py)::

    open_context(spec, work_dir, *, sub_path=None, stdin=None, git_options=GitOptions(),
                 git_pull_method="https", keep_git_dir=False, session=None, ignore=None)
        -> BuildContext
    BuildContext(root, description, ignore=None, commit=None)
        .tree -> SourceTree, .with_ignore(matcher), .is_ignored(rel), .path(rel)
    parse_context(text, *, git_pull_method="https") -> DirSpec | TarSpec | GitSpec | HttpTarSpec
    GitOptions.parse(["branch=x,single-branch=true"]), GitSource, is_git_url(text)
"""

from typing import TYPE_CHECKING

from mason.fetch.git import GitOptions, GitSource, is_git_url, redact_url
from mason.context.spec import DirSpec, GitSpec, HttpTarSpec, TarSpec, parse_context
from mason.lazyexports import lazy_exports

# Imported at first use (PEP 562): a local directory context (``mason.context.scoped``) is
# used in place, so a build from one never loads the fetching and unpacking code (nor
# mason.fetch.http, mason.fsops.archive and tarfile with it).
_LAZY = {"BuildContext": "mason.context.build_context", "open_context": "mason.context.build_context"}

if TYPE_CHECKING:
    from mason.context.build_context import BuildContext, open_context


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)


__all__ = ["BuildContext", "open_context", "GitOptions", "GitSource", "is_git_url", "redact_url",
           "DirSpec", "GitSpec", "HttpTarSpec", "TarSpec", "parse_context"]
