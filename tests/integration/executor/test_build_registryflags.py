"""--registry-mirror, --registry-map, the Docker Hub fallback, --push-retry, --image-download-retry,
--push-ignore-immutable-tag-errors and the cache repository's push check, against real registries.

Docker Hub cannot be reached from the tests: a local registry stands in for it through
``RegistryAccess.docker_hub`` (which no flag sets), everything else goes through the CLI.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import uuid

import pytest

from mason.executor.events import Info, Warn
from mason.executor.options import RegistryAccess
from mason.cli import build_cmd, warm_cmd
from mason.errors import NotFoundError
from mason.image.routed import open_routed
from mason.oci.reference import parse_reference
from mason.registry import RegistryClient, RegistryOptions, RetryPolicy
from mason.registry.mirrors import PullRoutes
from tests.integration.executor.buildhelpers import build, write_context
from tests.support.images import push_layout
from tests.support.registry import free_port

pytestmark = pytest.mark.integration

ECR_IMMUTABLE = (b'{"errors":[{"code":"TAG_INVALID","message":"The image tag \'v1\' already exists in the \'app\' '
                 b'repository and cannot be overwritten because the repository is immutable."}]}')


def cli(tmp_path, argv, **env):
    code, log = _cli(tmp_path, argv, **env)
    if os.environ.get("RF_DEBUG"):
        print("=== exit", code, "\n" + log)
    return code, log


def _cli(tmp_path, argv, **env):
    out = io.StringIO()
    code = build_cmd.run(argparse.Namespace(kaniko_argv=argv),
                         env={"CI": "true", "PATH": os.environ["PATH"], "TMPDIR": str(tmp_path), **env},
                         cwd=tmp_path, stdin=io.BytesIO(), stdout=out, stderr=out)
    return code, out.getvalue()


def ctx(tmp_path, dockerfile, name="ctx"):
    return write_context(tmp_path / name, dockerfile, {"f.txt": uuid.uuid4().hex})


def layout_layers(layout) -> list[str]:
    raw = subprocess.run(["skopeo", "inspect", "--raw", f"oci:{layout}:latest"], check=True, capture_output=True,
                         text=True).stdout
    return [layer["digest"] for layer in json.loads(raw)["layers"]]


def remote_digest(ref: str) -> str:
    return subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", f"docker://{ref}"],
                          check=True, capture_output=True, text=True).stdout.strip()


def insecure(*hosts):
    return [arg for h in hosts for arg in ("--insecure-registry", h)]


# -- mirrors ------------------------------------------------------------------------------------------


def test_mirrors_are_tried_in_order_for_base_and_copy_from(tmp_path, registry_factory, busybox_layout):
    empty, good = registry_factory(), registry_factory()
    push_layout(busybox_layout, f"{good.host}/library/busybox:latest")
    context = ctx(tmp_path, "FROM busybox\nCOPY --from=busybox /bin/busybox /copied\nCOPY f.txt /f.txt\n")
    out = tmp_path / "out"
    code, log = cli(tmp_path, ["-c", str(context), "--no-push", "--oci-layout-path", str(out),
                               "--registry-mirror", empty.host, "--registry-mirror", good.host,
                               *insecure(empty.host, good.host)])
    assert code == 0, log
    assert f"could not pull docker.io/library/busybox:latest from registry mirror {empty.host}" in log
    assert "MANIFEST_UNKNOWN" in log or "NAME_UNKNOWN" in log        # the mirror's own answer
    assert (f"pulling docker.io/library/busybox:latest from registry mirror {good.host} as "
            f"{good.host}/library/busybox:latest") in log
    assert layout_layers(out)[0] == layout_layers(busybox_layout)[0]   # the base really is that image


def test_docker_hub_fallback_and_skip_default_registry_fallback(tmp_path, registry_factory, busybox_layout):
    empty, hub = registry_factory(), registry_factory()
    push_layout(busybox_layout, f"{hub.host}/library/busybox:1")
    context = ctx(tmp_path, "FROM busybox:1\nCOPY f.txt /f.txt\n")
    access = dict(mirrors=(empty.host,), insecure_registries=(empty.host, hub.host), docker_hub=hub.host)
    result, events = build(context, tmp_path / "out", tmp_path / "work", registry=RegistryAccess(**access))
    infos = [e.message for e in events.of_type(Info)]
    warns = [e.message for e in events.of_type(Warn)]
    assert any(f"from registry mirror {empty.host}" in w for w in warns)
    assert f"pulling docker.io/library/busybox:1 from registry docker.io as {hub.host}/library/busybox:1" in infos
    with pytest.raises(NotFoundError) as err:
        build(context, tmp_path / "out2", tmp_path / "work2",
              registry=RegistryAccess(**access, default_registry_fallback=False))
    message = str(err.value)
    assert f"registry mirror {empty.host} ({empty.host}/library/busybox:1)" in message
    assert hub.host not in message and "--skip-default-registry-fallback" in err.value.hint


def test_a_refused_mirror_is_skipped_with_a_warning_naming_it(registry_factory, busybox_layout):
    good = registry_factory()
    push_layout(busybox_layout, f"{good.host}/library/busybox:latest")
    dead = f"127.0.0.1:{free_port()}"
    client = RegistryClient(options=RegistryOptions(insecure_registries=frozenset({dead, good.host}),
                                                    retry=RetryPolicy(max_attempts=2, initial_delay=0.01)))
    warnings = []
    view, used = open_routed(client, parse_reference("busybox"), PullRoutes.from_flags([dead, good.host]),
                             warn=warnings.append)
    assert used.source == good.host and view.digest == remote_digest(f"{good.host}/library/busybox:latest")
    assert len(warnings) == 1 and f"registry mirror {dead}" in warnings[0] and "ConnectionError" in warnings[0]


# -- registry maps ------------------------------------------------------------------------------------


def test_registry_map_from_env_redirects_pulls_never_pushes(tmp_path, registry_factory, busybox_layout):
    orig, new = registry_factory(), registry_factory()
    push_layout(busybox_layout, f"{new.host}/team/base:1")
    context = ctx(tmp_path, f"FROM {orig.host}/team/base:1\nCOPY f.txt /f.txt\n")
    code, log = cli(tmp_path, ["-c", str(context), "-d", f"{orig.host}/team/out:1", *insecure(orig.host, new.host)],
                    KANIKO_REGISTRY_MAP=f"quay.io=elsewhere.example;{orig.host}={new.host}")
    assert code == 0, log
    assert f"from mapped registry {new.host} as {new.host}/team/base:1" in log
    remote_digest(f"{orig.host}/team/out:1")                  # pushed where the destination says
    with pytest.raises(subprocess.CalledProcessError):
        remote_digest(f"{new.host}/team/out:1")                # and not to the map's target


def test_registry_map_falls_back_to_the_original(tmp_path, registry_factory, busybox_layout):
    orig, new = registry_factory(), registry_factory()
    push_layout(busybox_layout, f"{orig.host}/team/base:1")
    context = ctx(tmp_path, f"FROM {orig.host}/team/base:1\nCOPY f.txt /f.txt\n")
    argv = ["-c", str(context), "--no-push", "--tar-path", str(tmp_path / "img.tar"),
            "--registry-map", f"{orig.host}={new.host}/prefix", *insecure(orig.host, new.host)]
    code, log = cli(tmp_path, argv)
    assert code == 0, log
    assert f"could not pull {orig.host}/team/base:1 from mapped registry {new.host}/prefix" in log
    assert f"from registry {orig.host} as {orig.host}/team/base:1" in log
    code, log = cli(tmp_path, argv + ["--skip-default-registry-fallback"])
    assert code == 3 and f"mapped registry {new.host}/prefix ({new.host}/prefix/team/base:1)" in log, log


def test_warm_uses_the_mirrors(tmp_path, registry_factory, busybox_layout):
    from mason.cache.basecache import BaseImageCache
    from mason.oci.platform import parse_platform

    empty, good = registry_factory(), registry_factory()
    push_layout(busybox_layout, f"{good.host}/library/busybox:latest")
    parser = argparse.ArgumentParser()
    warm_cmd.configure(parser)
    args = parser.parse_args(["-i", "busybox", "-c", str(tmp_path / "cache"), "--custom-platform", "linux/amd64",
                              "--registry-mirror", empty.host, "--registry-mirror", good.host,
                              *insecure(empty.host, good.host)])
    assert warm_cmd.run(args) == 0
    digest = remote_digest(f"{good.host}/library/busybox:latest")
    assert BaseImageCache(tmp_path / "cache").find(digest, parse_platform("linux/amd64")) is not None


# -- retries of whole operations ------------------------------------------------------------------------


def test_push_retry_starts_the_push_over(tmp_path, fault_proxy):
    context = ctx(tmp_path, "FROM scratch\nCOPY f.txt /f.txt\n")
    dest = f"{fault_proxy.host}/retry/{uuid.uuid4().hex[:8]}:1"
    argv = ["-c", str(context), "-d", dest, *insecure(fault_proxy.host)]
    # 400 is not retried by the client's per-request policy: only --push-retry can help.
    fault_proxy.fail_next(1, 400, method="PUT", path_contains="/manifests/")
    code, log = cli(tmp_path, argv)
    assert code == 3 and "HTTP 400" in log, log
    fault_proxy.fail_next(1, 400, method="PUT", path_contains="/manifests/")
    code, log = cli(tmp_path, argv + ["--push-retry", "1"])
    assert code == 0, log
    assert f"push to {dest} failed" in log and "retry 1 of 1" in log
    puts = [s for m, p, s in fault_proxy.log if m == "PUT" and "/manifests/" in p]
    assert puts == [400, 400, 201]
    remote_digest(dest)


def test_image_download_retry(tmp_path, fault_proxy, busybox_layout, registry_plain):
    repo = f"retry/base-{uuid.uuid4().hex[:8]}"
    push_layout(busybox_layout, f"{registry_plain.host}/{repo}:1")
    context = ctx(tmp_path, f"FROM {fault_proxy.host}/{repo}:1\nCOPY f.txt /f.txt\n")
    argv = ["-c", str(context), "--no-push", "--tar-path", str(tmp_path / "i.tar"), *insecure(fault_proxy.host)]
    fault_proxy.fail_next(1, 404, method="GET", path_contains="/manifests/")
    code, log = cli(tmp_path, argv)
    assert code == 3 and "HTTP 404" in log, log
    fault_proxy.fail_next(1, 404, method="GET", path_contains="/manifests/")
    code, log = cli(tmp_path, argv + ["--image-download-retry=1"])
    assert code == 0 and "retry 1 of 1" in log, log


# -- immutable tags -------------------------------------------------------------------------------------


def test_push_ignore_immutable_tag_errors(tmp_path, fault_proxy):
    repo = f"{fault_proxy.host}/imm/{uuid.uuid4().hex[:8]}"
    code, log = cli(tmp_path, ["-c", str(ctx(tmp_path, "FROM scratch\nCOPY f.txt /f.txt\n", "first")),
                               "-d", f"{repo}:v1", *insecure(fault_proxy.host)])
    assert code == 0, log
    first = remote_digest(f"{repo}:v1")
    second = ctx(tmp_path, "FROM scratch\nCOPY f.txt /other.txt\n", "second")

    def push(tag, *flags):
        fault_proxy.fail_next(1, 400, method="PUT", path_contains=f"/manifests/{tag}", body=ECR_IMMUTABLE)
        return cli(tmp_path, ["-c", str(second), "-d", f"{repo}:{tag}", *insecure(fault_proxy.host), *flags])

    code, log = push("v1")
    assert code == 3 and "TAG_INVALID" in log, log                   # without the flag: an error
    code, log = push("v1", "--push-ignore-immutable-tag-errors")
    assert code == 0, log
    assert "immutable tag" in log and f"the tag stays on {first}" in log
    assert remote_digest(f"{repo}:v1") == first
    code, log = push("v2", "--push-ignore-immutable-tag-errors")    # the tag does not exist: not immutability
    assert code == 3 and "TAG_INVALID" in log, log


# -- the cache repository's push permission --------------------------------------------------------------


def test_cache_repo_push_permission_is_checked_before_building(tmp_path, registry_token):
    reg = registry_token.host
    context = ctx(tmp_path, "FROM scratch\nRUN exit 1\n")     # reaching the RUN means the check came too late
    config = registry_token.docker_config(str(tmp_path / "docker"), username="private", password="private-pass")
    base = ["-c", str(context), "-d", f"{reg}/private/app:1", "--cache=true", *insecure(reg)]
    code, log = cli(tmp_path, base + ["--cache-repo", f"{reg}/other/cache"], DOCKER_CONFIG=config)
    assert code == 3, log
    assert f"--cache-repo {reg}/other/cache: no push access to {reg}/other/cache" in log
    assert f"push permission denied for the cache repository {reg}/other/cache" in log
    # Nothing ran: cache lookups may start beside the check (its step header is logged), but
    # the build waits for it before choosing an isolation; the denial is not the RUN line's.
    assert "isolation:" not in log and "Dockerfile:2" not in log, log
    # --no-push-cache: the cache is only read, so it needs no push access
    code, log = cli(tmp_path, base + ["--cache-repo", f"{reg}/other/cache", "--no-push-cache"], DOCKER_CONFIG=config)
    assert code == 1 and "RUN exit 1" in log and "no push access" not in log, log


def test_a_read_only_oci_cache_repo_is_refused_before_building(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)], check=True)
    try:
        context = ctx(tmp_path, "FROM scratch\nRUN exit 1\n")
        code, log = cli(tmp_path, ["-c", str(context), "--no-push", "--tar-path", str(tmp_path / "i.tar"),
                                   "--cache=true", "--cache-repo", f"oci:{ro}/cache"])
    finally:
        subprocess.run(["umount", str(ro)], check=True)
    assert code == 2 and f"--cache-repo oci:{ro}/cache" in log and "not writable" in log, log
