"""Remote sources fetched into a directory the caller owns: git repositories and HTTP(S) files.

Used by build contexts (``mason.context``: a git or tarball-URL context) and by ADD
(``mason.fsops.add``: a URL or git source), so it sits below both and imports neither.
"""
