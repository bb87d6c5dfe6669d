"""ADD of a git repository is keyed by the commit its ref resolves to (``git ls-remote``, as
BuildKit keys a git source): the same commit is a hit, a moved ref a miss whose layer has the
new commit's files."""

from __future__ import annotations

import os
import subprocess

from tests.integration.cache.cachehelpers import cache_build, cache_states
from tests.integration.executor.buildhelpers import unpack, write_context
from tests.support.images import push_layout

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@x", "PATH": os.environ["PATH"], "HOME": "/tmp"}


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True,
                          text=True).stdout.strip()


def test_add_git_hits_on_the_same_commit_and_reruns_when_the_ref_moves(tmp_path, registry_plain, busybox_layout):
    repo = tmp_path / "repo.git"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    (repo / "app.txt").write_text("v1\n")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "one", cwd=repo)
    git("tag", "-a", "rel", "-m", "release", cwd=repo)
    base = f"{registry_plain.host}/addgit/busybox:1"
    push_layout(busybox_layout, base)
    dockerfile = (f"FROM {base}\nADD file://{repo}#rel /tagged/\nADD file://{repo}#main /src/\n"
                  "RUN cat /src/app.txt > /seen\n")
    ctx = write_context(tmp_path / "ctx", dockerfile)
    dest = f"{registry_plain.host}/addgit/out:1"
    _, first, _, _, _ = cache_build(ctx, tmp_path, dest)
    assert cache_states(first) == ["miss", "miss", "miss"]
    _, second, _, _, _ = cache_build(ctx, tmp_path, dest)
    assert cache_states(second) == ["hit", "hit", "hit"]
    (repo / "app.txt").write_text("v2\n")
    git("commit", "-q", "-am", "two", cwd=repo)
    layout = tmp_path / "layout"
    _, third, _, _, _ = cache_build(ctx, tmp_path, dest, oci_layout_path=layout)
    assert cache_states(third) == ["hit", "miss", "miss"]     # the tag stayed, main moved
    root = unpack(layout, tmp_path / "unpacked", tag="1")
    assert (root / "seen").read_text() == "v2\n" and (root / "tagged/app.txt").read_text() == "v1\n"
