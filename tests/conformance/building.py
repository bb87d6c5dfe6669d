"""Building one conformance case with mason: its context written from the case, then
``run_build`` with the case's options, or ``mason build`` with its flags (``cli``).
The case format is described in ``harness.py``."""

from __future__ import annotations

import io
import os
import socket
import tarfile
from pathlib import Path
from types import SimpleNamespace

from mason.cli import build_cmd
from mason.errors import MasonError
from mason.executor.events import CollectingReporter
from mason.executor.executor import run_build
from mason.executor.options import BuildOptions, RegistryAccess, SecretSource, SshSource


def render(text: str, base_layout: str) -> str:
    """``{base}`` -> the busybox image, ``{base:TAG}`` -> one of its variants, ``{bases}`` ->
    ``oci:LAYOUT`` (for a tag built from an argument: ``FROM {bases}:busy$a``)."""
    for tag in ("workdir", "user", "env"):
        text = text.replace("{base:%s}" % tag, f"oci:{base_layout}:{tag}")
    return text.replace("{base}", f"oci:{base_layout}:latest").replace("{bases}", f"oci:{base_layout}")


def write_context(case: dict, ctx: Path, base_layout: str) -> Path | None:
    ctx.mkdir(parents=True)
    dockerfile = None
    if "dockerfile" in case:
        dockerfile = ctx / case.get("dockerfile_name", "Dockerfile")
        dockerfile.parent.mkdir(parents=True, exist_ok=True)
        dockerfile.write_text(render(case["dockerfile"], base_layout))
    for name, spec in (case.get("files") or {}).items():
        path = ctx / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(spec, str):
            path.write_text(render(spec, base_layout))
            continue
        if spec.get("dir"):
            path.mkdir(exist_ok=True)
        elif "symlink" in spec:
            os.symlink(spec["symlink"], path)
        elif "tar" in spec:
            with tarfile.open(path, "w:gz" if name.endswith("gz") else "w") as tar:
                for member, text in spec["tar"].items():
                    info = tarfile.TarInfo(member)
                    info.mode, info.mtime = 0o644, 1_600_000_000
                    if isinstance(text, dict):      # {symlink: target}
                        info.type, info.linkname = tarfile.SYMTYPE, text["symlink"]
                        tar.addfile(info)
                        continue
                    data = text.encode()
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        elif spec.get("socket"):
            sock = socket.socket(socket.AF_UNIX)
            sock.bind(str(path))
            sock.close()
        else:
            path.write_text(spec.get("content", ""))
        if "mode" in spec:
            os.chmod(path, int(str(spec["mode"]), 8))
    return dockerfile if case.get("dockerfile_path") else None


def build_options(case: dict, tmp: Path, base_layout: str, n: int, registry_host: str | None) -> dict:
    """The case's ``BuildOptions`` fields for build ``n`` (0: the first)."""
    options = dict(case.get("options") or {})
    args = {k: render(str(v), base_layout) for k, v in (case.get("args") or {}).items()}
    options.update(build_args=args, target=case.get("target"))
    if case.get("ssh_agent"):
        options["ssh"] = (SshSource("default", case["ssh_agent"]),)
    if case.get("secrets"):
        options["secrets"] = tuple(SecretSource(k, str(v).encode()) for k, v in case["secrets"].items())
    if "no_cache_stages" in options:
        options["no_cache_stages"] = frozenset(options["no_cache_stages"])
    if options.pop("cache", False):
        # mason's layer cache lives in a registry: the real one, a repository per case
        options.update(cache=True, cache_repo=f"{registry_host}/conformance/{case['name']}",
                       cache_dir=tmp / f"cachedir-{n}", registry=RegistryAccess(insecure=True, insecure_pull=True))
        (tmp / f"cachedir-{n}").mkdir()
    return options


def build_case(case: dict, tmp: Path, base_layout: str, *, n: int = 0, registry_host: str | None = None):
    """Build the case (``n``: which of its builds); returns (layout path, None) or (None, the
    error: the MasonError raised, or the CLI's error output)."""
    ctx = tmp / "ctx"
    dockerfile = write_context(case, ctx, base_layout) if n == 0 else None
    out, work = tmp / f"out-{n}", tmp / f"work-{n}"
    options = build_options(case, tmp, base_layout, n, registry_host)
    if "cli" in case:
        return run_cli(case, tmp, ctx, out, work, options)
    if n and case.get("dockerfile_path"):
        dockerfile = ctx / case.get("dockerfile_name", "Dockerfile")
    opts = BuildOptions(context_dir=ctx, dockerfile=dockerfile, no_push=True, oci_layout_path=out,
                        work_root=work, **options)
    try:
        run_build(opts, reporter=CollectingReporter(), env={})
    except MasonError as exc:
        return None, exc
    return out, None


def run_cli(case: dict, tmp: Path, ctx: Path, out: Path, work: Path, options: dict):
    """Build through ``mason build``'s flags, for what only the CLI does: contexts that are not
    a directory (tar://, a tarball or a Dockerfile over HTTP, git), ``--secret`` files."""
    argv = [str(a) for a in case["cli"]]
    if "--context" not in argv:
        argv += ["--context", str(ctx)]
    argv += ["--no-push", f"--oci-layout-path={out}", f"--work-dir={work}"]
    argv += [f"--build-arg={k}={v}" for k, v in options["build_args"].items()]
    if options.get("target"):
        argv.append(f"--target={options['target']}")
    for secret in options.get("secrets", ()):
        path = tmp / "secrets" / secret.id
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(secret.value)
        argv.append(f"--secret=id={secret.id},src={path}")
    for agent in options.get("ssh", ()):
        argv.append(f"--ssh={agent.id}={agent.socket}")
    if options.get("cache"):
        argv += ["--cache=true", f"--cache-repo={options['cache_repo']}", f"--cache-dir={options['cache_dir']}",
                 "--insecure", "--insecure-pull"]
    (tmp / "tmpdir").mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TMPDIR": str(tmp / "tmpdir")}
    stderr = io.StringIO()
    code = build_cmd.run(SimpleNamespace(kaniko_argv=argv, command="build"), env=env, cwd=ctx,
                         stdin=io.BytesIO(), stdout=io.StringIO(), stderr=stderr)
    return (out, None) if code == 0 else (None, stderr.getvalue() or f"exit code {code}")
