"""What importing the executor loads: an all-cached build runs no RUN, takes no snapshot and
writes no layer, so the modules only those need are imported where they are first used."""

import subprocess
import sys

# each is imported where it is first used (a step that runs, or an input or option that needs it:
# a --mount, an ADD, a fetched context, a non-registry image), not by the executor's import
NOT_AT_START = ("mason.sandbox.spec", "mason.sandbox.users", "mason.snapshot.changeset",
                "mason.snapshot.lowerview", "mason.tarfs.writer", "mason.tarfs.sink",
                "mason.executor.directcopy", "mason.dockerfile.mounts", "mason.dockerfile.check",
                "mason.context.build_context", "mason.fsops.archive", "mason.fetch.http",
                "tarfile", "mason.image.docker_archive", "mason.image.layout", "mason.image.memory",
                "mason.executor.steps.runcache", "mason.fsops.contextbind", "mason.sandbox.agentproxy",
                "mason.sandbox.secretfile")


def _loaded_by(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    return set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True).stdout.split())


def test_executor_import_leaves_step_machinery_for_later():
    loaded = _loaded_by("mason.executor.executor")
    assert "mason.executor.steps.run" in loaded          # the steps themselves are there
    assert sorted(m for m in NOT_AT_START if m in loaded) == []


def test_the_step_code_still_finds_them():
    # the names each step imports at first use exist where it looks for them
    from mason.context import BuildContext, open_context
    from mason.context.build_context import open_context as open_context_there
    from mason.dockerfile import Mount, check_dockerfile
    from mason.dockerfile.mounts import parse_mount
    from mason.fetch.http import download
    from mason.fsops import archive, extract_tar, is_tar_archive
    from mason.image import DockerArchiveSink, LayoutSink, MemoryStore, memory_image, open_docker_archive, open_layout
    from mason.image import scratch_image
    from mason.executor.steps.runcache import cache_dir, cache_origin, whole_cache
    from mason.fsops.contextbind import bind_source
    from mason.sandbox.agentproxy import AgentProxy
    from mason.sandbox.secretfile import memory_secret
    from mason.executor.directcopy import deferred_for, layer_entries, skeleton_lowers, write_into_upper
    from mason.sandbox.spec import Mount as SandboxMount, RunSpec
    from mason.sandbox.users import resolve_owner, resolve_user
    from mason.snapshot.lowerview import is_opaque
    from mason.tarfs.writer import write_layer

    assert all(callable(f) for f in (deferred_for, layer_entries, skeleton_lowers, write_into_upper, SandboxMount,
                                     RunSpec, resolve_owner, resolve_user, is_opaque, write_layer, Mount,
                                     check_dockerfile, parse_mount, download, archive.extract_tar,
                                     archive.is_tar_archive, extract_tar, is_tar_archive, BuildContext,
                                     open_context, DockerArchiveSink, LayoutSink, MemoryStore, memory_image,
                                     open_docker_archive, open_layout, scratch_image, cache_dir, cache_origin,
                                     whole_cache, bind_source, AgentProxy, memory_secret))
    assert open_context is open_context_there
