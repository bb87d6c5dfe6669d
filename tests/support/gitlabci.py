"""Run a pipeline with a real GitLab CI interpreter: ``gitlab-ci-local`` (npm, shell executor).

``scripts/setup`` installs the pinned gitlab-ci-local into ``.mason/node``. It reads the
pipeline as GitLab does (``extends``, ``!reference``, anchors, ``needs``, stages, predefined
variables from the git repository: ``CI_COMMIT_SHORT_SHA``, ``CI_PROJECT_DIR``,
``CI_REGISTRY_IMAGE`` = ``$CI_REGISTRY/<group>/<project>``) and runs each job's
``before_script`` + ``script`` in a bash on this machine.

Jobs that write ``/kaniko/.docker/config.json`` and call ``/kaniko/executor`` must not touch
the host, so the interpreter runs in a private mount namespace whose root is a tmpfs in the
test's temp dir: every top-level directory of the host is bind-mounted into it, plus

* ``/kaniko``: a directory of that tmpfs holding ``executor``, which runs this checkout's
  ``mason executor`` (what mason's image puts at that path: ``ci/image/launcher``, which needs
  the image's bundled Python, so the test writes a two-line equivalent), and
* ``/builds/<group>/<project>``: the project (its git work tree), where
  ``CI_PROJECT_DIR`` points and where the shell executor runs the jobs.

Nothing is written outside the temp dir; the namespace vanishes with its last process.
``mason`` on the jobs' PATH runs this checkout's mason with the test's Python (the venv's).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GITLAB_CI_LOCAL = REPO / ".mason" / "node" / "node_modules" / ".bin" / "gitlab-ci-local"
# /kaniko/executor in the namespace: mason's executor entry point, as in mason's image.
EXECUTOR = '#!/bin/sh\nexec "$MASON_BIN" executor "$@"\n'
GROUP = "group"

# Runs as root in the new mount namespace: build the tmpfs root, pivot into it, run "$@".
_NAMESPACE = r"""
set -e
root=$1; project=$2; name=$3; shift 3
mount -t tmpfs -o mode=0755 mason-test-root "$root"
for entry in /* ; do
    base=${entry#/}
    case $base in kaniko|builds) continue ;; esac   # ours replace the host's, if it has them
    if [ -L "$entry" ]; then ln -s "$(readlink "$entry")" "$root/$base"
    elif [ -d "$entry" ]; then mkdir "$root/$base" && mount --rbind "$entry" "$root/$base"
    elif [ -f "$entry" ]; then : > "$root/$base" && mount --bind "$entry" "$root/$base"
    fi
done
mkdir -m 0755 "$root/kaniko" "$root/.old-root"
printf '%s' "$MASON_TEST_EXECUTOR" > "$root/kaniko/executor"
chmod 0755 "$root/kaniko/executor"
mkdir -p "$root/builds/$MASON_TEST_GROUP/$name"
mount --bind "$project" "$root/builds/$MASON_TEST_GROUP/$name"
cd "$root"
pivot_root . .old-root
umount -l /.old-root
rmdir /.old-root
cd "/builds/$MASON_TEST_GROUP/$name"
exec "$@"
"""


@dataclass(frozen=True)
class PipelineRun:
    returncode: int
    output: str
    project_dir: str        # CI_PROJECT_DIR inside the namespace

    def job_log(self, job: str) -> list[str]:
        """The lines gitlab-ci-local printed for one job (prefixed with its name)."""
        return [line for line in self.output.splitlines() if line.startswith(f"{job} ")]


def available() -> str | None:
    """Why the interpreter cannot run here, or None."""
    if not GITLAB_CI_LOCAL.exists():
        return f"{GITLAB_CI_LOCAL} is missing: run scripts/setup"
    return None


def make_project(directory: Path, files: dict[str, str]) -> Path:
    """A git repository holding ``files`` (committed), as gitlab-ci-local needs one."""
    directory.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git = ["git", "-C", str(directory), "-c", "user.name=mason tests", "-c", "user.email=tests@mason.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    # Only parsed, never contacted: it names the project (CI_PROJECT_PATH, CI_REGISTRY_IMAGE).
    subprocess.run([*git, "remote", "add", "origin", f"https://gitlab.invalid/{GROUP}/{directory.name}.git"],
                   check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "pipeline under test"], check=True)
    return directory


def run_pipeline(project: Path, tmp: Path, *, registry, pipeline_file: str = ".gitlab-ci.yml",
                 variables: dict[str, str] | None = None, timeout: int = 900) -> PipelineRun:
    """Run every job of ``pipeline_file`` in ``project`` against ``registry`` (TLS + basic auth)."""
    why = available()
    if why:
        raise AssertionError(why)
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "root").mkdir(exist_ok=True)
    (tmp / "home").mkdir(exist_ok=True)
    (tmp / "tmp").mkdir(exist_ok=True)
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "mason"
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} -m mason \"$@\"\n")
    shim.chmod(0o755)
    job_vars = {
        "CI_REGISTRY": registry.host,
        "CI_REGISTRY_USER": registry.username,
        "CI_REGISTRY_PASSWORD": registry.password,
        "SSL_CERT_FILE": registry.ca_file,     # the registry's private CA, as a GitLab file variable would
        **(variables or {}),
    }
    argv = [str(GITLAB_CI_LOCAL), "--file", pipeline_file, "--force-shell-executor", "--no-color",
            "--concurrency", "2", "--home", str(tmp / "home"),
            "--ignore-predefined-vars", ",".join(k for k in job_vars if k.startswith("CI_"))]
    for key, value in job_vars.items():
        argv += ["--variable", f"{key}={value}"]
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp / "home"), "TMPDIR": str(tmp / "tmp"),
        "LANG": "C.UTF-8", "PYTHONPATH": str(REPO / "src"), "MASON_BIN": str(shim),
        "MASON_TEST_EXECUTOR": EXECUTOR, "MASON_TEST_GROUP": GROUP,
    }
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", _NAMESPACE, "sh",
                           str(tmp / "root"), str(project), project.name, *argv],
                          env=env, capture_output=True, text=True, timeout=timeout)
    return PipelineRun(proc.returncode, proc.stdout + proc.stderr, f"/builds/{GROUP}/{project.name}")
