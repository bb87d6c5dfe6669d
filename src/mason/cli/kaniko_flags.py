"""Every flag of Kaniko's executor, as a table, and a parser that reads them as Kaniko does.

Kaniko parses its command line with Go's pflag: ``--flag=value`` or ``--flag value`` for
flags taking a value, bare ``--flag`` for booleans (``--flag=false`` to turn one off, never
``--flag false``), ``-d value``/``-dvalue``/``-d=value`` for short forms, no abbreviations.
The table is the single source of truth: the parser, ``mason build --help``, docs/cli.md
and the tests all read it, so they cannot disagree.

Each flag has a ``status`` in mason:

- ``implemented``: mapped to a ``BuildOptions`` field (or to the CLI's own output);
- ``accepted``: a Kaniko implementation detail with no counterpart in mason; accepted so
  pipelines keep working, its (non-)effect documented in ``effect`` and logged;
- ``refused``: not implemented; using it is a ``NotSupportedError`` naming the flag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from mason.errors import NotSupportedError, UsageError

# Kinds of value. LIST and the map-like kinds are repeatable; their raw values are kept in
# order and interpreted by mason.cli.build_mapping (where errors can name the semantics).
BOOL, STRING, INT, DURATION, LIST = "bool", "string", "int", "duration", "list"
KINDS = (BOOL, STRING, INT, DURATION, LIST)

IMPLEMENTED, ACCEPTED, REFUSED = "implemented", "accepted", "refused"


@dataclass(frozen=True)
class FlagSpec:
    """One Kaniko executor flag: how it is read, its default and whether mason honours it."""

    name: str                          # canonical long name, without dashes
    kind: str
    default: object
    help: str
    status: str = IMPLEMENTED
    short: str | None = None
    aliases: tuple[str, ...] = ()      # deprecated long spellings Kaniko still accepts
    effect: str = ""                   # what mason does with it, when that differs from Kaniko
    origin: str = "kaniko"             # kaniko | mason | buildkit
    hidden: bool = False               # hidden in Kaniko's --help (still accepted)
    choices: tuple[str, ...] = ()

    @property
    def repeatable(self) -> bool:
        return self.kind == LIST

    @property
    def metavar(self) -> str:
        return {BOOL: "", STRING: "string", INT: "int", DURATION: "duration", LIST: "value"}[self.kind]


def _f(name, kind, default, help, **kw) -> FlagSpec:
    return FlagSpec(name, kind, default, help, **kw)


_KANIKO_DIR_EFFECT = ("Kaniko's own state directory; mason keeps each build's state in a private work "
                      "directory. If given (or KANIKO_DIR is set) and --work-dir is not, it is used as the "
                      "parent of that work directory.")

_PLATFORMS_EFFECT = ("Kaniko takes one platform; mason also takes a comma separated list (as BuildKit's "
                     "--platform): each platform is built as its own build (base images resolved per platform, "
                     "TARGETPLATFORM/TARGETARCH per platform), then one OCI image index is written to every "
                     "--destination and --oci-layout-path. RUN for a foreign architecture runs through qemu-user: "
                     "an interpreter must be registered in binfmt_misc with the F flag (Debian's "
                     "qemu-user-static), else the build is refused before any work. With several platforms "
                     "--tar-path and --cache-report are refused")

FLAGS: tuple[FlagSpec, ...] = (
    # -- context and Dockerfile ---------------------------------------------------------------
    _f("dockerfile", STRING, "Dockerfile", "Path to the Dockerfile: absolute, relative to the current "
       "directory, relative to the context, an http(s) URL, or - for stdin", short="f"),
    _f("context", STRING, "/workspace/", "Build context: a directory, dir://DIR, tar://FILE (any compression), "
       "tar://stdin, git://HOST/REPO[#REF[#COMMIT]], https://HOST/REPO.git[#REF[:DIR]], https://…/CTX.tar.gz",
       short="c",
       effect="fetched contexts are unpacked in a private temp dir (under --work-dir, else $TMPDIR) removed "
              "after the build, also on failure; git:// is cloned over $GIT_PULL_METHOD (https by default) "
              "without its .git directory; s3://, gs://, az:// are refused"),
    _f("context-sub-path", STRING, "", "Sub path within the given context",
       effect="Kaniko ignores it for plain directory contexts; mason applies it to every context"),
    _f("bucket", STRING, "", "GCS bucket holding the build context as a tarball", short="b", hidden=True,
       status=REFUSED, effect="GCS contexts are not implemented"),
    _f("git", LIST, (), "Git context options: branch=NAME, single-branch=BOOL, recurse-submodules=BOOL, "
       "insecure-skip-tls=BOOL (repeatable, or comma separated)",
       effect="only valid with a git context (git:// or a URL ending in .git)"),
    _f("build-arg", LIST, (), "ARG value K=V; a bare K takes the value from the environment (repeatable)",
       effect="a bare K whose variable is unset is not passed (the Dockerfile default applies, as in "
              "BuildKit; Kaniko passes an empty string); mason warns"),
    _f("target", STRING, "", "Build stage to build"),
    _f("skip-unused-stages", BOOL, True, "Build only the stages the target needs",
       effect="default true (BuildKit's rule, and faster); Kaniko defaults to false: "
              "--skip-unused-stages=false builds every stage up to the target, as Kaniko does"),
    _f("custom-platform", STRING, "", "Platform(s) to build for, os/arch[/variant], comma separated "
       "(default: the host's)", aliases=("customPlatform",),
       effect=_PLATFORMS_EFFECT),
    _f("platform", STRING, "", "BuildKit's spelling of --custom-platform: os/arch[/variant][,...]",
       origin="buildkit", effect="the same as --custom-platform (give one of the two)"),
    _f("label", LIST, (), "Image label k=v (repeatable)"),
    _f("kaniko-dir", STRING, "/kaniko", "Kaniko's working directory (env KANIKO_DIR)", status=ACCEPTED,
       effect=_KANIKO_DIR_EFFECT),
    _f("force", BOOL, False, "Build outside of a container",
       effect="only --isolation=host-root rewrites /; it refuses outside a container unless --force "
              "is given; the other levels never touch the host's root and run anywhere"),
    # -- snapshots and execution -------------------------------------------------------------------
    _f("snapshot-mode", STRING, "full", "How changes are found after RUN: mason's auto|overlay|walk, "
       "or Kaniko's full|redo|time", aliases=("snapshotMode",),
       choices=("auto", "overlay", "walk", "full", "redo", "time"),
       effect="Kaniko's full, redo and time mean auto: mason detects changes exactly (overlay upper "
              "directory, or a stat walk that hashes only changed files), never by timestamps alone"),
    _f("single-snapshot", BOOL, False, "Take one snapshot (one layer) for the whole build",
       effect="as in Kaniko: everything the final stage's RUN, COPY, ADD and WORKDIR steps change becomes one "
              "layer on top of the base image's layers (metadata history kept); earlier stages are built "
              "as usual, the cache still works per step"),
    _f("use-new-run", BOOL, False, "Kaniko's experimental RUN change detection", status=ACCEPTED,
       effect="mason's change detection is always the fast and exact one; no effect"),
    _f("ignore-path", LIST, (), "Path left out of snapshots (repeatable)"),
    _f("ignore-var-run", BOOL, True, "Leave /var/run out of snapshots", aliases=("whitelist-var-run",)),
    _f("image-fs-extract-retry", INT, 0, "Retries of base image extraction", status=ACCEPTED,
       effect="mason extracts from verified local blobs, where a retry cannot help; downloads are "
              "retried per --image-download-retry"),
    _f("reproducible", BOOL, False, "Strip timestamps to make the image reproducible"),
    _f("cleanup", BOOL, False, "Clean the filesystem at the end", status=ACCEPTED,
       effect="redundant: mason always removes a build's private work directory on every exit path, "
              "and never writes outside it"),
    _f("compression", STRING, "gzip", "Layer compression", choices=("gzip", "zstd")),
    _f("compression-level", INT, -1, "Compression level (-1: the algorithm's default)"),
    _f("force-build-metadata", BOOL, False, "Force metadata-only instructions to add layers",
       status=ACCEPTED, effect="mason follows BuildKit: metadata-only instructions add no layer; no effect"),
    # -- cache ----------------------------------------------------------------------------------------
    _f("cache", BOOL, False, "Use the layer cache"),
    _f("cache-repo", STRING, "", "Cache repository (default: <first destination's repository>/cache; "
       "oci:/path for a local layout)"),
    _f("cache-dir", STRING, "/cache", "Local cache directory",
       effect="mason's extracted-layer store and the base images `mason warm` stores (a FROM pinned by "
              "digest is read from it without a registry); the default /cache is used only if it exists"),
    _f("cache-ttl", DURATION, 336 * 3600, "Cache timeout as a Go duration, e.g. 336h, 90m, 1h30m"),
    _f("cache-copy-layers", BOOL, True, "Cache COPY layers",
       effect="default true in mason (Kaniko: false): COPY/ADD keys hash exactly the copied files' paths, "
              "modes, owners and contents, so a cached COPY layer is never wrong; false rebuilds COPY/ADD "
              "layers and does not store them, as Kaniko does"),
    _f("cache-run-layers", BOOL, True, "Cache RUN layers"),
    _f("compressed-caching", BOOL, True, "Compress cached layers", status=ACCEPTED,
       effect="mason always stores in the cache the compressed blob it built (the same bytes the image "
              "uses), streamed without holding layers in memory; no effect"),
    _f("no-push-cache", BOOL, False, "Do not push cache layers"),
    _f("cache-report", STRING, "", "Write each step's cache key, input digests, hit or miss and why it "
       "missed (compared with the previous build) as JSON", origin="mason"),
    # -- destinations and outputs ------------------------------------------------------------------
    _f("destination", LIST, (), "Image reference to push to (repeatable)", short="d"),
    _f("no-push", BOOL, False, "Do not push the image (env KANIKO_NO_PUSH)"),
    _f("tar-path", STRING, "", "Write the image as a docker-load tarball", aliases=("tarPath",)),
    _f("oci-layout-path", STRING, "", "Write the image as an OCI layout"),
    _f("digest-file", STRING, "", "Write the image digest to this file"),
    _f("image-name-with-digest-file", STRING, "", "Write repo@digest, one per destination"),
    _f("image-name-tag-with-digest-file", STRING, "", "Write repo:tag@digest, one per destination"),
    _f("push-retry", INT, 0, "Retries of a failed push",
       effect="as in Kaniko: N times the whole push of a destination starts over after a registry failure "
              "(1 s, 2 s, 4 s … apart), on top of the client's own retries of each request"),
    _f("push-ignore-immutable-tag-errors", BOOL, False, "Treat a refused push to an immutable tag as success",
       effect="only when the registry refuses the final manifest PUT of a tag with an error saying the tag is "
              "immutable (ECR TAG_INVALID, Harbor PRECONDITION, Artifact Registry, Docker Hub) and the tag "
              "exists; logged as a warning with the digest the tag keeps"),
    _f("skip-push-permission-check", BOOL, False, "Do not check push permission before building"),
    # -- registries and TLS ------------------------------------------------------------------------
    _f("insecure", BOOL, False, "Push over plain HTTP"),
    _f("insecure-pull", BOOL, False, "Pull over plain HTTP"),
    _f("insecure-registry", LIST, (), "Registry reached over plain HTTP (repeatable)",
       effect="without it, a registry on localhost, a loopback or RFC 1918 address or a *.local name is "
              "tried over HTTPS and then plain HTTP (go-containerregistry's rule, logged); others are HTTPS only"),
    _f("skip-tls-verify", BOOL, False, "Push without verifying TLS certificates"),
    _f("skip-tls-verify-pull", BOOL, False, "Pull without verifying TLS certificates"),
    _f("skip-tls-verify-registry", LIST, (), "Registry whose TLS certificate is not verified (repeatable)"),
    _f("registry-certificate", LIST, (), "CA certificate for a registry: REGISTRY=/path/ca.crt (repeatable)"),
    _f("registry-client-cert", LIST, (), "mTLS client certificate: REGISTRY=/path/cert,/path/key (repeatable)"),
    _f("registry-mirror", LIST, (), "Docker Hub mirror HOST[/path] (repeatable; env KANIKO_REGISTRY_MIRROR)",
       effect="pulls of docker.io images only (never pushes) try each mirror in order as MIRROR[/path]/library/NAME, "
              "after any --registry-map entry for Docker Hub, then Docker Hub itself; a failing mirror is "
              "skipped with a warning"),
    _f("registry-map", LIST, (), "Registry remap ORIG=NEW[;ORIG2=NEW2] (repeatable; env KANIKO_REGISTRY_MAP)",
       effect="pulls (never pushes) from registry ORIG try each NEW[/path] in order, then ORIG; docker.io, "
              "index.docker.io and registry-1.docker.io all name Docker Hub"),
    _f("skip-default-registry-fallback", BOOL, False, "Do not fall back to the original registry "
       "when no mirror has the image"),
    _f("image-download-retry", INT, 0, "Retries of a failed base image download",
       effect="as in Kaniko: N times the retrieval of an image's manifest starts over, per mirror, after a "
              "registry failure (1 s, 2 s, 4 s … apart), on top of the client's own retries of each request"),
    # -- logging ----------------------------------------------------------------------------------------
    _f("verbosity", STRING, "info", "Log level", short="v",
       choices=("panic", "fatal", "error", "warn", "info", "debug", "trace")),
    _f("log-format", STRING, "color", "Log format", choices=("color", "text", "json"),
       effect="color is used only on a terminal outside CI; elsewhere it means text (no control codes)"),
    _f("log-timestamp", BOOL, False, "Full timestamps in log lines"),
    # -- mason's and BuildKit's own ------------------------------------------------------------------
    _f("secret", LIST, (), "Build secret id=NAME,src=FILE or id=NAME,env=VAR for RUN --mount=type=secret "
       "(repeatable)", origin="buildkit"),
    _f("no-cache-filter", LIST, (), "Stages (names or numbers) whose steps run even on a cache hit; their "
       "layers are still stored (repeatable, or comma separated)", origin="buildkit"),
    _f("ssh", LIST, (), "ssh agent for RUN --mount=type=ssh: ID=SOCKET, or ID (or default) for $SSH_AUTH_SOCK "
       "(repeatable)", origin="buildkit"),
    _f("metadata-file", STRING, "", "Write build metadata (digests, references, steps) as JSON",
       origin="buildkit"),
    _f("progress", STRING, "auto", "Progress output: auto (live view on a terminal outside CI), tty, plain",
       choices=("auto", "tty", "plain"), origin="buildkit"),
    _f("work-dir", STRING, "", "Parent directory of the build's private work directory", origin="mason"),
    _f("max-layer-entries", INT, 2_000_000, "Most entries one base or stage layer may have (tar bombs "
       "with millions of empty files); a layer past it is refused, naming this flag", origin="mason"),
    _f("stage-jobs", INT, 0, "Independent stages built at once (0: one per CPU; 1: one after another, "
       "in order)", origin="mason",
       effect="Kaniko builds stages one after another; the image is the same either way"),
    _f("allow", LIST, (), "Grant an entitlement a Dockerfile may ask for: network.host (RUN --network=host: "
       "the builder's network) or security.insecure (RUN --security=insecure: all capabilities, no seccomp); "
       "repeatable or comma-separated", origin="buildkit",
       effect="as buildctl --allow: without it such a RUN is refused (exit 2) naming the entitlement"),
    _f("run-host-loopback", BOOL, False, "Let RUN's own network reach the builder's 127.0.0.1 (the job's "
       "services) at 10.0.2.2", origin="mason",
       effect="off: RUN has its own network namespace (slirp4netns) and cannot reach the builder's loopback; "
              "docs/sandbox.md"),
    _f("isolation", STRING, "auto", "How RUN is isolated: auto (the strongest this process may use, "
       "detected and stated in the log), namespaces (mount/PID namespaces, overlay snapshots), host-root "
       "(no mounts or namespaces, inside a container: the build root is the container's own /, as in "
       "Kaniko, reset and verified) or chroot (no mounts, no new namespaces; stat-walk snapshots)",
       choices=("auto", "namespaces", "host-root", "chroot"), origin="mason",
       effect="auto picks host-root over chroot inside a container when mason runs as root from a "
              "self-contained runtime; a level can be forced down, never up past what the process may "
              "do; host-root outside a container needs --force; limits in docs/unprivileged.md"),
)

BY_NAME: Mapping[str, FlagSpec] = MappingProxyType({f.name: f for f in FLAGS})
_BY_ALIAS: Mapping[str, FlagSpec] = MappingProxyType({a: f for f in FLAGS for a in f.aliases})
_BY_SHORT: Mapping[str, FlagSpec] = MappingProxyType({f.short: f for f in FLAGS if f.short})
HELP_FLAGS = ("-h", "--help")

_GO_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "false", "FALSE", "False"})


def parse_go_bool(text: str, what: str) -> bool:
    """Go's strconv.ParseBool, the only spellings pflag accepts."""
    if text in _GO_TRUE:
        return True
    if text in _GO_FALSE:
        return False
    raise UsageError(f"invalid boolean {text!r} for {what}", hint="use true or false")


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                   "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str, what: str = "duration") -> float:
    """Go's time.ParseDuration, in seconds: ``336h``, ``90m``, ``1h30m``, ``1.5h``, ``0``."""
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0.0
    pos, total = 0, 0.0
    while pos < len(body):
        match = _DURATION_PART.match(body, pos)
        if match is None:
            hint = f"write e.g. {text}h" if re.fullmatch(r"\d+", body) else "e.g. 336h, 90m or 1h30m"
            raise UsageError(f"invalid duration {text!r} for {what} (Go syntax: numbers with units "
                             "ns, us, ms, s, m, h)", hint=hint)
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if not body:
        raise UsageError(f"empty duration for {what}", hint="e.g. 336h")
    return -total if text.startswith("-") else total


@dataclass(frozen=True)
class ParsedFlags:
    """The command line read against the table: typed values for every flag."""

    values: Mapping[str, object]          # canonical name -> value (defaults filled in)
    given: frozenset[str]                 # canonical names set on the command line
    aliases_used: tuple[tuple[str, str], ...] = ()   # (deprecated spelling, canonical)
    help: bool = False

    def __getitem__(self, name: str):
        return self.values[name]


def suggest(unknown: str) -> str | None:
    """The closest known flag, for 'did you mean'."""
    import difflib   # only for a mistyped flag: a build's command line never needs it

    names = [f"--{n}" for n in BY_NAME] + [f"--{a}" for a in _BY_ALIAS] + ["--help"]
    close = difflib.get_close_matches(unknown, names, n=1, cutoff=0.6)
    if not close and not unknown.startswith("--"):
        close = difflib.get_close_matches("-" + unknown, names, n=1, cutoff=0.6)
    return close[0] if close else None


def _unknown(flag: str) -> UsageError:
    guess = suggest(flag)
    message = f"unknown flag: {flag}" + (f" (did you mean {guess}?)" if guess else "")
    return UsageError(message, hint="run 'mason build --help' for the list of flags")


def _convert(spec: FlagSpec, raw: str, shown: str):
    if spec.kind == BOOL:
        return parse_go_bool(raw, shown)
    if spec.kind == INT:
        try:
            return int(raw, 10)
        except ValueError:
            raise UsageError(f"invalid integer {raw!r} for {shown}") from None
    if spec.kind == DURATION:
        return parse_go_duration(raw, shown)
    if spec.choices and raw not in spec.choices:
        raise UsageError(f"invalid value {raw!r} for {shown}: expected one of {', '.join(spec.choices)}")
    return raw


def _is_flag(arg: str) -> bool:
    if arg.startswith("--") and len(arg) > 2:
        name = arg[2:].partition("=")[0]
        return name in BY_NAME or name in _BY_ALIAS
    return len(arg) >= 2 and arg[0] == "-" and arg[1] in _BY_SHORT


def parse_argv(argv: list[str] | tuple[str, ...]) -> ParsedFlags:
    """Read ``argv`` as pflag reads Kaniko's flags; refuse unknown flags and stray arguments."""
    values: dict[str, object] = {}
    lists: dict[str, list[str]] = {}
    given: set[str] = set()
    aliases: list[tuple[str, str]] = []
    want_help = False
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg in HELP_FLAGS:
            want_help = True
            continue
        if arg.startswith("--") and len(arg) > 2:
            name, eq, value = arg[2:].partition("=")
            spec = BY_NAME.get(name) or _BY_ALIAS.get(name)
            if spec is None:
                raise _unknown(f"--{name}")
            if name != spec.name:
                aliases.append((name, spec.name))
            shown = f"--{name}"
        elif arg.startswith("-") and len(arg) > 1 and arg != "-":
            spec = _BY_SHORT.get(arg[1])
            if spec is None:
                raise _unknown(arg[:2])
            rest = arg[2:]
            eq, value = ("=", rest[1:]) if rest.startswith("=") else (("=", rest) if rest else ("", ""))
            shown = f"-{arg[1]}"
        else:
            raise UsageError(f"unexpected argument {arg!r}: mason build takes only flags",
                             hint="the context is given with --context (-c), the Dockerfile with --dockerfile (-f)"
                             + ("; booleans are written --flag=false, not --flag false"
                                if arg in _GO_TRUE | _GO_FALSE else ""))
        if not eq:
            if spec.kind == BOOL:
                value = "true"
            elif i < len(args) and not _is_flag(args[i]):
                value = args[i]
                i += 1
            else:
                raise UsageError(f"flag {shown} needs a value"
                                 + (f" (found flag {args[i]} instead)" if i < len(args) else ""))
        if spec.kind == LIST:
            lists.setdefault(spec.name, []).append(value)
        else:
            values[spec.name] = _convert(spec, value, shown)
        given.add(spec.name)
    for spec in FLAGS:
        if spec.kind == LIST:
            values[spec.name] = tuple(lists.get(spec.name, ()))
        else:
            values.setdefault(spec.name, spec.default)
    return ParsedFlags(MappingProxyType(values), frozenset(given), tuple(aliases), want_help)


def refuse_unsupported(parsed: ParsedFlags) -> None:
    """Refuse, never ignore: a flag mason does not implement is an error naming it."""
    for name in sorted(parsed.given):
        spec = BY_NAME[name]
        if spec.status == REFUSED:
            raise NotSupportedError(f"flag --{name} is not supported by mason: {spec.effect}",
                                    hint="see docs/cli.md for the supported flags")
