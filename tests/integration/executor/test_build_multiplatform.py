"""``mason build --platform linux/amd64,linux/arm64`` on one amd64 machine: each platform built
(RUN for arm64 through qemu-aarch64 in binfmt_misc), one OCI index pushed to a real registry
and written to an OCI layout, checked with skopeo and umoci; a platform without a registered
interpreter is refused before any work."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess

import pytest

from mason.cli import build_cmd
from mason.oci.platform import host_platform
from tests.integration.executor.buildhelpers import write_context
from tests.support.binfmt import qemu_aarch64
from tests.support.images import build_multiplatform_layout

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(host_platform().architecture != "amd64",
                                 reason="the fixtures are an amd64 host emulating arm64")]

DOCKERFILE = """\
FROM {base}
ARG TARGETPLATFORM
ARG TARGETARCH
ARG BUILDPLATFORM
RUN uname -m > /arch && echo "$TARGETPLATFORM $TARGETARCH $BUILDPLATFORM" > /args
"""


@pytest.fixture(scope="module")
def binfmt():
    with qemu_aarch64() as directory:
        yield directory


@pytest.fixture(scope="module")
def native_base(tmp_path_factory):
    """busybox for amd64 and arm64 (each its own architecture's binary) under one index."""
    return build_multiplatform_layout(str(tmp_path_factory.mktemp("native-multiplatform")), native=True)


def cli(tmp_path, argv, env=None):
    out = io.StringIO()
    code = build_cmd.run(argparse.Namespace(kaniko_argv=argv),
                         env={"CI": "true", "PATH": os.environ["PATH"], "TMPDIR": str(tmp_path), **(env or {})},
                         cwd=tmp_path, stdin=io.BytesIO(), stdout=out, stderr=out)
    return code, out.getvalue()


def skopeo_raw(ref: str, *flags: str) -> dict:
    return json.loads(subprocess.run(["skopeo", "inspect", "--raw", *flags, ref], check=True,
                                     capture_output=True, text=True).stdout)


def read_blob(layout, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()


def test_two_platforms_one_index(tmp_path, registry_plain, native_base, binfmt):
    ctx = write_context(tmp_path / "ctx", DOCKERFILE.format(base=f"oci:{native_base}:latest"))
    dest = f"{registry_plain.host}/multi/app:1"
    out = tmp_path / "out"
    code, log = cli(tmp_path, ["--context", str(ctx), "--platform", "linux/amd64,linux/arm64",
                               "--destination", dest, "--insecure-registry", registry_plain.host,
                               "--oci-layout-path", str(out), "--digest-file", str(tmp_path / "digest"),
                               "--work-dir", str(tmp_path / "w")])
    assert code == 0, log
    index = skopeo_raw(f"docker://{dest}", "--tls-verify=false")
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    platforms = [(m["platform"]["os"], m["platform"]["architecture"]) for m in index["manifests"]]
    assert platforms == [("linux", "amd64"), ("linux", "arm64")]
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{dest}"], check=True,
                         capture_output=True).stdout
    assert (tmp_path / "digest").read_text() == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert skopeo_raw(f"oci:{out}:1") == index          # the layout holds the same index
    expected = {"amd64": ("x86_64", "linux/amd64 amd64"), "arm64": ("aarch64", "linux/arm64 arm64")}
    for entry in index["manifests"]:
        arch = entry["platform"]["architecture"]
        # each child is pullable by digest from the registry, with its own config
        manifest = skopeo_raw(f"docker://{registry_plain.host}/multi/app@{entry['digest']}", "--tls-verify=false")
        config = json.loads(read_blob(out, manifest["config"]["digest"]))
        assert config["architecture"] == arch and config["os"] == "linux"
        bundle = tmp_path / f"bundle-{arch}"
        subprocess.run(["skopeo", "copy", "--src-tls-verify=false",
                        f"docker://{registry_plain.host}/multi/app@{entry['digest']}",
                        f"oci:{tmp_path / ('one-' + arch)}:x"], check=True, capture_output=True)
        subprocess.run(["umoci", "unpack", "--image", f"{tmp_path / ('one-' + arch)}:x", str(bundle)], check=True,
                       capture_output=True)
        rootfs = bundle / "rootfs"
        machine, args = expected[arch]
        assert (rootfs / "arch").read_text().strip() == machine       # RUN ran as that CPU
        assert (rootfs / "args").read_text().strip() == f"{args} linux/amd64"
        # and the image's own busybox runs under its emulator (arm64: qemu-aarch64 via binfmt_misc)
        ran = subprocess.run(["chroot", str(rootfs), "/bin/uname", "-m"], capture_output=True, text=True)
        assert ran.returncode == 0 and ran.stdout.strip() == machine, ran.stderr


def test_custom_platform_comma_list(tmp_path, native_base, binfmt):
    ctx = write_context(tmp_path / "ctx", DOCKERFILE.format(base=f"oci:{native_base}:latest"))
    out = tmp_path / "out"
    code, log = cli(tmp_path, ["--context", str(ctx), "--custom-platform=linux/arm64,linux/amd64", "--no-push",
                               "--oci-layout-path", str(out), "--work-dir", str(tmp_path / "w")])
    assert code == 0, log
    index = skopeo_raw(f"oci:{out}:latest")
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["arm64", "amd64"]


def test_no_interpreter_is_refused_before_any_work(tmp_path, native_base, registry_plain):
    empty = tmp_path / "binfmt"
    empty.mkdir()
    (empty / "status").write_text("enabled\n")
    ctx = write_context(tmp_path / "ctx", DOCKERFILE.format(base=f"oci:{native_base}:latest"))
    dest = f"{registry_plain.host}/multi/refused:1"
    code, log = cli(tmp_path, ["--context", str(ctx), "--platform", "linux/amd64,linux/arm64",
                               "--destination", dest, "--insecure-registry", registry_plain.host,
                               "--oci-layout-path", str(tmp_path / "out"), "--work-dir", str(tmp_path / "w")],
                    env={"MASON_BINFMT_DIR": str(empty)})
    assert code == 2, log                       # NotSupportedError: refused, as an unsupported flag is
    assert "RUN for linux/arm64/v8" in log and "none is registered" in log, log
    assert "qemu-user-static" in log and "binfmt-support" in log, log
    assert "building for" not in log            # nothing was built, not even amd64
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "w").exists() or os.listdir(tmp_path / "w") == []
    missing = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{dest}"],
                             capture_output=True, text=True)
    assert missing.returncode != 0


def test_without_fix_binary_is_refused(tmp_path, native_base):
    """An entry registered without F would make the kernel look the interpreter up inside the
    RUN's root filesystem: refused, naming the entry."""
    directory = tmp_path / "binfmt"
    directory.mkdir()
    (directory / "status").write_text("enabled\n")
    (directory / "qemu-aarch64").write_text(
        "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: OP\noffset 0\n"
        "magic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n")
    ctx = write_context(tmp_path / "ctx", DOCKERFILE.format(base=f"oci:{native_base}:arm64"))
    code, log = cli(tmp_path, ["--context", str(ctx), "--custom-platform", "linux/arm64", "--no-push",
                               "--oci-layout-path", str(tmp_path / "out"), "--work-dir", str(tmp_path / "w")],
                    env={"MASON_BINFMT_DIR": str(directory)})
    assert code == 2, log
    assert "lacks the F (fix-binary) flag" in log, log
    assert not (tmp_path / "out").exists()


def test_unregistered_platform_is_refused(tmp_path, native_base, binfmt):
    """riscv64: nobody registered it here (the test registers only aarch64)."""
    if (binfmt / "qemu-riscv64").exists():
        pytest.skip("this machine has qemu-riscv64 registered")
    ctx = write_context(tmp_path / "ctx", "FROM scratch\nCOPY Dockerfile /\nFROM busybox-never-pulled\nRUN true\n")
    code, log = cli(tmp_path, ["--context", str(ctx), "--platform", "linux/amd64,linux/riscv64", "--no-push",
                               "--work-dir", str(tmp_path / "w")])
    assert code == 2, log
    assert "RUN for linux/riscv64" in log and "none is registered" in log, log


def test_copy_only_needs_no_emulator(tmp_path, native_base):
    """No RUN, nothing executes: a foreign platform builds without any interpreter."""
    empty = tmp_path / "binfmt"
    empty.mkdir()
    ctx = write_context(tmp_path / "ctx", f"FROM oci:{native_base}:latest\nCOPY Dockerfile /d\n")
    out = tmp_path / "out"
    code, log = cli(tmp_path, ["--context", str(ctx), "--platform", "linux/amd64,linux/arm64", "--no-push",
                               "--oci-layout-path", str(out), "--work-dir", str(tmp_path / "w")],
                    env={"MASON_BINFMT_DIR": str(empty)})
    assert code == 0, log
    assert "building for linux/arm64 (2 of 2)" in log       # the refusal test's absence check means something
    assert len(skopeo_raw(f"oci:{out}:latest")["manifests"]) == 2


def test_cache_keys_are_per_platform(tmp_path, registry_plain, native_base, binfmt):
    """One Dockerfile, two platforms, a shared cache repository: each platform's RUN is its own
    cache entry (the second platform never reuses the first's layer), and a rebuild hits both."""
    from mason.executor.events import CollectingReporter
    from mason.executor.multiplatform import run_multi_platform
    from mason.executor.options import BuildOptions, RegistryAccess

    ctx = write_context(tmp_path / "ctx", DOCKERFILE.format(base=f"oci:{native_base}:latest"))
    access = RegistryAccess(insecure_registries=(registry_plain.host,))

    def build(n):
        options = BuildOptions(context_dir=ctx, destinations=(f"{registry_plain.host}/multi/cached:{n}",),
                               cache=True, cache_repo=f"{registry_plain.host}/multi/cache", registry=access,
                               oci_layout_path=tmp_path / f"out{n}", work_root=tmp_path / f"w{n}")
        return run_multi_platform(options, ("linux/amd64", "linux/arm64"), reporter=CollectingReporter(),
                                  env={"PATH": os.environ["PATH"]})

    first, second = build(1), build(2)
    runs = lambda result: [s for s in result.steps if s.instruction.startswith("RUN")]   # noqa: E731
    assert [s.cache for s in runs(first)] == ["miss", "miss"]
    assert runs(first)[0].cache_key != runs(first)[1].cache_key
    assert [s.cache for s in runs(second)] == ["hit", "hit"]
    index = skopeo_raw(f"oci:{tmp_path / 'out2'}:2")
    for entry in index["manifests"]:
        manifest = json.loads(read_blob(tmp_path / "out2", entry["digest"]))
        layer = manifest["layers"][-1]["digest"]
        listing = subprocess.run(["tar", "-xzOf", str(tmp_path / "out2" / "blobs" / "sha256" / layer.split(":")[1]),
                                  "arch"], capture_output=True, text=True, check=True).stdout.strip()
        assert listing == {"amd64": "x86_64", "arm64": "aarch64"}[entry["platform"]["architecture"]]
