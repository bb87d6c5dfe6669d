"""Every flag in the table parses in each of its pflag forms; unknown flags get 'did you mean'."""

from __future__ import annotations

import pytest

from mason.ci.invocation import BOOLEAN_FLAGS, SHORT_FLAGS
from mason.cli.kaniko_flags import (ACCEPTED, BOOL, BY_NAME, DURATION, FLAGS, IMPLEMENTED, INT, LIST, REFUSED,
                                    parse_argv, parse_go_duration, refuse_unsupported, suggest)
from mason.errors import NotSupportedError, UsageError

# Every flag of Kaniko v1.24's executor (cmd/executor/cmd/root.go), written out independently of
# the table so a flag dropped from the table fails here.
KANIKO_FLAGS = {
    "dockerfile", "context", "context-sub-path", "bucket", "destination", "snapshot-mode", "custom-platform",
    "build-arg", "insecure", "skip-tls-verify", "insecure-pull", "skip-tls-verify-pull", "push-retry",
    "push-ignore-immutable-tag-errors", "image-fs-extract-retry", "image-download-retry", "kaniko-dir",
    "tar-path", "single-snapshot", "reproducible", "target", "no-push", "no-push-cache", "cache-repo",
    "cache-dir", "digest-file", "image-name-with-digest-file", "image-name-tag-with-digest-file",
    "oci-layout-path", "compression", "compression-level", "cache", "compressed-caching", "cleanup",
    "cache-ttl", "insecure-registry", "skip-tls-verify-registry", "registry-certificate", "registry-client-cert",
    "registry-map", "registry-mirror", "skip-default-registry-fallback", "ignore-var-run", "label",
    "skip-unused-stages", "use-new-run", "git", "cache-copy-layers", "cache-run-layers", "ignore-path",
    "force-build-metadata", "skip-push-permission-check", "verbosity", "log-format", "log-timestamp", "force",
}
KANIKO_ALIASES = {"snapshotMode": "snapshot-mode", "customPlatform": "custom-platform", "tarPath": "tar-path",
                  "whitelist-var-run": "ignore-var-run"}


def sample(spec) -> tuple[str, object]:
    """A valid raw value for the flag and the value the parser must produce."""
    if spec.choices:
        return spec.choices[-1], spec.choices[-1]
    return {INT: ("3", 3), DURATION: ("1h30m", 5400.0), LIST: ("k=v", ("k=v",))}.get(spec.kind, ("val", "val"))


def test_table_has_every_kaniko_flag_and_alias():
    kaniko = {f.name for f in FLAGS if f.origin == "kaniko"}
    assert kaniko == KANIKO_FLAGS
    assert {a: f.name for f in FLAGS for a in f.aliases} == KANIKO_ALIASES
    assert {f.short: f.name for f in FLAGS if f.short} == {"f": "dockerfile", "c": "context", "d": "destination",
                                                          "v": "verbosity", "b": "bucket"}
    assert all(f.status in (IMPLEMENTED, ACCEPTED, REFUSED) for f in FLAGS)
    assert all(f.effect for f in FLAGS if f.status != IMPLEMENTED)


def test_table_agrees_with_the_ci_linter_on_booleans_and_short_forms():
    assert {f.name for f in FLAGS if f.kind == BOOL and f.origin == "kaniko"} == set(BOOLEAN_FLAGS)
    assert all(BY_NAME[name].short == short for short, name in SHORT_FLAGS.items())


@pytest.mark.parametrize("spec", FLAGS, ids=lambda s: s.name)
def test_every_flag_parses_in_every_form(spec):
    spellings = [spec.name, *spec.aliases]
    if spec.kind == BOOL:
        for name in spellings:
            for raw, expected in (("", True), ("=true", True), ("=false", False), ("=1", True), ("=F", False)):
                parsed = parse_argv([f"--{name}{raw}"])
                assert parsed[spec.name] is expected, (name, raw)
                assert spec.name in parsed.given
        assert parse_argv([])[spec.name] is spec.default
        return
    raw, expected = sample(spec)
    forms = [[f"--{n}={raw}"] for n in spellings] + [[f"--{n}", raw] for n in spellings]
    if spec.short:
        forms += [[f"-{spec.short}", raw], [f"-{spec.short}{raw}"], [f"-{spec.short}={raw}"]]
    for argv in forms:
        parsed = parse_argv(argv)
        assert parsed[spec.name] == expected, argv
        assert parsed.given == {spec.name}
    if spec.kind == LIST:
        parsed = parse_argv([f"--{spec.name}=a=1", f"--{spec.name}", "b=2"])
        assert parsed[spec.name] == ("a=1", "b=2")
    else:
        parsed = parse_argv([f"--{spec.name}={raw}", f"--{spec.name}={raw}"])   # last wins, as in pflag
        assert parsed[spec.name] == expected


def test_defaults_are_kanikos():
    parsed = parse_argv([])
    assert parsed["dockerfile"] == "Dockerfile" and parsed["context"] == "/workspace/"
    assert parsed["cache-ttl"] == 336 * 3600 and parsed["ignore-var-run"] is True
    assert parsed["cache-run-layers"] is True and parsed["compressed-caching"] is True
    assert parsed["verbosity"] == "info" and parsed["log-format"] == "color"
    assert parsed["snapshot-mode"] == "full" and parsed["destination"] == ()
    assert not parsed.given


def test_deprecated_aliases_are_reported():
    parsed = parse_argv(["--snapshotMode=redo", "--tarPath", "out.tar"])
    assert parsed["snapshot-mode"] == "redo" and parsed["tar-path"] == "out.tar"
    assert parsed.aliases_used == (("snapshotMode", "snapshot-mode"), ("tarPath", "tar-path"))


@pytest.mark.parametrize("typo, guess", [("--destinaton", "--destination"), ("--cache-ttll", "--cache-ttl"),
                                         ("--no-pus", "--no-push"), ("--snapshot_mode", "--snapshot-mode")])
def test_unknown_flag_did_you_mean(typo, guess):
    with pytest.raises(UsageError) as err:
        parse_argv(["--no-push", f"{typo}=x"])
    assert f"unknown flag: {typo}" in str(err.value) and f"did you mean {guess}?" in str(err.value)
    assert err.value.exit_code == 2
    assert suggest(typo) == guess


def test_unknown_short_flag_and_stray_words():
    with pytest.raises(UsageError, match="unknown flag: -x"):
        parse_argv(["-x", "1"])
    with pytest.raises(UsageError, match="unexpected argument 'false'") as err:
        parse_argv(["--cache", "false"])    # pflag: a boolean never takes the next word
    assert "--flag=false" in err.value.hint
    with pytest.raises(UsageError, match="no abbreviations|unknown flag: --dest"):
        parse_argv(["--dest=x"])


def test_value_flags_need_values():
    with pytest.raises(UsageError, match="flag --destination needs a value"):
        parse_argv(["--destination"])
    with pytest.raises(UsageError, match="found flag --cache instead"):
        parse_argv(["--destination", "--cache"])


@pytest.mark.parametrize("argv, message", [
    (["--cache=yes"], "invalid boolean 'yes' for --cache"),
    (["--push-retry=two"], "invalid integer 'two' for --push-retry"),
    (["--cache-ttl=24"], "invalid duration '24' for --cache-ttl"),
    (["--verbosity=loud"], "expected one of panic, fatal"),
    (["--log-format", "xml"], "expected one of color, text, json"),
    (["--compression=lz4"], "expected one of gzip, zstd"),
])
def test_bad_values_name_the_flag(argv, message):
    with pytest.raises(UsageError, match=message):
        parse_argv(argv)


@pytest.mark.parametrize("text, seconds", [("336h", 336 * 3600), ("90m", 5400), ("1h30m", 5400), ("1.5h", 5400),
                                           ("0", 0), ("500ms", 0.5), ("2h0m0s", 7200), ("-1s", -1)])
def test_go_durations(text, seconds):
    assert parse_go_duration(text) == pytest.approx(seconds)


def test_missing_unit_hint():
    with pytest.raises(UsageError) as err:
        parse_go_duration("24", "--cache-ttl")
    assert err.value.hint == "write e.g. 24h"


def test_refused_flags_are_errors_naming_the_flag():
    refuse_unsupported(parse_argv(["--cleanup", "--use-new-run"]))   # accepted ones pass
    with pytest.raises(NotSupportedError, match="--bucket"):
        refuse_unsupported(parse_argv(["-b", "my-bucket"]))


def test_help_flag():
    assert parse_argv(["--help"]).help and parse_argv(["-d", "x", "-h"]).help
