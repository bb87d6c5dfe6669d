"""Git sources: URL parsing (Kaniko's and BuildKit's forms) and cloning with the git CLI.

Two spellings reach here:

- Kaniko's context ``git://host/org/repo.git#refs/heads/branch#<commit>``: cloned over
  ``https`` (or the ``pull_method`` the caller passes, Kaniko's GIT_PULL_METHOD);
- BuildKit's ``https://host/org/repo.git#ref:subdir`` and ``git@host:org/repo.git#ref``
  (contexts and ``ADD``), where ``ref`` is a branch, a tag or a commit.

The clone goes into a directory the caller owns (inside the build's work dir); git
runs with an explicit environment (no prompts), never through os.environ writes.
Errors never show credentials embedded in a URL. Over HTTPS git trusts the build's CAs
(``mason.tls.TlsTrust``): curl takes one CA file that replaces its defaults, so a bundle of
the system roots plus the extra CAs is written next to the clone for its duration.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from mason.errors import BuildError, UsageError

_SHA = re.compile(r"[0-9a-f]{7,64}")


@dataclass(frozen=True)
class GitOptions:
    """Kaniko's ``--git branch=…,single-branch=…,recurse-submodules=…,insecure-skip-tls=…``."""

    branch: str | None = None
    single_branch: bool = False
    recurse_submodules: bool = False
    insecure_skip_tls: bool = False   # clone without verifying the server's TLS certificate

    @classmethod
    def parse(cls, values: list[str] | tuple[str, ...]) -> "GitOptions":
        """Parse repeated ``--git`` values (each ``key=value[,key=value]``)."""
        opts: dict[str, object] = {}
        for value in values:
            for item in filter(None, value.split(",")):
                key, sep, val = item.partition("=")
                key = key.strip()
                if not sep:
                    raise UsageError(f"--git {value!r}: expected key=value")
                if key == "branch":
                    opts["branch"] = val
                elif key in ("single-branch", "recurse-submodules", "insecure-skip-tls"):
                    if val.lower() not in ("true", "false"):
                        raise UsageError(f"--git {key}={val!r}: expected true or false")
                    opts[key.replace("-", "_")] = val.lower() == "true"
                else:
                    raise UsageError(f"--git: unknown option {key!r} "
                                     "(known: branch, single-branch, recurse-submodules, insecure-skip-tls)")
        return cls(**opts)  # type: ignore[arg-type]


@dataclass(frozen=True)
class GitSource:
    """What to clone: ``url``, then ``ref`` (branch/tag/ref/commit), then ``commit``, ``subdir``."""

    url: str
    ref: str | None = None
    commit: str | None = None
    subdir: str | None = None
    submodules: bool = False           # clone them too (BuildKit's git sources do by default)
    keep_git_dir: bool | None = None   # from ``?keep-git-dir=``; None: the instruction's flag decides

    def redacted(self) -> str:
        return redact_url(self.url)


def redact_url(url: str) -> str:
    """The URL without any password/token in its user-info part."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None and not (parts.username and parts.scheme in ("http", "https")):
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


def is_git_url(text: str) -> bool:
    """True for the URLs BuildKit treats as git: git://, git@, ssh://, http(s)/file …/x.git[#…]."""
    if text.startswith(("git://", "git@", "ssh://", "git+ssh://", "git+https://")):
        return True
    if text.startswith(("http://", "https://", "file://")):
        return urlsplit(text.split("#", 1)[0]).path.endswith(".git")
    return False


_QUERY_KEYS = ("ref", "branch", "tag", "commit", "subdir", "keep-git-dir", "submodules")


def parse_buildkit(text: str) -> GitSource:
    """Parse BuildKit's git URL forms: ``URL[#ref[:subdir]]`` and ``URL?ref=…&subdir=…``
    (query keys ``ref``, ``branch``, ``tag``, ``commit``, ``subdir``, ``keep-git-dir``,
    ``submodules``). Submodules are cloned unless ``submodules=false``."""
    url, _, frag = text.partition("#")
    if url.startswith("git+"):
        url = url[4:]
    parts = urlsplit(url) if "://" in url else None
    if parts is None or not parts.query:
        ref, _, subdir = frag.partition(":")
        return GitSource(url=url, ref=ref or None, subdir=subdir.strip("/") or None, submodules=True)
    if frag:
        raise UsageError(f"git URL {redact_url(text)!r}: use either a #fragment or ?query parameters, not both")
    from urllib.parse import parse_qsl

    values: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True):
        if key not in _QUERY_KEYS:
            raise UsageError(f"git URL {redact_url(text)!r}: unknown query parameter {key!r} "
                             f"(known: {', '.join(_QUERY_KEYS)})")
        if key in values:
            raise UsageError(f"git URL {redact_url(text)!r}: {key!r} given twice")
        values[key] = value
    refs = [values[k] for k in ("ref", "branch", "tag") if values.get(k)]
    if len(refs) > 1:
        raise UsageError(f"git URL {redact_url(text)!r}: give one of ref, branch and tag")
    chosen = refs[0] if refs else None
    if values.get("tag"):
        chosen = "refs/tags/" + values["tag"]
    elif values.get("branch"):
        chosen = "refs/heads/" + values["branch"]
    commit = values.get("commit") or None
    if commit is not None and not _SHA.fullmatch(commit):
        raise UsageError(f"git URL {redact_url(text)!r}: commit={commit!r} is not a commit hash")

    def flag(key: str, default):
        if key not in values:
            return default
        if values[key].lower() not in ("true", "false", "1", "0"):
            raise UsageError(f"git URL {redact_url(text)!r}: {key}={values[key]!r}: expected true or false")
        return values[key].lower() in ("true", "1")

    clean = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return GitSource(url=clean, ref=chosen, commit=commit, subdir=(values.get("subdir") or "").strip("/") or None,
                     submodules=flag("submodules", True), keep_git_dir=flag("keep-git-dir", None))


def parse_kaniko(text: str, *, pull_method: str = "https") -> GitSource:
    """Parse Kaniko's ``git://host/repo[#ref[#commit]]`` context."""
    if not text.startswith("git://"):
        raise UsageError(f"not a git context: {text!r}")
    rest = text[len("git://"):]
    parts = rest.split("#")
    if len(parts) > 3 or not parts[0]:
        raise UsageError(f"git context {redact_url(text)!r}: expected git://host/repo[#ref[#commit]]")
    if pull_method not in ("https", "http", "file"):
        raise UsageError(f"git pull method {pull_method!r}: expected https or http")
    url = f"{pull_method}://{parts[0]}"
    ref = parts[1] if len(parts) > 1 and parts[1] else None
    commit = parts[2] if len(parts) > 2 and parts[2] else None
    return GitSource(url=url, ref=ref, commit=commit)


@dataclass(frozen=True)
class _Tls:
    """How one clone's git processes do TLS."""

    insecure: bool = False           # --git insecure-skip-tls=true
    ca_file: str | None = None       # the bundle for http.sslCAInfo
    tried: str = ""                  # the CA files, for an error message

    def config(self) -> list[str]:
        if self.insecure:
            return ["-c", "http.sslVerify=false"]
        return ["-c", f"http.sslCAInfo={self.ca_file}"] if self.ca_file else []


def _run(args: list[str], *, what: str, src: GitSource, tls: _Tls = _Tls()) -> str:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_TERMINAL_PROMPT": "0",
           "HOME": os.environ.get("HOME", "/root"), "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}
    # Where a relocated git (mason's image bundles one under /kaniko) finds its helpers.
    env.update({k: os.environ[k] for k in ("GIT_EXEC_PATH", "GIT_TEMPLATE_DIR") if k in os.environ})
    try:
        proc = subprocess.run(["git", "-c", "advice.detachedHead=false", *tls.config(), *args], env=env,
                              capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BuildError("git is not installed: it is needed to clone "
                         f"{src.redacted()!r}") from None
    if proc.returncode != 0:
        err = (proc.stderr or proc.stdout).strip().replace(src.url, src.redacted())
        if tls.tried and re.search(r"certificate|SSL|TLS", err):
            host = urlsplit(src.url).netloc.rpartition("@")[2] or src.redacted()
            err += f"; TLS with {host} failed; CA files tried: {tls.tried}"
        raise BuildError(f"git {what} of {src.redacted()!r} failed (exit {proc.returncode}): {err}")
    return proc.stdout.strip()


@contextlib.contextmanager
def _clone_tls(src: GitSource, into: str, options: GitOptions, trust) -> Iterator[_Tls]:
    if options.insecure_skip_tls:
        yield _Tls(insecure=True)
        return
    if trust is None or not src.url.startswith("https://"):
        yield _Tls(tried=trust.tried() if trust is not None else "")
        return
    if not trust.extra:     # the system roots: the file itself, nothing to write
        yield _Tls(ca_file=trust.system_file, tried=trust.tried())
        return
    holder = tempfile.mkdtemp(prefix=".git-ca-", dir=os.path.dirname(os.path.abspath(into)) or None)
    try:
        bundle = os.path.join(holder, "ca-bundle.crt")
        with open(bundle, "wb") as f:
            f.write(trust.bundle())
        yield _Tls(ca_file=bundle, tried=trust.tried())
    finally:
        shutil.rmtree(holder, ignore_errors=True)


def clone(src: GitSource, into: str, *, options: GitOptions = GitOptions(), tls=None) -> str:
    """Clone ``src`` into the (new or empty) directory ``into``; return the checked-out commit.

    ``tls`` (a ``mason.tls.TlsTrust``) is what an https:// remote's certificate is checked against.

    ``ref`` may be a branch or tag (``refs/heads/x``, ``refs/tags/x`` or a bare name),
    another ref (fetched explicitly) or a commit; ``commit`` is checked out last.
    """
    ref = src.ref
    branch = options.branch
    fetch_ref = None
    checkout = src.commit
    if ref and _SHA.fullmatch(ref):
        checkout = checkout or ref
    elif ref and ref.startswith(("refs/heads/", "refs/tags/")):
        branch = ref.split("/", 2)[2]
    elif ref and ref.startswith("refs/"):
        fetch_ref = ref
    elif ref:
        branch = ref
    args = ["clone", "--quiet"]
    if branch:
        args += ["--branch", branch]
    if options.single_branch:
        args.append("--single-branch")
    recurse = options.recurse_submodules or src.submodules
    if recurse:
        args.append("--recurse-submodules")
    with _clone_tls(src, into, options, tls) as tls_config:
        _run([*args, "--", src.url, into], what="clone", src=src, tls=tls_config)
        if fetch_ref:
            _run(["-C", into, "fetch", "--quiet", "origin", fetch_ref], what=f"fetch {fetch_ref}", src=src,
                 tls=tls_config)
            checkout = checkout or "FETCH_HEAD"
        if checkout:
            _run(["-C", into, "checkout", "--quiet", checkout], what=f"checkout {checkout}", src=src)
            if recurse:
                _run(["-C", into, "submodule", "update", "--quiet", "--init", "--recursive"],
                     what="submodule update", src=src, tls=tls_config)
    return _run(["-C", into, "rev-parse", "HEAD"], what="rev-parse", src=src)


def resolve_commit(src: GitSource, *, tls=None) -> str | None:
    """The commit ``src`` names now, from ``git ls-remote`` (nothing is cloned): what ADD's
    cache key records, as BuildKit's git source keys by the resolved commit. A full commit id
    is its own answer; an abbreviated one cannot be resolved remotely (None: not keyable).

    The ref is looked up as ``clone --branch`` would take it: a branch, then a tag (the
    commit an annotated tag points to), then a full ``refs/…`` name; none is ``HEAD``."""
    if src.commit:
        return src.commit if re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", src.commit) else None
    ref = src.ref
    if ref and _SHA.fullmatch(ref):
        return ref if len(ref) in (40, 64) else None
    if not ref:
        wanted = ["HEAD"]
    elif ref.startswith("refs/"):
        wanted = [ref + "^{}", ref]
    else:
        wanted = [f"refs/heads/{ref}", f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}"]
    with _clone_tls(src, tempfile.gettempdir() + "/x", GitOptions(), tls) as tls_config:
        out = _run(["ls-remote", "--", src.url, *wanted],
                   what="ls-remote", src=src, tls=tls_config)
    found = {}
    for line in out.splitlines():
        sha, _, name = line.partition("\t")
        found[name.strip()] = sha.strip()
    for name in wanted:
        if name in found:
            return found[name]
    raise BuildError(f"git ref {ref or 'HEAD'!r} not found in {src.redacted()!r}")


def commit_time(into: str, src: GitSource) -> int:
    """The committer time (seconds) of HEAD: a reproducible mtime for checked-out files."""
    return int(_run(["-C", into, "log", "-1", "--format=%ct"], what="log", src=src))
