"""The builders under test, each as one build = build + push to the benchmark registry.

Buildah, mason (privileged: namespaces + overlay), mason-unpriv (the same mason command in
the unprivileged-container harness, see ``unpriv.py``: chroot isolation) and mason-hostroot
(the same command in a container of mason's image, see ``hostroot.py``: host-root isolation).

Every build gets brand-new local state (storage, work and cache dirs) that is unmounted and
deleted afterwards, as on an ephemeral CI runner; only the registry (base images and the
registry layer cache) survives between builds.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from .deps import tool_version
from .measure import Measurement, combine, run_measured
from .mounts import unmount_under

REPO = Path(__file__).resolve().parents[2]

# The mason side is this one template (override with --mason-cmd); placeholders are filled
# with shell-quoted values. Kaniko-compatible flags, so the same line works for Kaniko.
MASON_TEMPLATE = (
    "{mason} build --context {context} --dockerfile {dockerfile} --destination {destination}"
    " --cache=true --cache-repo {cache_repo} --work-dir {work_dir} --cache-dir {cache_dir}"
    " --reproducible --insecure-registry {registry}"
)


@dataclass
class BuildRequest:
    context: Path
    dockerfile: Path
    destination: str   # HOST/repo:tag
    cache_repo: str    # HOST/repo
    registry: str      # HOST
    state: Path        # fresh, empty; deleted after the build
    log: Path


def default_mason() -> str:
    """`python -m mason` from this checkout, with the venv that has mason's dependencies."""
    for py in (REPO / ".venv/bin/python", Path("/work/main/.venv/bin/python")):
        if py.exists():
            return f"{shlex.quote(str(py))} -m mason"
    return f"{shlex.quote(sys.executable)} -m mason"


def _cleanup(state: Path) -> None:
    unmount_under(state)
    shutil.rmtree(state, ignore_errors=True)


class Mason:
    name = "mason"

    def __init__(self, template: str = MASON_TEMPLATE, mason: str | None = None, src: Path | None = None):
        self.template = template
        self.mason = mason or default_mason()
        # the mason under test is this checkout's source unless told otherwise
        self.env = dict(os.environ, PYTHONPATH=str(src or REPO / "src"))

    def version(self) -> str:
        return tool_version([*shlex.split(self.mason), "version"], env=self.env)

    def argv(self, req: BuildRequest) -> list[str]:
        """The template filled in for one build (work and cache dirs inside its fresh state)."""
        q = shlex.quote
        line = self.template.format(
            mason=self.mason, context=q(str(req.context)), dockerfile=q(str(req.dockerfile)),
            destination=q(req.destination), cache_repo=q(req.cache_repo), registry=q(req.registry),
            work_dir=q(str(req.state / "work")), cache_dir=q(str(req.state / "cache")))
        return shlex.split(line)

    def build(self, req: BuildRequest) -> Measurement:
        req.state.mkdir(parents=True)
        try:
            return self.measure(self.argv(req), req)
        finally:
            _cleanup(req.state)

    def measure(self, argv: list[str], req: BuildRequest) -> Measurement:
        return run_measured(argv, req.log, env=self.env, cwd=req.state)


class Buildah:
    name = "buildah"

    def version(self) -> str:
        return tool_version(["buildah", "--version"])

    def build(self, req: BuildRequest) -> Measurement:
        req.state.mkdir(parents=True)
        g = ["buildah", "--root", str(req.state / "root"), "--runroot", str(req.state / "runroot"),
             "--storage-driver", "overlay"]
        image = "localhost/bench-output:latest"
        try:
            bud = run_measured([*g, "bud", "--isolation", "chroot", "--layers", "--tls-verify=false",
                                "--cache-from", req.cache_repo, "--cache-to", req.cache_repo,
                                "-f", str(req.dockerfile), "-t", image, str(req.context)], req.log)
            if bud.returncode:
                return bud
            push = run_measured([*g, "push", "--tls-verify=false", image, f"docker://{req.destination}"], req.log)
            return combine([bud, push])
        finally:
            # rm -a releases buildah's own mounts; whatever remains is lifted by hand
            run_measured([*g, "rm", "-a"], req.log)
            _cleanup(req.state)


TOOL_NAMES = ("mason", "mason-unpriv", "mason-hostroot", "buildah")


def make_tools(names: list[str], mason_cmd: str | None, mason_template: str | None, mason_src: Path | None = None,
               cache_dir: Path | None = None):
    from .hostroot import MasonHostRoot  # subclasses of Mason: imported here, after Mason exists
    from .unpriv import MasonUnpriv

    tools = []
    for n in names:
        if n == "mason":
            tools.append(Mason(mason_template or MASON_TEMPLATE, mason_cmd, mason_src))
        elif n == "mason-unpriv":
            tools.append(MasonUnpriv(mason_template or MASON_TEMPLATE, mason_cmd, mason_src))
        elif n == "mason-hostroot":
            tools.append(MasonHostRoot(mason_template or MASON_TEMPLATE, mason_src, cache_dir or REPO / "bench" / ".cache"))
        elif n == "buildah":
            tools.append(Buildah())
        else:
            raise ValueError(f"--tools: unknown tool {n!r} (known: {', '.join(TOOL_NAMES)})")
    if len(set(names)) != len(names):
        raise ValueError(f"--tools: a tool is named twice in {','.join(names)}")
    return tools
