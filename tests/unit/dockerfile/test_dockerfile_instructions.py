"""Typed instructions: per-instruction validation, flags, and which words expand."""

import pytest

from mason.dockerfile import (Add, Arg, Cmd, Copy, Entrypoint, Env, Expose, From, Healthcheck, Label, Onbuild, Run,
                              Shell, StopSignal, User, Volume, Workdir, parse_dockerfile)
from mason.errors import DockerfileError


def ins(line):
    return parse_dockerfile("FROM base\n" + line).instructions[1]


def err(line):
    with pytest.raises(DockerfileError) as info:
        parse_dockerfile("FROM base\n" + line)
    assert info.value.line == 2 and info.value.file == "Dockerfile"
    return info.value


@pytest.mark.parametrize("line,cls", [
    ("RUN x", Run), ("CMD x", Cmd), ("ENTRYPOINT x", Entrypoint), ('SHELL ["a"]', Shell), ("COPY a b", Copy),
    ("ADD a b", Add), ("EXPOSE 80", Expose), ("VOLUME /a", Volume), ("USER u", User), ("WORKDIR /w", Workdir),
    ("STOPSIGNAL SIGTERM", StopSignal), ("ENV a=b", Env), ("LABEL a=b", Label), ("ARG a", Arg),
    ("HEALTHCHECK NONE", Healthcheck), ("ONBUILD RUN x", Onbuild),
])
def test_types(line, cls):
    assert type(ins(line)) is cls


@pytest.mark.parametrize("line,message", [
    ("FORM x", "unknown instruction: FORM"),
    ("RUN", "RUN requires at least one argument"),
    ("COPY a", "requires at least two arguments"),
    ("ADD", "requires at least two arguments"),
    ("USER", "USER requires exactly one argument"),
    ("WORKDIR", "WORKDIR requires exactly one argument"),
    ("STOPSIGNAL", "STOPSIGNAL requires exactly one argument"),
    ("EXPOSE", "EXPOSE requires at least one argument"),
    ("VOLUME", "VOLUME requires at least one argument"),
    ('VOLUME ["/a", " "]', "VOLUME specified can not be an empty string"),
    ("ENV", "ENV requires at least one argument"),
    ("ARG", "ARG requires at least one argument"),
    ("ARG =x", "ARG names can not be blank"),
    ("SHELL /bin/sh -c", "SHELL requires the arguments to be in JSON form"),
    ("SHELL []", "SHELL requires at least one argument"),
    ("FROM a b", "FROM requires either one or three arguments"),
    ("FROM a AS 1x", "invalid name for build stage"),
    ("FROM a AS b_!", "invalid name for build stage"),
    ("ONBUILD", "ONBUILD requires at least one argument"),
    ("ONBUILD ONBUILD RUN x", "Chaining ONBUILD"),
    ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
    ("ONBUILD MAINTAINER x", "MAINTAINER isn't allowed"),
    ("HEALTHCHECK", "HEALTHCHECK requires at least one argument"),
    ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
    ("HEALTHCHECK --interval=5s NONE", "takes no flags"),
    ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
    ("HEALTHCHECK FOO x", "Unknown type"),
    ("HEALTHCHECK --interval=5 CMD x", "missing unit"),
    ("HEALTHCHECK --interval=abc CMD x", "invalid duration"),
    ("HEALTHCHECK --timeout=1us CMD x", "cannot be less than 1ms"),
    ("HEALTHCHECK --retries=0 CMD x", "--retries must be at least 1"),
    ("HEALTHCHECK --retries=x CMD x", "invalid number"),
    ("RUN --foo x", "unknown flag: --foo"),
    ("RUN --mont=type=bind x", "unknown flag: --mont"),
    ("COPY --platform=x a b", "unknown flag: --platform"),
    ("ADD --from=x a b", "unknown flag: --from"),
    ("ADD --parents a b", "unknown flag: --parents"),
    ("WORKDIR --x /a", "unknown flag: --x"),
    ("COPY --from=a --from=b a b", "duplicate flag specified: --from"),
    ("COPY --link --link a b", "duplicate flag"),
    ("COPY --link=maybe a b", "expecting boolean value"),
    ("COPY --link= a b", "missing a value"),
    ("COPY --from a b", "missing a value on flag: --from"),
    ("COPY --chmod=999 a b", "invalid chmod"),
    ("COPY --chmod=u+q a b", "invalid chmod"),
    ("COPY --from=$X a b", "doesn't support variable expansion"),
    ("COPY a <<EOF\nx\nEOF", "heredoc as a destination"),
    ("RUN --network=bridge x", "unsupported network mode"),
    ("ADD --checksum=md5:abc https://x/y /y", "is not a digest"),
    ("ADD --checksum=sha256:" + "0" * 64 + " local.tar /y", "checksum can't be specified"),
    ("RUN --security=weird x", "unsupported security mode"),
    ("RUN --mount=type=volume,target=/x x", "unsupported mount type"),
    ("RUN --mount=type=bind,target=/x,sharing=locked x", "invalid cache sharing"),
    ("RUN --mount=type=bind,target=/x,mode=0700 x", "mode not allowed"),
    ("RUN --mount=type=cache,target=/x,mode=9 x", "invalid value 9 for mode"),
    ("RUN --mount=type=cache,target=/x,uid=a x", "invalid value a for uid"),
    ("RUN --mount=type=cache,target=/x,bogus=1 x", "unexpected key 'bogus'"),
    ("RUN --mount=type=cache,target=/x,noval x", "must be a key=value pair"),
    ("RUN --mount=type=bind,target=/x,required x", "unexpected key 'required'"),
    ("RUN --mount=type=secret x", "one of source, target required"),
    ("RUN --mount=type=secret,id=a,src=b x", "both source and id"),
    ("RUN --mount=type=secret,id=a,from=b x", "secret mount should not have a from"),
    ("RUN --mount=type=bind,from=$X,target=/x x", "doesn't support variable expansion"),
    ("RUN --mount=type=tmpfs,target=/x,size=lots x", "invalid value for size"),
    ("RUN --mount=type=cache,target=/x,sharing=sometimes x", "unsupported sharing"),
])
def test_validation_errors(line, message):
    assert message in err(line).message


def test_did_you_mean_hint():
    assert err("WROKDIR /x").hint == "did you mean WORKDIR?"
    assert err("RUN --mont=x y").hint == "did you mean mount?"


def test_from_record():
    df = parse_dockerfile("FROM --platform=linux/arm64 golang:1.22 As Builder\n")
    frm = df.instructions[0]
    assert (frm.base, frm.stage_name, frm.platform) == ("golang:1.22", "builder", "linux/arm64")


def test_run_flags_all_mount_types():
    run = ins("RUN --mount=type=bind,source=src,target=/src,from=build,rw "
              "--mount=type=cache,target=/root/.cache,id=pip,sharing=locked,mode=0755,uid=1,gid=2 "
              "--mount=type=tmpfs,target=/tmp,size=64m "
              "--mount=type=secret,id=npmrc,target=/root/.npmrc,required=true,mode=0400 "
              "--mount=type=secret,id=tok,env=TOKEN "
              "--mount=type=ssh,id=default,required "
              "--network=host --security=insecure make")
    kinds = [m.type for m in run.mounts]
    assert kinds == ["bind", "cache", "tmpfs", "secret", "secret", "ssh"]
    bind, cache, tmpfs, secret, env_secret, ssh = run.mounts
    assert (bind.source, bind.target, bind.from_, bind.readonly) == ("src", "/src", "build", False)
    assert (cache.id, cache.sharing, cache.mode, cache.uid, cache.gid, cache.readonly) == ("pip", "locked", 0o755, 1, 2, False)
    assert tmpfs.size == 64 << 20
    assert secret.required and secret.mode == 0o400 and env_secret.env == "TOKEN"
    assert ssh.required and bind.readonly is False
    assert run.network == "host" and run.security == "insecure"
    assert run.command == ("make",) and run.prepend_shell


def test_bind_mount_default_readonly():
    assert ins("RUN --mount=target=/x x").mounts[0].readonly is True


def test_copy_and_add_flags():
    copy = ins("COPY --from=0 --chown=app:app --chmod=0644 --link --parents --exclude=*.md --exclude=tmp a b /d/")
    assert (copy.sources, copy.dest, copy.from_, copy.chown, copy.chmod) == (("a", "b"), "/d/", "0", "app:app", "0644")
    assert copy.link and copy.parents and copy.excludes == ("*.md", "tmp")
    add = ins("ADD --checksum=sha256:" + "a" * 64 + " --keep-git-dir=true --unpack=false --chmod=a+rx "
              "https://example.com/x.tgz /x")
    assert add.keep_git_dir is True and add.unpack is False and add.checksum.startswith("sha256:")
    assert ins("ADD a b").keep_git_dir is None


def test_copy_heredoc_sources():
    copy = parse_dockerfile("FROM a\nCOPY <<-EOF <<'RAW' file /dest/\n\thello $X\n\tEOF\n$Y\nRAW\n").instructions[1]
    assert copy.sources == ("file",)
    assert [(s.name, s.data, s.expand) for s in copy.inline] == [("EOF", "hello $X\n", True), ("RAW", "$Y\n", False)]
    expanded = copy.expand({"X": "1", "Y": "2"})
    assert [s.data for s in expanded.inline] == ["hello 1\n", "$Y\n"]


def test_healthcheck_record():
    hc = ins("HEALTHCHECK --interval=1m30s --timeout=10s --start-period=5s --start-interval=1s --retries=3 "
             "CMD curl -f http://localhost/ || exit 1")
    assert hc.test == ("CMD-SHELL", "curl -f http://localhost/ || exit 1")
    assert (hc.interval, hc.timeout, hc.start_period, hc.start_interval, hc.retries) == (
        90_000_000_000, 10_000_000_000, 5_000_000_000, 1_000_000_000, 3)
    assert ins('HEALTHCHECK CMD ["curl", "x"]').test == ("CMD", "curl", "x")
    assert ins("HEALTHCHECK none").test == ("NONE",)


def test_onbuild_expression_includes_heredoc():
    ob = parse_dockerfile("FROM a\nonbuild RUN <<EOF\necho hi\nEOF\n").instructions[1]
    assert ob.expression == "RUN <<EOF\necho hi\nEOF"


def test_arg_forms():
    arg = ins("ARG a b=2 c=")
    assert [(d.name, d.default) for d in arg.args] == [("a", None), ("b", "2"), ("c", "")]


def test_only_arg_before_from():
    with pytest.raises(DockerfileError, match="no build stage in current context") as info:
        parse_dockerfile("ARG a\nRUN x\nFROM b\n")
    assert info.value.line == 2
    with pytest.raises(DockerfileError, match="contains no stages"):
        parse_dockerfile("ARG a\n")


ENV = {"A": "x y", "P": "/opt", "V": "1.0", "U": "app", "PORT": "8080", "PORTS": "80 443"}


@pytest.mark.parametrize("line,attr,expected", [
    ("WORKDIR $P/app", "path", "/opt/app"),
    ("USER ${U}:${U}", "user", "app:app"),
    ("STOPSIGNAL ${SIG:-SIGQUIT}", "signal", "SIGQUIT"),
    ("VOLUME $P \"$A\"", "paths", ("/opt", "x y")),
    ("EXPOSE $PORT 53/udp", "ports", ("8080", "53/udp")),
    ("EXPOSE $PORTS", "ports", ("80", "443")),
    ("EXPOSE \"$PORTS\"", "ports", ("80 443",)),
    ("COPY --chown=$U $P/a \"$A\" /dst/$V/", "sources", ("/opt/a", "x y")),
    ("COPY --chown=$U a /dst/$V/", "dest", "/dst/1.0/"),
    ("COPY --chown=$U a b", "chown", "app"),
    ("ADD --checksum=$SUM https://x/a b", "checksum", ""),
    ("ENV K=$A K2=\"$V\"", "pairs", None),
    ("RUN echo $A", "command", ("echo $A",)),
    ("CMD [\"$A\"]", "command", ("$A",)),
])
def test_expansion(line, attr, expected):
    expanded = ins(line).expand(ENV)
    if attr == "pairs":
        assert [(p.key, p.value) for p in expanded.pairs] == [("K", "x y"), ("K2", "1.0")]
    else:
        assert getattr(expanded, attr) == expected


def test_run_mount_values_expand():
    run = ins("RUN --mount=type=cache,target=$P/cache,id=${U}-cache x").expand(ENV)
    assert run.mounts[0].target == "/opt/cache" and run.mounts[0].id == "app-cache"


def test_records_are_frozen():
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        ins("WORKDIR /a").path = "/b"


def test_expansion_errors_are_located():
    with pytest.raises(DockerfileError) as info:
        ins("WORKDIR ${NOPE:?must be set}").expand({})
    assert info.value.line == 2 and "NOPE: must be set" in info.value.message
    with pytest.raises(DockerfileError, match="unsupported mount type"):
        ins("RUN --mount=type=$T,target=/x x").expand({"T": "nfs"})
