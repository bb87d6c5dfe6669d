"""Every error path of ``mason build`` ends in a message and a documented exit code (docs/cli.md),
never a Python traceback, unless ``--verbosity=debug`` asks for one."""

from __future__ import annotations

import socket

import pytest

from tests.reliability.relhelpers import assert_no_traceback, mason, text, work_dirs

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _case(tmp_path, name, registry_plain, registry_tls, busybox_layout):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    work = ["--work-dir", str(tmp_path / "work")]
    if name == "bad flag":
        return ["--no-such-flag"], 2, "no-such-flag", {}
    if name == "bad flag value":
        return ["--context", str(ctx), "--compression", "lzma", "--no-push"], 2, "compression", {}
    if name == "missing Dockerfile":
        return ["--context", str(ctx), "--no-push", *work], 2, "Dockerfile", {}
    if name == "missing context":
        return ["--context", str(tmp_path / "nope"), "--no-push", *work], 2, "nope", {}
    if name == "bad Dockerfile":
        (ctx / "Dockerfile").write_text("FROM scratch\nFROBNICATE all\n")
        return ["--context", str(ctx), "--no-push", *work], 1, "FROBNICATE", {}
    if name == "unsupported syntax":
        # a frontend other than the Dockerfile syntax mason implements is refused, never ignored
        (ctx / "Dockerfile").write_text(f"# syntax=example.com/other/frontend:1\nFROM oci:{busybox_layout}\n"
                                        "RUN true\n")
        return ["--context", str(ctx), "--no-push", *work], 2, "syntax=example.com/other/frontend:1", {}
    if name == "unknown base":
        (ctx / "Dockerfile").write_text(f"FROM {registry_plain.host}/no/such-image:1\n")
        return (["--context", str(ctx), "--no-push", "--insecure-registry", registry_plain.host, *work], 3,
                "no/such-image", {})
    if name == "registry down":
        host = f"127.0.0.1:{_free_port()}"
        (ctx / "Dockerfile").write_text(f"FROM {host}/x/y:1\n")
        return ["--context", str(ctx), "--no-push", "--insecure-registry", host, *work], 3, host, {}
    if name == "auth failure":
        (ctx / "Dockerfile").write_text(f"FROM oci:{busybox_layout}\n")
        config = registry_tls.docker_config(str(tmp_path / "docker"), password="wrong-password")
        return (["--context", str(ctx), "--destination", f"{registry_tls.host}/r/x:1",
                 "--registry-certificate", f"{registry_tls.host}={registry_tls.ca_file}", *work], 3,
                registry_tls.host, {"DOCKER_CONFIG": config})
    if name == "RUN failure":
        (ctx / "Dockerfile").write_text(f"FROM oci:{busybox_layout}\nRUN echo about to fail; exit 7\n")
        return ["--context", str(ctx), "--no-push", *work], 1, "7", {}
    if name == "COPY source missing":
        (ctx / "Dockerfile").write_text(f"FROM oci:{busybox_layout}\nCOPY nothing-here /x\n")
        return ["--context", str(ctx), "--no-push", *work], 1, "nothing-here", {}
    if name == "unknown target":
        (ctx / "Dockerfile").write_text("FROM scratch AS a\n")
        return ["--context", str(ctx), "--no-push", "--target", "zzz", *work], 1, "zzz", {}
    if name == "invalid destination":
        (ctx / "Dockerfile").write_text("FROM scratch\n")
        return ["--context", str(ctx), "--destination", "UPPER/Case::bad", *work], 2, "UPPER", {}
    raise AssertionError(name)


CASES = ["bad flag", "bad flag value", "missing Dockerfile", "missing context", "bad Dockerfile",
         "unsupported syntax", "unknown base", "registry down", "auth failure", "RUN failure",
         "COPY source missing", "unknown target", "invalid destination"]


@pytest.mark.parametrize("name", CASES)
def test_error_path(tmp_path, registry_plain, registry_tls, busybox_layout, name):
    from tests.reliability.relhelpers import cli_env

    args, code, needle, env = _case(tmp_path, name, registry_plain, registry_tls, busybox_layout)
    proc = mason("build", *args, env=cli_env(**env))
    out = text(proc)
    assert proc.returncode == code, f"{name}: exit {proc.returncode}, expected {code}\n{out[-2000:]}"
    assert_no_traceback(proc)
    assert needle in out, f"{name}: the message does not name {needle!r}\n{out[-2000:]}"
    assert work_dirs(tmp_path / "work") == []


def test_debug_verbosity_shows_the_traceback_of_a_failure(tmp_path, busybox_layout):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM oci:{busybox_layout}\nCOPY nothing-here /x\n")
    proc = mason("build", "--context", str(ctx), "--no-push", "--verbosity=debug", "--work-dir", str(tmp_path / "w"))
    assert proc.returncode == 1
    assert "nothing-here" in text(proc)
