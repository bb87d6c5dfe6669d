"""Every flag the table (and so ``--help`` and docs/cli.md) calls *implemented* is used here:
parsed from a real command line and checked for its effect on what the build is asked to do
(``BuildOptions``, the output settings, or the context directory it fetched). A flag marked
implemented without a case here fails the first test, so the docs cannot promise an inert flag.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from mason.cli.build_mapping import build_options, open_context
from mason.cli.kaniko_flags import FLAGS, IMPLEMENTED, parse_argv
from mason.cli.render import settings_from_flags
from mason.tls import TlsTrust

TRUST = TlsTrust.of()     # the system roots, loaded once for every case
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@x", "PATH": "/usr/bin:/bin", "HOME": "/tmp"}


class Run:
    """One mapped command line: ``o`` the BuildOptions, ``s`` the output settings."""

    def __init__(self, tmp: Path, argv: list[str], env: dict[str, str] | None = None):
        self.tmp = tmp
        context = tmp / "ctx"
        given = any(a in ("-c", "--context") or a.startswith("--context=") for a in argv)
        parsed = parse_argv(argv if given else ["-c", str(context), *argv])
        env = {"MASON_KANIKO_CERTS_DIR": str(tmp / "none"), **(env or {})}
        with open_context(parsed, cwd=tmp, env=env, tls=TRUST) as context_dir:
            self.context_files = sorted(p.name for p in Path(context_dir).iterdir())
            self.o = build_options(parsed, context_dir, env=env, cwd=tmp, tls=TRUST).options
        self.s = settings_from_flags(parsed, tmp)


@pytest.fixture
def tmp(tmp_path):
    (tmp_path / "ctx" / "sub").mkdir(parents=True)
    (tmp_path / "ctx" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "ctx" / "sub" / "Dockerfile").write_text("FROM scratch\nLABEL sub=1\n")
    (tmp_path / "ctx" / "Dockerfile.other").write_text("FROM scratch AS a\nFROM scratch AS b\n")
    (tmp_path / "ca.crt").write_text("ca")
    (tmp_path / "cert.pem").write_text("c")
    (tmp_path / "key.pem").write_text("k")
    (tmp_path / "secret.txt").write_text("s3cret")
    with socket.socket(socket.AF_UNIX) as agent:     # the file stays: an agent socket to name
        agent.bind(str(tmp_path / "agent.sock"))
    return tmp_path


def _git_repo(tmp: Path) -> str:
    repo = tmp / "repo"
    repo.mkdir()
    for args in (["init", "-q", "-b", "main"],):
        subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True)
    (repo / "Dockerfile").write_text("FROM scratch\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, env=GIT_ENV, check=True)
    subprocess.run(["git", "commit", "-qm", "main"], cwd=repo, env=GIT_ENV, check=True)
    subprocess.run(["git", "checkout", "-qb", "dev"], cwd=repo, env=GIT_ENV, check=True)
    (repo / "only-on-dev").write_text("dev")
    subprocess.run(["git", "add", "-A"], cwd=repo, env=GIT_ENV, check=True)
    subprocess.run(["git", "commit", "-qm", "dev"], cwd=repo, env=GIT_ENV, check=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=repo, env=GIT_ENV, check=True)
    return f"git://{repo}"


NP = ["--no-push"]
D = ["-d", "reg.example/app:1"]

# flag -> (argv, check(run) -> bool). argv may use {tmp}.
CASES = {
    "dockerfile": (NP + ["-f", "Dockerfile.other"], lambda r: r.o.dockerfile.name == "Dockerfile.other"),
    "context": (NP + ["--context", "{tmp}/ctx/sub"], lambda r: r.o.context_dir.name == "sub"),
    "context-sub-path": (NP + ["--context-sub-path", "sub"], lambda r: r.o.context_dir.name == "sub"),
    "git": ("GIT", lambda r: "only-on-dev" in r.context_files),
    "build-arg": (NP + ["--build-arg", "A=1"], lambda r: dict(r.o.build_args) == {"A": "1"}),
    "target": (NP + ["-f", "Dockerfile.other", "--target", "a"], lambda r: r.o.target == "a"),
    # on by default (BuildKit's rule): the flag's effect is turning it off, Kaniko's way
    "skip-unused-stages": (NP + ["--skip-unused-stages=false"], lambda r: r.o.skip_unused_stages is False),
    "custom-platform": (NP + ["--custom-platform", "linux/arm64"], lambda r: r.o.platform == "linux/arm64"),
    "platform": (NP + ["--platform", "linux/arm64"], lambda r: r.o.platform == "linux/arm64"),
    "label": (NP + ["--label", "k=v"], lambda r: dict(r.o.labels) == {"k": "v"}),
    "snapshot-mode": (NP + ["--snapshot-mode", "walk"], lambda r: r.o.snapshot_mode == "walk"),
    "single-snapshot": (NP + ["--single-snapshot"], lambda r: r.o.single_snapshot is True),
    "ignore-path": (NP + ["--ignore-path", "/tmp/x"], lambda r: "tmp/x" in r.o.snapshot_ignores()),
    "ignore-var-run": (NP + ["--ignore-var-run=false"], lambda r: "var/run" not in r.o.snapshot_ignores()),
    "reproducible": (NP + ["--reproducible"], lambda r: r.o.reproducible is True),
    "compression": (NP + ["--compression", "zstd"], lambda r: r.o.compression == "zstd"),
    "compression-level": (NP + ["--compression-level", "3"], lambda r: r.o.compression_level == 3),
    "cache": (D + ["--cache"], lambda r: r.o.cache is True),
    "cache-repo": (D + ["--cache", "--cache-repo", "reg.example/c"], lambda r: r.o.cache_repo == "reg.example/c"),
    "cache-dir": (NP + ["--cache-dir", "{tmp}/cache"], lambda r: r.o.cache_dir == r.tmp / "cache"),
    "cache-ttl": (NP + ["--cache-ttl", "90m"], lambda r: r.o.cache_ttl_seconds == 5400),
    "cache-copy-layers": (NP + ["--cache-copy-layers=false"], lambda r: r.o.cache_copy_layers is False),
    "cache-run-layers": (NP + ["--cache-run-layers=false"], lambda r: r.o.cache_run_layers is False),
    "no-push-cache": (D + ["--no-push-cache"], lambda r: r.o.no_push_cache is True),
    "cache-report": (D + ["--cache", "--cache-report", "r.json"], lambda r: r.o.cache_report == r.tmp / "r.json"),
    "destination": (D, lambda r: r.o.destinations == ("reg.example/app:1",) and not r.o.no_push),
    "no-push": (D + ["--no-push"], lambda r: r.o.no_push is True),
    "tar-path": (NP + ["--tar-path", "i.tar"], lambda r: r.o.tar_path == r.tmp / "i.tar"),
    "oci-layout-path": (NP + ["--oci-layout-path", "lay"], lambda r: r.o.oci_layout_path == r.tmp / "lay"),
    "digest-file": (NP + ["--digest-file", "d"], lambda r: r.o.digest_file == r.tmp / "d"),
    "image-name-with-digest-file": (D + ["--image-name-with-digest-file", "n"],
                                    lambda r: r.o.image_name_with_digest_file == r.tmp / "n"),
    "image-name-tag-with-digest-file": (D + ["--image-name-tag-with-digest-file", "t"],
                                        lambda r: r.o.image_name_tag_with_digest_file == r.tmp / "t"),
    "push-retry": (D + ["--push-retry", "2"], lambda r: r.o.registry.push_retry == 2),
    "push-ignore-immutable-tag-errors": (D + ["--push-ignore-immutable-tag-errors"],
                                         lambda r: r.o.registry.push_ignore_immutable_tag_errors is True),
    "skip-push-permission-check": (D + ["--skip-push-permission-check"], lambda r: not r.o.check_push_permission),
    "insecure": (D + ["--insecure"], lambda r: r.o.registry.insecure and not r.o.registry.insecure_pull),
    "insecure-pull": (D + ["--insecure-pull"], lambda r: r.o.registry.insecure_pull and not r.o.registry.insecure),
    "insecure-registry": (D + ["--insecure-registry", "r.example"],
                          lambda r: r.o.registry.insecure_registries == ("r.example",)),
    "skip-tls-verify": (D + ["--skip-tls-verify"], lambda r: r.o.registry.skip_tls_verify),
    "skip-tls-verify-pull": (D + ["--skip-tls-verify-pull"], lambda r: r.o.registry.skip_tls_verify_pull),
    "skip-tls-verify-registry": (D + ["--skip-tls-verify-registry", "r.example"],
                                 lambda r: r.o.registry.skip_tls_verify_registries == ("r.example",)),
    "registry-certificate": (D + ["--registry-certificate", "r.example={tmp}/ca.crt"],
                             lambda r: dict(r.o.registry.ca_certificates) == {"r.example": str(r.tmp / "ca.crt")}),
    "registry-client-cert": (D + ["--registry-client-cert", "r.example={tmp}/cert.pem,{tmp}/key.pem"],
                             lambda r: tuple(r.o.registry.client_certificates.get("r.example", ())) ==
                             (str(r.tmp / "cert.pem"), str(r.tmp / "key.pem"))),
    "registry-mirror": (D + ["--registry-mirror", "mirror.example"],
                        lambda r: r.o.registry.mirrors == ("mirror.example",)),
    "registry-map": (D + ["--registry-map", "a.example=b.example"],
                     lambda r: dict(r.o.registry.registry_map) == {"a.example": ("b.example",)}),
    "skip-default-registry-fallback": (D + ["--skip-default-registry-fallback"],
                                       lambda r: r.o.registry.default_registry_fallback is False),
    "image-download-retry": (D + ["--image-download-retry", "3"], lambda r: r.o.registry.image_download_retry == 3),
    "verbosity": (NP + ["-v", "debug"], lambda r: r.s.verbosity == "debug"),
    "log-format": (NP + ["--log-format", "json"], lambda r: r.s.log_format == "json"),
    "log-timestamp": (NP + ["--log-timestamp"], lambda r: r.s.log_timestamp is True),
    "secret": (NP + ["--secret", "id=s,src={tmp}/secret.txt"],
               lambda r: [(s.id, s.value) for s in r.o.secrets] == [("s", b"s3cret")]),
    "no-cache-filter": (NP + ["--no-cache-filter", "build,test", "--no-cache-filter=1"],
                        lambda r: r.o.no_cache_stages == {"build", "test", "1"}),
    "ssh": (NP + ["--ssh", "default={tmp}/agent.sock"],
            lambda r: [(a.id, a.socket) for a in r.o.ssh] == [("default", str(r.tmp / "agent.sock"))]),
    "metadata-file": (NP + ["--metadata-file", "m.json"], lambda r: r.s.metadata_file == r.tmp / "m.json"),
    "progress": (NP + ["--progress", "plain"], lambda r: r.s.progress == "plain"),
    "work-dir": (NP + ["--work-dir", "{tmp}/w"], lambda r: r.o.work_root == r.tmp / "w"),
    "stage-jobs": (NP + ["--stage-jobs", "1"], lambda r: r.o.stage_jobs == 1),
    "isolation": (NP + ["--isolation", "chroot"], lambda r: r.o.isolation == "chroot"),
    "allow": (NP + ["--allow", "network.host", "--allow=security.insecure"],
              lambda r: r.o.allow == {"network.host", "security.insecure"}),
    "run-host-loopback": (NP + ["--run-host-loopback"], lambda r: r.o.run_host_loopback is True),
    "max-layer-entries": (NP + ["--max-layer-entries", "5000"], lambda r: r.o.max_layer_entries == 5000),
    "force": (NP + ["--force"], lambda r: r.o.force is True),
}

IMPLEMENTED_FLAGS = [spec.name for spec in FLAGS if spec.status == IMPLEMENTED]


def test_every_implemented_flag_has_a_case():
    assert sorted(CASES) == sorted(IMPLEMENTED_FLAGS)


@pytest.mark.parametrize("name", IMPLEMENTED_FLAGS)
def test_implemented_flag_takes_effect(tmp, name):
    argv, check = CASES[name]
    env = None
    if argv == "GIT":
        argv = ["--context", _git_repo(tmp), "--git", "branch=dev", *NP]
        env = {"GIT_PULL_METHOD": "file"}
    run = Run(tmp, [a.replace("{tmp}", str(tmp)) for a in argv], env)
    assert check(run), name
    # the default is something else: the flag is what made the difference
    if name not in ("destination", "context", "git"):
        baseline = Run(tmp, [a for a in (D if argv[:2] == D else NP)])
        assert not check(baseline), f"--{name}: the check passes without the flag"
