"""Several platforms on the command line: ``--platform``/``--custom-platform`` comma lists,
mapped to one build per platform; mistakes are usage errors before anything is built."""

from __future__ import annotations

import pytest

from mason.cli.build_mapping import build_options, validate
from mason.cli.kaniko_flags import parse_argv
from mason.errors import NotSupportedError, UsageError
from mason.tls import TlsTrust


def mapped(tmp_path, *argv):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    parsed = parse_argv(["-c", str(tmp_path), "--no-push", *argv])
    validate(parsed, {})
    return build_options(parsed, tmp_path, env={}, cwd=tmp_path, tls=TlsTrust.of())


@pytest.mark.parametrize("flag", ["--platform", "--custom-platform"])
def test_comma_list_is_several_platforms(tmp_path, flag):
    m = mapped(tmp_path, flag, "linux/amd64, linux/arm64")
    assert m.platforms == ("linux/amd64", "linux/arm64")
    assert m.options.platform is None            # each platform's build sets its own


def test_one_platform_is_an_ordinary_build(tmp_path):
    m = mapped(tmp_path, "--platform=linux/arm64")
    assert m.platforms == () and m.options.platform == "linux/arm64"


@pytest.mark.parametrize("argv, error, text", [
    (["--platform", "linux/amd64", "--custom-platform", "linux/arm64"], UsageError, "give one of them"),
    (["--platform", "linux/arm64,linux/arm64/v8"], UsageError, "given twice"),
    (["--platform", "linux/amd64,"], UsageError, "expected os/arch"),
    (["--platform", "linux/amd64,windows/amd64"], NotSupportedError, "linux images only"),
    (["--platform", "linux/amd64,linux/arm64", "--tar-path", "x.tar"], NotSupportedError, "--tar-path"),
])
def test_refused(tmp_path, argv, error, text):
    with pytest.raises(error) as caught:
        mapped(tmp_path, *argv)
    assert text in str(caught.value)


def test_binfmt_dir_from_the_environment(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    parsed = parse_argv(["-c", str(tmp_path), "--no-push"])
    m = build_options(parsed, tmp_path, env={"MASON_BINFMT_DIR": "bf"}, cwd=tmp_path, tls=TlsTrust.of())
    assert m.options.binfmt_dir == tmp_path / "bf"
