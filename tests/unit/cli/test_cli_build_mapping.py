"""Kaniko's flag semantics mapped to BuildOptions (no network, no root)."""

from __future__ import annotations

import http.server
import io
import threading
from pathlib import Path

import pytest

from mason.executor.events import Info, Warn
from mason.cli.build_mapping import build_options, open_context, validate
from mason.cli.kaniko_flags import parse_argv
from mason.errors import NotSupportedError, UsageError


@pytest.fixture
def ctx(tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\n")
    (context / "sub").mkdir()
    (context / "sub" / "Dockerfile.sub").write_text("FROM scratch\nLABEL sub=1\n")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    return context, cwd


def mapped(argv, ctx, env=None, stdin=None, **kw):
    context, cwd = ctx
    parsed = parse_argv(["-c", str(context), *argv])
    with open_context(parsed, cwd=cwd, env=env or {}) as context_dir:
        return build_options(parsed, context_dir, env=env or {}, cwd=cwd, stdin=stdin, **kw)


def test_plain_build(ctx):
    m = mapped(["-d", "reg.example/app:1", "--destination=reg.example/app:latest", "--cache=true"], ctx)
    o = m.options
    assert o.context_dir == ctx[0] and o.dockerfile == ctx[0] / "Dockerfile"
    assert o.destinations == ("reg.example/app:1", "reg.example/app:latest")
    assert o.cache and o.cache_ttl_seconds == 336 * 3600 and not o.no_push
    assert o.snapshot_mode == "auto" and o.check_push_permission and o.registry.default_registry_fallback


def test_destination_or_no_push_required(ctx):
    with pytest.raises(UsageError, match="you must provide --destination, or use --no-push"):
        mapped([], ctx)
    assert mapped(["--no-push"], ctx).options.no_push


def test_kaniko_no_push_environment_overrides_the_flag(ctx):
    assert mapped([], ctx, env={"KANIKO_NO_PUSH": "true"}).options.no_push
    assert not mapped(["--no-push", "-d", "r.example/a:1"], ctx, env={"KANIKO_NO_PUSH": "false"}).options.no_push
    with pytest.raises(UsageError, match="KANIKO_NO_PUSH"):
        mapped([], ctx, env={"KANIKO_NO_PUSH": "maybe"})


def test_cache_with_no_push_needs_cache_repo(ctx):
    with pytest.raises(UsageError, match="specify cache repo with --cache-repo"):
        mapped(["--no-push", "--cache=true"], ctx)
    assert mapped(["--no-push", "--cache", "--cache-repo=r.example/c"], ctx).options.cache_repo == "r.example/c"
    assert mapped(["--no-push", "--cache", "--no-push-cache"], ctx).options.no_push_cache


@pytest.mark.parametrize("flag", ["--image-name-with-digest-file", "--image-name-tag-with-digest-file"])
def test_name_digest_files_need_a_destination(ctx, flag):
    with pytest.raises(UsageError, match=f"you must provide --destination if setting {flag}"):
        mapped(["--no-push", f"{flag}=out.txt"], ctx)


def test_build_args_from_environment(ctx):
    m = mapped(["--no-push", "--build-arg", "A=1", "--build-arg=B", "--build-arg", "C", "--build-arg=D=x=y",
                "--build-arg=A=2"], ctx, env={"B": "from-env"})
    assert dict(m.options.build_args) == {"A": "2", "B": "from-env", "D": "x=y"}
    warnings = [n.message for n in m.notes if isinstance(n, Warn)]
    assert any("--build-arg C" in w and "not set" in w for w in warnings)


def test_labels_and_bad_label(ctx):
    assert dict(mapped(["--no-push", "--label=a=1", "--label", "b=x=y"], ctx).options.labels) == {"a": "1", "b": "x=y"}
    with pytest.raises(UsageError, match="--label 'novalue': expected KEY=VALUE"):
        mapped(["--no-push", "--label=novalue"], ctx)


def test_dockerfile_resolution_cwd_first_then_context(ctx):
    context, cwd = ctx
    (cwd / "sub").mkdir()
    (cwd / "sub" / "Dockerfile.sub").write_text("FROM scratch\n")
    assert mapped(["--no-push", "-f", "sub/Dockerfile.sub"], ctx).options.dockerfile == cwd / "sub" / "Dockerfile.sub"
    (cwd / "sub" / "Dockerfile.sub").unlink()
    assert mapped(["--no-push", "-f", "sub/Dockerfile.sub"], ctx).options.dockerfile == context / "sub/Dockerfile.sub"
    absolute = context / "sub" / "Dockerfile.sub"
    assert mapped(["--no-push", f"--dockerfile={absolute}"], ctx).options.dockerfile == absolute
    with pytest.raises(UsageError, match="no such file") as err:
        mapped(["--no-push", "-f", "nope"], ctx)
    assert str(cwd / "nope") in str(err.value) and str(context / "nope") in str(err.value)


def test_default_dockerfile_is_the_contexts_even_with_one_in_cwd(ctx):
    context, cwd = ctx
    (cwd / "Dockerfile").write_text("FROM scratch\nLABEL from=cwd\n")
    assert mapped(["--no-push"], ctx).options.dockerfile == context / "Dockerfile"
    # Named explicitly, Kaniko's rule applies: the current directory first.
    assert mapped(["--no-push", "-f", "Dockerfile"], ctx).options.dockerfile == cwd / "Dockerfile"
    (context / "Dockerfile").unlink()
    with pytest.raises(UsageError, match="no Dockerfile in the build context"):
        mapped(["--no-push"], ctx)


def test_dockerfile_from_stdin(ctx):
    m = mapped(["--no-push", "-f", "-"], ctx, stdin=io.BytesIO(b"FROM scratch\nENV A=1\n"))
    assert m.options.dockerfile is None and m.options.dockerfile_text == "FROM scratch\nENV A=1\n"


def test_dockerfile_from_url(ctx, tmp_path):
    served = tmp_path / "www"
    served.mkdir()
    (served / "Dockerfile").write_text("FROM scratch\nLABEL from=url\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(served), **kw)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        m = mapped(["--no-push", f"--dockerfile={base}/Dockerfile"], ctx)
        assert m.options.dockerfile_text == "FROM scratch\nLABEL from=url\n"
        with pytest.raises(UsageError, match="HTTP 404"):
            mapped(["--no-push", f"--dockerfile={base}/missing"], ctx)
    finally:
        server.shutdown()
        server.server_close()


def test_context_forms(ctx):
    context, cwd = ctx
    parsed = parse_argv(["--no-push", f"--context=dir://{context}", "--context-sub-path=sub"])
    with open_context(parsed, cwd=cwd, env={}) as d:
        assert d == context / "sub"
    # tar/git/URL contexts are covered by tests/integration/dropin/test_dropin_contexts.py;
    # cloud buckets are refused, unknown schemes named, missing archives reported.
    for spec, error, text in (("s3://bucket/ctx.tar.gz", NotSupportedError, "cloud bucket"),
                              ("ftp://example.com/c.tgz", UsageError, "unknown scheme 'ftp'"),
                              ("tar://missing.tar.gz", UsageError, "does not exist")):
        with pytest.raises(error, match=text):
            with open_context(parse_argv(["-c", spec]), cwd=cwd, env={"TMPDIR": str(cwd)}):
                pass
    assert not [p for p in cwd.iterdir() if p.name.startswith("mason-context-")]
    with pytest.raises(UsageError, match="leaves the context"):
        with open_context(parse_argv(["-c", str(context), "--context-sub-path=../.."]), cwd=cwd, env={}):
            pass
    with pytest.raises(UsageError, match="is not a directory"):
        with open_context(parse_argv(["-c", str(context / "nope")]), cwd=cwd, env={}):
            pass


def test_git_options_only_with_git_context(ctx):
    with pytest.raises(UsageError, match="--git applies only to git:// contexts"):
        validate(parse_argv(["--no-push", "--git", "branch=main"]), {})
    from mason.cli.build_mapping import git_options
    opts = git_options(parse_argv(["--git", "branch=a,b", "--git=single-branch=true,recurse-submodules=false"]))
    assert dict(opts) == {"branch": "a,b", "single-branch": True, "recurse-submodules": False}
    with pytest.raises(UsageError, match="unknown option 'depth'"):
        git_options(parse_argv(["--git=depth=1"]))


@pytest.mark.parametrize("platform, ok", [("linux/amd64", True), ("linux/arm64/v8", True), ("linux", False),
                                          ("Linux/AMD64", False), ("linux/amd64/v1/x", False)])
def test_custom_platform_validated(ctx, platform, ok):
    if ok:
        assert mapped(["--no-push", f"--custom-platform={platform}"], ctx).options.platform == platform
    else:
        with pytest.raises(UsageError, match="--custom-platform"):
            mapped(["--no-push", f"--custom-platform={platform}"], ctx)
    with pytest.raises(NotSupportedError, match="linux images only"):
        mapped(["--no-push", "--customPlatform=windows/amd64"], ctx)


def test_snapshot_modes(ctx):
    for mode, expected in (("full", "auto"), ("redo", "auto"), ("time", "auto"), ("overlay", "overlay"),
                           ("walk", "walk"), ("auto", "auto")):
        m = mapped(["--no-push", f"--snapshot-mode={mode}"], ctx)
        assert m.options.snapshot_mode == expected
        assert any("means auto" in n.message for n in m.notes) == (mode in ("full", "redo", "time"))
    m = mapped(["--no-push", "--snapshotMode=redo"], ctx)
    assert any(isinstance(n, Warn) and "--snapshotMode is deprecated" in n.message for n in m.notes)


def test_accepted_flags_are_logged_with_their_effect(ctx):
    m = mapped(["--no-push", "--cleanup", "--use-new-run", "--compressed-caching=false"], ctx)
    infos = [n.message for n in m.notes if isinstance(n, Info)]
    for flag in ("--cleanup", "--use-new-run", "--compressed-caching"):
        assert any(i.startswith(flag + " accepted") for i in infos), flag


def test_force_and_host_root_isolation_are_options(ctx):
    m = mapped(["--no-push", "--force", "--isolation=host-root"], ctx)
    assert m.options.force is True and m.options.isolation == "host-root"
    assert mapped(["--no-push"], ctx).options.force is False


def test_cache_ttl_and_cache_dir(ctx, tmp_path):
    m = mapped(["--no-push", "--cache-ttl=1h30m", f"--cache-dir={tmp_path}"], ctx)
    assert m.options.cache_ttl_seconds == 5400 and m.options.cache_dir == tmp_path
    assert mapped(["--no-push"], ctx).options.cache_dir in (None, Path("/cache"))


def test_work_dir_and_kaniko_dir(ctx, tmp_path):
    assert mapped(["--no-push", f"--work-dir={tmp_path}"], ctx).options.work_root == tmp_path
    assert mapped(["--no-push", "--kaniko-dir=/k"], ctx).options.work_root == Path("/k")
    assert mapped(["--no-push"], ctx, env={"KANIKO_DIR": "/kd"}).options.work_root == Path("/kd")
    assert mapped(["--no-push"], ctx).options.work_root is None
    # relative paths are relative to where mason started
    assert mapped(["--no-push", "--tar-path=out/img.tar"], ctx).options.tar_path == ctx[1] / "out/img.tar"


def test_registry_flags(ctx, tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("c")
    key.write_text("k")
    m = mapped(["--no-push", "--insecure", "--skip-tls-verify-pull", "--insecure-registry=a:5000",
                "--insecure-registry", "b", f"--registry-certificate=r.example={ca}",
                f"--registry-client-cert=r.example={cert},{key}", "--registry-mirror=m1.example",
                "--registry-map=index.docker.io=m2.example;gcr.io=g.example", "--registry-map", "gcr.io=g2.example",
                "--skip-default-registry-fallback", "--push-retry=2", "--image-download-retry=3",
                "--push-ignore-immutable-tag-errors", "--skip-push-permission-check"], ctx,
               env={"KANIKO_REGISTRY_MIRROR": "m3.example", "KANIKO_REGISTRY_MAP": "quay.io=q.example"})
    r = m.options.registry
    assert r.insecure and not r.insecure_pull and r.skip_tls_verify_pull and not r.skip_tls_verify
    assert r.insecure_registries == ("a:5000", "b")
    assert dict(r.ca_certificates) == {"r.example": str(ca)}
    assert dict(r.client_certificates) == {"r.example": (str(cert), str(key))}
    assert r.mirrors == ("m1.example", "m3.example")
    assert dict(r.registry_map) == {"index.docker.io": ("m2.example",), "gcr.io": ("g.example", "g2.example"),
                                    "quay.io": ("q.example",)}
    assert not r.default_registry_fallback and r.push_retry == 2 and r.image_download_retry == 3
    assert r.push_ignore_immutable_tag_errors and not m.options.check_push_permission


@pytest.mark.parametrize("argv, message", [
    (["--registry-certificate=nopath"], "expected REGISTRY=/path/to/ca.crt"),
    (["--registry-certificate=r=/does/not/exist"], "/does/not/exist does not exist"),
    (["--registry-client-cert=r=/only-cert"], "expected REGISTRY=/path/cert,/path/key"),
    (["--registry-map=gcr.io"], "--registry-map 'gcr.io'"),
    (["--registry-map=gcr.io="], "missing the replacement"),
    (["--push-retry=-1"], "must be 0 or more"),
    (["-d", "r.example/a@sha256:" + "0" * 64], "digests cannot be pushed to"),
])
def test_registry_flag_errors(ctx, argv, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        mapped(["--no-push", *argv] if argv[0] != "-d" else argv, ctx)


def test_secrets(ctx, tmp_path):
    secret = tmp_path / "token"
    secret.write_bytes(b"s3cr3t\n")
    m = mapped(["--no-push", f"--secret=id=tok,src={secret}", "--secret", "id=api,env=API_KEY",
                "--secret=env=OTHER", f"--secret=id=t2,type=file,source={secret}"], ctx,
               env={"API_KEY": "k", "OTHER": "o"})
    assert {s.id: s.value for s in m.options.secrets} == {"tok": b"s3cr3t\n", "api": b"k", "OTHER": b"o",
                                                          "t2": b"s3cr3t\n"}
    assert "s3cr3t" not in repr(m.options)


@pytest.mark.parametrize("raw, message", [
    ("id=a,env=MISSING", "environment variable MISSING is not set"),
    ("id=a,src=/no/such/file", "cannot read /no/such/file"),
    ("id=a", "missing src=FILE"),
    ("id=a,src=x,env=Y", "not both"),
    ("id=a,color=red", "unknown key 'color'"),
    ("src", "expected id=NAME"),
])
def test_secret_errors(ctx, raw, message):
    with pytest.raises(UsageError, match=message):
        mapped(["--no-push", f"--secret={raw}"], ctx)


def test_unused_stages_are_skipped_by_default(ctx):
    """BuildKit's rule (and faster); Kaniko's "every stage" stays one flag away."""
    assert mapped(["--no-push"], ctx).options.skip_unused_stages is True
    assert mapped(["--no-push", "--skip-unused-stages=false"], ctx).options.skip_unused_stages is False


def test_lowercase_dockerfile_found_in_context(ctx):
    (ctx[0] / "Dockerfile").unlink()
    (ctx[0] / "dockerfile").write_text("FROM scratch\n")
    assert mapped(["--no-push"], ctx).options.dockerfile == ctx[0] / "dockerfile"


def test_ssh_agents(ctx, tmp_path):
    import socket

    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "a.sock"))
    try:
        m = mapped(["--no-push", f"--ssh=deploy={tmp_path / 'a.sock'}", "--ssh", "default"], ctx,
                   env={"SSH_AUTH_SOCK": str(tmp_path / "a.sock")})
        assert {(s.id, s.socket) for s in m.options.ssh} == {("deploy", str(tmp_path / "a.sock")),
                                                             ("default", str(tmp_path / "a.sock"))}
    finally:
        sock.close()


def test_ssh_errors(ctx, tmp_path):
    key = tmp_path / "id_rsa"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    with pytest.raises(NotSupportedError, match="is not a socket"):
        mapped(["--no-push", f"--ssh=default={key}"], ctx)
    with pytest.raises(UsageError, match="SSH_AUTH_SOCK is not set"):
        mapped(["--no-push", "--ssh=default"], ctx, env={})
    with pytest.raises(UsageError, match="cannot reach"):
        mapped(["--no-push", f"--ssh=x={tmp_path / 'nope'}"], ctx)
