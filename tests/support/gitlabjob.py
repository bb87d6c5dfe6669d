"""Run a GitLab CI job's ``before_script`` and ``script`` the way GitLab's Docker runner does.

For each job: a fresh container from the job's image (an unpacked image root filesystem,
copied, so jobs never share files), started with ``entrypoint: [""]``; the project checked
out at ``/builds/<group>/<project>`` (a volume, the working directory) and file variables
written to ``/builds/<group>/<project>.tmp/<NAME>``, as the runner writes them; the image's
own ENV plus the job's variables (``CI_*``) as the environment; then one ``sh`` running the
job's lines in order, verbatim, after ``set -eo pipefail`` (the runner's script preamble).
The container is the unprivileged harness's (root, Docker's default capabilities, seccomp:
tests/support/unpriv_exec.py).

``extends:`` is resolved the way GitLab merges a template into a job, for the keys used here
(the job's own keys win, hashes merge, lists replace).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML

from tests.support.unpriv import run_in_container

RESERVED = {"default", "include", "stages", "variables", "workflow", "image", "services", "before_script",
            "after_script", "cache"}


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load_jobs(path: Path) -> dict[str, dict]:
    """The pipeline's runnable jobs (hidden ``.template`` jobs only through ``extends``)."""
    doc = YAML(typ="safe").load(path.read_text())

    def resolve(name: str, seen: tuple = ()) -> dict:
        if name in seen:
            raise ValueError(f"{path}: extends loop through {name}")
        job = dict(doc[name])
        parents = job.pop("extends", [])
        merged: dict = {}
        for parent in [parents] if isinstance(parents, str) else parents:
            merged = _merge(merged, resolve(parent, (*seen, name)))
        return _merge(merged, job)

    return {name: resolve(name) for name in doc if name not in RESERVED and not name.startswith(".")}


@dataclass(frozen=True)
class JobResult:
    name: str
    returncode: int
    output: str
    root: Path           # the container's root filesystem after the job (for inspection)


def run_job(name: str, job: dict, *, image_rootfs: Path, image_env: dict[str, str], workdir: Path,
            project_dir: Path, group: str, project: str, variables: dict[str, str],
            file_variables: dict[str, bytes] | None = None, before_script: list[str] | None = None,
            timeout: float = 600) -> JobResult:
    """Run one job in a fresh container; ``before_script`` (if given) replaces the job's own."""
    root = workdir / f"container-{name}"
    shutil.copytree(image_rootfs, root, symlinks=True)
    builds = f"/builds/{group}/{project}"
    tmp_dir = workdir / f"{name}.tmp"
    tmp_dir.mkdir()
    env = dict(image_env)
    for var, data in (file_variables or {}).items():
        (tmp_dir / var).write_bytes(data)
        env[var] = f"{builds}.tmp/{var}"
    env.update({"CI": "true", "GITLAB_CI": "true", "CI_JOB_NAME": name, "CI_PROJECT_DIR": builds,
                "CI_PROJECT_NAME": project, "CI_PROJECT_NAMESPACE": group, "CI_PROJECT_PATH": f"{group}/{project}",
                "CI_BUILDS_DIR": "/builds"})
    env.update(variables)
    lines = [str(line) for line in (job.get("before_script", []) if before_script is None else before_script)]
    lines += [str(line) for line in job["script"]]
    script = "set -eo pipefail\n" + "\n".join(lines) + "\n"
    proc = run_in_container(root, ["sh"], env=env, cwd=builds, input=script, timeout=timeout,
                            binds=[(str(project_dir), builds), (str(tmp_dir), f"{builds}.tmp")])
    return JobResult(name, proc.returncode, proc.stdout + proc.stderr, root)


def remove(result: JobResult) -> None:
    """Throw the container away (as the runner does after the job)."""
    subprocess.run(["rm", "-rf", "--one-file-system", str(result.root)], check=False)
