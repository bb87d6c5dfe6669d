"""From Kaniko's flags (parsed by ``kaniko_flags``) to a frozen ``BuildOptions``.

Everything here is a function of its inputs: the parsed flags, the environment (a mapping
read once at the CLI entry), the current directory and stdin. Nothing reads ``os.environ``
or changes directory, so two builds in one process never see each other's settings.
The rules follow Kaniko's ``cmd/executor/cmd/root.go`` where Kaniko has one, and name the
flag in every error.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import IO, BinaryIO, Iterator, Mapping

from mason.executor.events import Info, Warn
from mason.executor.options import BuildOptions, RegistryAccess, SecretSource, SshSource
from mason.cli.keyvalue import split_key_value
from mason.cli.kaniko_flags import ACCEPTED, BY_NAME, ParsedFlags, parse_go_bool
from mason.errors import NotSupportedError, UsageError
from mason.oci.platform import parse_platform
from mason.sandbox import entitlements

_KANIKO_SNAPSHOT_MODES = ("full", "redo", "time")
_PLATFORM = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_GIT_KEYS = {"branch": str, "single-branch": bool, "recurse-submodules": bool, "insecure-skip-tls": bool}


@dataclass(frozen=True)
class Mapped:
    """Kaniko's flags turned into the build's options, with what to report about them."""

    options: BuildOptions
    notes: tuple[object, ...]          # Info/Warn events to report once the reporter exists
    platforms: tuple[str, ...] = ()    # several: one build per platform, then an index (options.platform None)


def _frozen(mapping: dict) -> Mapping:
    return MappingProxyType(dict(mapping))


def _path(value: str, cwd: Path) -> Path:
    """Relative paths are relative to where mason was started (Kaniko's resolveRelativePaths)."""
    return Path(os.path.normpath(cwd / value))


# -- checks that need no context -------------------------------------------------------------------


def effective_no_push(parsed: ParsedFlags, env: Mapping[str, str]) -> bool:
    """``--no-push``, overridden by ``KANIKO_NO_PUSH`` as in Kaniko (the variable wins)."""
    if "KANIKO_NO_PUSH" in env:
        return parse_go_bool(env["KANIKO_NO_PUSH"], "the KANIKO_NO_PUSH environment variable")
    return bool(parsed["no-push"])


def validate(parsed: ParsedFlags, env: Mapping[str, str]) -> None:
    """Kaniko's flag combination rules, checked before anything is fetched or built."""
    no_push = effective_no_push(parsed, env)
    destinations = parsed["destination"]
    if not no_push and not destinations:
        raise UsageError("you must provide --destination, or use --no-push")
    if parsed["cache-report"] and not parsed["cache"]:
        raise UsageError("--cache-report needs --cache=true")
    if parsed["cache"] and no_push and not parsed["cache-repo"] and not parsed["no-push-cache"]:
        raise UsageError("if using cache with --no-push, specify cache repo with --cache-repo",
                         hint="e.g. --cache-repo=registry.example.com/app/cache, or --no-push-cache")
    for flag in ("image-name-with-digest-file", "image-name-tag-with-digest-file"):
        if parsed[flag] and not destinations:
            raise UsageError(f"you must provide --destination if setting --{flag}")
    for dest in destinations:
        if not dest or "@" in dest or any(c.isspace() for c in dest):
            raise UsageError(f"--destination {dest!r}: expected a tagged reference such as "
                             "registry.example.com/app:1.0 (digests cannot be pushed to)")
    if parsed["git"] and not _is_git_context(str(parsed["context"])):
        raise UsageError("--git applies only to git:// contexts",
                         hint=f"the context is {parsed['context']!r}; remove --git or use a git:// context")
    wanted = platforms(parsed)
    if len(wanted) > 1:
        for flag in ("tar-path", "cache-report"):
            if parsed[flag]:
                raise NotSupportedError(f"--{flag} with several platforms ({', '.join(wanted)}): it holds one "
                                        "image's data", hint="build one platform per run for it, or drop the flag")


def platforms(parsed: ParsedFlags) -> tuple[str, ...]:
    """The platforms asked for (``--custom-platform`` or BuildKit's ``--platform``, each a comma
    list), checked; empty: the host's."""
    if parsed["custom-platform"] and parsed["platform"]:
        raise UsageError("--custom-platform and --platform are the same flag: give one of them")
    flag = "--platform" if parsed["platform"] else "--custom-platform"
    text = parsed["platform"] or parsed["custom-platform"]
    if not text:
        return ()
    found: list[str] = []
    for platform in (p.strip() for p in text.split(",")):
        parts = platform.split("/")
        if not 2 <= len(parts) <= 3 or not all(_PLATFORM.fullmatch(p) for p in parts):
            raise UsageError(f"{flag} {platform!r}: expected os/arch[/variant], e.g. linux/arm64/v8 "
                             "(several: linux/amd64,linux/arm64)")
        if parts[0] != "linux":
            raise NotSupportedError(f"{flag} {platform!r}: mason builds linux images only")
        if str(parse_platform(platform)) in (str(parse_platform(p)) for p in found):
            raise UsageError(f"{flag} {text!r}: {platform} is given twice")
        found.append(platform)
    return tuple(found)


def _is_git_context(spec: str) -> bool:
    from mason.context import is_git_url

    return is_git_url(spec)


def git_options(parsed: ParsedFlags) -> Mapping[str, object]:
    """``--git branch=x --git single-branch=true`` or ``--git branch=x,single-branch=true``."""
    result: dict[str, object] = {}
    keys = "|".join(re.escape(k) for k in _GIT_KEYS)
    for raw in parsed["git"]:
        for piece in re.split(rf",(?=(?:{keys})=)", raw):
            key, value = split_key_value(piece, "--git", "KEY=VALUE with KEY one of " + ", ".join(_GIT_KEYS))
            if key not in _GIT_KEYS:
                raise UsageError(f"--git {piece!r}: unknown option {key!r} (known: {', '.join(_GIT_KEYS)})")
            result[key] = parse_go_bool(value, f"--git {key}") if _GIT_KEYS[key] is bool else value
    return _frozen(result)


# -- the context -------------------------------------------------------------------------------------


def _context_git_options(parsed: ParsedFlags):
    from mason.context import GitOptions

    opts = git_options(parsed)
    return GitOptions(branch=opts.get("branch") or None,  # type: ignore[arg-type]
                      single_branch=bool(opts.get("single-branch", False)),
                      recurse_submodules=bool(opts.get("recurse-submodules", False)),
                      insecure_skip_tls=bool(opts.get("insecure-skip-tls", False)))


@contextlib.contextmanager
def open_context(parsed: ParsedFlags, **kw) -> Iterator[Path]:
    """Yield the build context as a local directory (``open_scoped_context``'s root)."""
    with open_scoped_context(parsed, **kw) as context:
        yield context.root


@contextlib.contextmanager
def open_scoped_context(parsed: ParsedFlags, *, cwd: Path, env: Mapping[str, str],
                        stdin: BinaryIO | None = None, tls=None):
    """Yield the build context (``mason.context.scoped.ScopedContext``): its directory, and
    the Dockerfile when the context URL returned one instead of an archive.

    Plain paths and ``dir://`` are used in place. ``tar://FILE``, ``tar://stdin``,
    ``git://host/repo[#ref[#commit]]`` (cloned over ``$GIT_PULL_METHOD``, https by default,
    with ``--git`` options), BuildKit's ``https://host/repo.git#ref:subdir`` and
    ``https://…/ctx.tar.gz`` are unpacked in a private temporary directory under
    ``--work-dir`` (else ``$TMPDIR``, else /tmp) that is removed when this exits, also on failure.
    """
    from mason.context.scoped import scoped_context

    if str(parsed["context"]) == "tar://stdin" and parsed["dockerfile"] == "-":
        raise UsageError("--context tar://stdin and --dockerfile - both read standard input",
                         hint="put the Dockerfile inside the tar archive, or pass it as a file or URL")
    scratch = _path(parsed["work-dir"], cwd) if parsed["work-dir"] else None
    with scoped_context(str(parsed["context"]), cwd=cwd, env=env, scratch_parent=scratch,
                        sub_path=parsed["context-sub-path"] or None, stdin=stdin,
                        git_options=_context_git_options(parsed), tls=tls) as context:
        yield context


# -- the Dockerfile ------------------------------------------------------------------------------------


def fetch_url(url: str, tls=None) -> str:
    """GET a Dockerfile over http(s), trusting ``tls`` (the build's ``mason.tls.TlsTrust``);
    any failure is an error naming the URL (a TLS one also the CA files tried)."""
    import requests

    from mason.tls import TlsTrust
    from mason.tls.session import tls_failure_text, trusted_session

    trust = tls if tls is not None else TlsTrust.of()
    try:
        with trusted_session(trust) as session:
            response = session.get(url, timeout=(30, 120))
    except requests.exceptions.SSLError as exc:
        raise UsageError(f"--dockerfile {url}: cannot fetch: {tls_failure_text(url, exc, trust)}",
                         hint="add the server's CA with SSL_CERT_FILE, SSL_CERT_DIR or a file in "
                              "/kaniko/ssl/certs") from None
    except requests.RequestException as exc:
        raise UsageError(f"--dockerfile {url}: cannot fetch: {exc.__class__.__name__}") from None
    if response.status_code != 200:
        raise UsageError(f"--dockerfile {url}: HTTP {response.status_code} {response.reason}")
    return response.content.decode("utf-8")


def resolve_dockerfile(value: str, context_dir: Path, *, cwd: Path, stdin: IO[bytes] | None,
                       fetch=fetch_url, given: bool = True) -> tuple[Path | None, str | None]:
    """``(path, text)``: a path found as Kaniko looks (cwd first, then the context), or text
    read from stdin (``-``) or fetched from an http(s) URL.

    Without ``--dockerfile`` the file is ``<context>/Dockerfile`` (BuildKit's default, and what
    Kaniko finds in CI, where the job's directory is the context): a ``Dockerfile`` that
    happens to lie in the current directory must not replace the context's own.
    """
    if not given:
        default = Path(os.path.normpath(context_dir / value))
        if default.is_file():
            return default, None
        lower = default.with_name(default.name.lower())
        if default.name == "Dockerfile" and lower.is_file():
            return lower, None      # BuildKit falls back to a lower-case "dockerfile"
        raise UsageError(f"no Dockerfile in the build context: {default} does not exist",
                         hint="pass --dockerfile PATH (relative to the context, or absolute)")
    if value == "-":
        if stdin is None:
            raise UsageError("--dockerfile -: no standard input to read the Dockerfile from")
        data = stdin.read()
        return None, data.decode("utf-8") if isinstance(data, bytes) else data
    if re.match(r"https?://", value):
        return None, fetch(value)
    if "://" in value:
        raise NotSupportedError(f"--dockerfile {value!r}: only paths, http(s) URLs and - are supported")
    tried = [_path(value, cwd)]
    if not Path(value).is_absolute():
        tried.append(Path(os.path.normpath(context_dir / value)))
    for candidate in tried:
        if candidate.is_file():
            return candidate, None
    raise UsageError(f"--dockerfile {value!r}: no such file (looked for {' and '.join(map(str, tried))})",
                     hint="please provide a valid path to a Dockerfile within the build context with --dockerfile")


# -- repeatable values --------------------------------------------------------------------------------


def build_args(parsed: ParsedFlags, env: Mapping[str, str]) -> tuple[Mapping[str, str], list]:
    args: dict[str, str] = {}
    notes: list = []
    for raw in parsed["build-arg"]:
        key, eq, value = raw.partition("=")
        if not key:
            raise UsageError(f"--build-arg {raw!r}: expected KEY=VALUE or KEY")
        if eq:
            args[key] = value
        elif key in env:
            args[key] = env[key]
        else:
            notes.append(Warn(f"--build-arg {key}: {key} is not set in the environment; the Dockerfile's "
                              "default applies (Kaniko would pass an empty string)"))
    return _frozen(args), notes


def labels(parsed: ParsedFlags) -> Mapping[str, str]:
    return _frozen(dict(split_key_value(raw, "--label", "KEY=VALUE") for raw in parsed["label"]))


def secrets(parsed: ParsedFlags, env: Mapping[str, str], cwd: Path) -> tuple[SecretSource, ...]:
    """BuildKit's ``--secret id=NAME,src=FILE`` / ``id=NAME,env=VAR`` (``source=``, ``type=`` too)."""
    result: dict[str, SecretSource] = {}
    for raw in parsed["secret"]:
        fields: dict[str, str] = {}
        for piece in raw.split(","):
            key, value = split_key_value(piece, "--secret", "id=NAME,src=FILE or id=NAME,env=VAR")
            key = "src" if key == "source" else key
            if key not in ("id", "src", "env", "type"):
                raise UsageError(f"--secret {raw!r}: unknown key {key!r} (known: id, src, env, type)")
            fields[key] = value
        if "src" in fields and "env" in fields:
            raise UsageError(f"--secret {raw!r}: give src=FILE or env=VAR, not both")
        kind = fields.get("type") or ("env" if "env" in fields else "file")
        if kind not in ("file", "env"):
            raise UsageError(f"--secret {raw!r}: type must be file or env")
        if kind == "file" and "src" not in fields:
            raise UsageError(f"--secret {raw!r}: missing src=FILE (or use env=VAR)")
        name = fields.get("id") or fields.get("env") or ""
        if not name:
            raise UsageError(f"--secret {raw!r}: missing id=NAME")
        if name in result:
            raise UsageError(f"--secret: id {name!r} given twice")
        if kind == "env":
            var = fields.get("env") or fields.get("src") or name
            if var not in env:
                raise UsageError(f"--secret id={name}: environment variable {var} is not set")
            value = env[var].encode()
        else:
            path = _path(fields["src"], cwd)
            try:
                value = path.read_bytes()
            except OSError as exc:
                raise UsageError(f"--secret id={name}: cannot read {path}: {exc.strerror}") from None
        result[name] = SecretSource(name, value)
    return tuple(result.values())


def ssh_agents(parsed: ParsedFlags, env: Mapping[str, str], cwd: Path) -> tuple[SshSource, ...]:
    """BuildKit's ``--ssh ID[=PATH]`` where PATH is an agent socket (``$SSH_AUTH_SOCK`` when
    absent). Key files, which buildx loads into an agent of its own, are refused: mason
    forwards agents, it does not hold keys."""
    import stat

    result: dict[str, SshSource] = {}
    for raw in parsed["ssh"]:
        name, sep, value = raw.partition("=")
        if not name or (sep and not value):
            raise UsageError(f"--ssh {raw!r}: expected ID or ID=SOCKET")
        if "," in value:
            raise NotSupportedError(f"--ssh {raw!r}: one agent socket per id",
                                    hint="key files and lists of them are not supported: load the keys "
                                         "into ssh-agent (ssh-add) and pass its socket")
        if name in result:
            raise UsageError(f"--ssh: id {name!r} given twice")
        if not value:
            value = env.get("SSH_AUTH_SOCK", "")
            if not value:
                raise UsageError(f"--ssh {raw!r}: SSH_AUTH_SOCK is not set", hint=f"pass --ssh {name}=SOCKET")
        path = _path(value, cwd)
        try:
            is_socket = stat.S_ISSOCK(os.stat(path).st_mode)
        except OSError as exc:
            raise UsageError(f"--ssh {raw!r}: cannot reach {path}: {exc.strerror}") from None
        if not is_socket:
            raise NotSupportedError(f"--ssh {raw!r}: {path} is not a socket",
                                    hint="mason forwards ssh agent sockets only: start ssh-agent, "
                                         "ssh-add the key, and pass its socket")
        result[name] = SshSource(name, str(path))
    return tuple(result.values())


def registry_access(parsed: ParsedFlags, env: Mapping[str, str], cwd: Path) -> RegistryAccess:
    certs: dict[str, str] = {}
    for raw in parsed["registry-certificate"]:
        reg, path = split_key_value(raw, "--registry-certificate", "REGISTRY=/path/to/ca.crt")
        if not path:
            raise UsageError(f"--registry-certificate {raw!r}: missing the certificate path")
        file = _path(path, cwd)
        if not file.is_file():
            raise UsageError(f"--registry-certificate {raw!r}: {file} does not exist")
        certs[reg] = str(file)
    client: dict[str, tuple[str, str]] = {}
    for raw in parsed["registry-client-cert"]:
        reg, pair = split_key_value(raw, "--registry-client-cert", "REGISTRY=/path/cert,/path/key")
        parts = pair.split(",")
        if len(parts) != 2 or not all(parts):
            raise UsageError(f"--registry-client-cert {raw!r}: expected REGISTRY=/path/cert,/path/key")
        files = tuple(str(_path(p, cwd)) for p in parts)
        for file in files:
            if not Path(file).is_file():
                raise UsageError(f"--registry-client-cert {raw!r}: {file} does not exist")
        client[reg] = files  # type: ignore[assignment]
    mirrors = list(parsed["registry-mirror"])
    if env.get("KANIKO_REGISTRY_MIRROR"):
        mirrors.append(env["KANIKO_REGISTRY_MIRROR"])
    remap: dict[str, list[str]] = {}
    maps = list(parsed["registry-map"])
    if env.get("KANIKO_REGISTRY_MAP"):
        maps.append(env["KANIKO_REGISTRY_MAP"])
    for raw in maps:
        for piece in filter(None, (p.strip() for p in raw.split(";"))):
            orig, new = split_key_value(piece, "--registry-map", "ORIGINAL=REPLACEMENT[;ORIGINAL2=REPLACEMENT2]")
            if not new:
                raise UsageError(f"--registry-map {piece!r}: missing the replacement registry")
            remap.setdefault(orig, []).append(new)
    for flag in ("push-retry", "image-download-retry"):
        if parsed[flag] < 0:
            raise UsageError(f"--{flag} {parsed[flag]}: must be 0 or more")
    return RegistryAccess(
        insecure=parsed["insecure"], insecure_pull=parsed["insecure-pull"],
        insecure_registries=tuple(parsed["insecure-registry"]),
        skip_tls_verify=parsed["skip-tls-verify"], skip_tls_verify_pull=parsed["skip-tls-verify-pull"],
        skip_tls_verify_registries=tuple(parsed["skip-tls-verify-registry"]),
        ca_certificates=_frozen(certs), client_certificates=_frozen(client),
        mirrors=tuple(mirrors), registry_map=_frozen({k: tuple(v) for k, v in remap.items()}),
        default_registry_fallback=not parsed["skip-default-registry-fallback"],
        push_retry=parsed["push-retry"], image_download_retry=parsed["image-download-retry"],
        push_ignore_immutable_tag_errors=parsed["push-ignore-immutable-tag-errors"],
    )


# -- everything ------------------------------------------------------------------------------------------


def _notes_for_flags(parsed: ParsedFlags) -> list:
    notes: list = []
    for alias, name in parsed.aliases_used:
        notes.append(Warn(f"Flag --{alias} is deprecated. Use: --{name}"))
    for name in sorted(parsed.given):
        spec = BY_NAME[name]
        if spec.status == ACCEPTED:
            notes.append(Info(f"--{name} accepted for Kaniko compatibility: {spec.effect}"))
    if parsed["snapshot-mode"] in _KANIKO_SNAPSHOT_MODES and "snapshot-mode" in parsed.given:
        notes.append(Info(f"--snapshot-mode={parsed['snapshot-mode']} means auto in mason: "
                          + BY_NAME["snapshot-mode"].effect))
    return notes


def build_options(parsed: ParsedFlags, context_dir: Path, *, env: Mapping[str, str], cwd: Path,
                  stdin: IO[bytes] | None = None, fetch=None, tls=None,
                  context_dockerfile: Path | None = None) -> Mapped:
    """The ``BuildOptions`` the flags ask for, plus notes for the log. ``tls`` is the build's
    ``mason.tls.TlsTrust`` (made from ``env`` when None). ``context_dockerfile`` is the
    Dockerfile a context URL returned: it is built whatever ``--dockerfile`` says, as in
    BuildKit (``ScopedContext.dockerfile``)."""
    from mason.tls import TlsTrust

    validate(parsed, env)
    notes = _notes_for_flags(parsed)
    if tls is None:
        tls = TlsTrust.from_env(env)
    if context_dockerfile is not None:
        dockerfile, dockerfile_text = context_dockerfile, None
    else:
        dockerfile, dockerfile_text = resolve_dockerfile(parsed["dockerfile"], context_dir, cwd=cwd,
                                                         given="dockerfile" in parsed.given, stdin=stdin,
                                                         fetch=fetch or (lambda url: fetch_url(url, tls)))
    args, arg_notes = build_args(parsed, env)
    notes.extend(arg_notes)

    def optional_path(flag: str) -> Path | None:
        return _path(parsed[flag], cwd) if parsed[flag] else None

    work_root = optional_path("work-dir")
    if work_root is None and ("kaniko-dir" in parsed.given or env.get("KANIKO_DIR")):
        work_root = _path(parsed["kaniko-dir"] if "kaniko-dir" in parsed.given else env["KANIKO_DIR"], cwd)
    cache_dir = optional_path("cache-dir")
    if "cache-dir" not in parsed.given and (cache_dir is None or not cache_dir.is_dir()):
        cache_dir = None   # Kaniko's default /cache is only read when present
    mode = parsed["snapshot-mode"]
    level = parsed["compression-level"]
    if parsed["max-layer-entries"] < 1:
        raise UsageError(f"--max-layer-entries={parsed['max-layer-entries']}: expected a positive number")
    if parsed["stage-jobs"] < 0:
        raise UsageError(f"--stage-jobs={parsed['stage-jobs']}: expected 0 (one per CPU) or a positive number")
    wanted = platforms(parsed)
    options = BuildOptions(
        context_dir=context_dir,
        dockerfile=dockerfile,
        dockerfile_text=dockerfile_text,
        destinations=tuple(parsed["destination"]),
        build_args=args,
        target=parsed["target"] or None,
        platform=wanted[0] if len(wanted) == 1 else None,
        # MASON_BINFMT_DIR: another binfmt_misc directory to read (tests point it at an empty one)
        binfmt_dir=_path(env["MASON_BINFMT_DIR"], cwd) if env.get("MASON_BINFMT_DIR") else None,
        labels=labels(parsed),
        no_push=effective_no_push(parsed, env),
        tar_path=optional_path("tar-path"),
        oci_layout_path=optional_path("oci-layout-path"),
        digest_file=optional_path("digest-file"),
        image_name_with_digest_file=optional_path("image-name-with-digest-file"),
        image_name_tag_with_digest_file=optional_path("image-name-tag-with-digest-file"),
        reproducible=parsed["reproducible"],
        compression=parsed["compression"],
        compression_level=None if level < 0 else level,
        max_layer_entries=parsed["max-layer-entries"],
        work_root=work_root,
        cache_dir=cache_dir,
        snapshot_mode="auto" if mode in _KANIKO_SNAPSHOT_MODES else mode,
        isolation=parsed["isolation"],
        allow=entitlements.parse(parsed["allow"]),
        run_host_loopback=parsed["run-host-loopback"],
        force=parsed["force"],
        single_snapshot=parsed["single-snapshot"],
        ignore_paths=tuple(parsed["ignore-path"]),
        ignore_var_run=parsed["ignore-var-run"],
        skip_unused_stages=parsed["skip-unused-stages"],
        stage_jobs=parsed["stage-jobs"] or None,
        secrets=secrets(parsed, env, cwd),
        ssh=ssh_agents(parsed, env, cwd),
        cache=parsed["cache"],
        cache_repo=parsed["cache-repo"] or None,
        cache_ttl_seconds=int(parsed["cache-ttl"]),
        cache_copy_layers=parsed["cache-copy-layers"],
        cache_run_layers=parsed["cache-run-layers"],
        no_push_cache=parsed["no-push-cache"],
        no_cache_stages=frozenset(n.strip() for v in parsed["no-cache-filter"] for n in v.split(",") if n.strip()),
        cache_report=optional_path("cache-report"),
        registry=registry_access(parsed, env, cwd),
        check_push_permission=not parsed["skip-push-permission-check"],
        tls=tls,
    )
    return Mapped(options, tuple(notes), wanted if len(wanted) > 1 else ())
