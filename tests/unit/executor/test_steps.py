"""Each step's key record, history text and result, with a fake runner and an in-memory
layer view (``tests.support.fakesteps``): no registry, no sandbox, no mount."""

from __future__ import annotations

import pytest

from mason.cache.store import CacheEntry
from mason.dockerfile import instructions as di
from mason.errors import BuildError
from mason.executor.buildcache import BuildCache
from mason.executor.events import CollectingReporter, StepOutput
from mason.executor.stageconfig import StageConfig
from mason.executor.steps import STEPS, step_for
from mason.oci import mediatypes as mt
from mason.oci.descriptor import Descriptor
from tests.support.fakesteps import FakeRunner, MemoryLayers, MemorySources, plan, step_context


@pytest.fixture
def world(tmp_path):
    """(context dir, scratch dir, a fresh config, its memory layers, sources)."""
    context = tmp_path / "ctx"
    (context / "src").mkdir(parents=True)
    (context / "src" / "a.txt").write_text("A\n")
    config = StageConfig(None)
    config.ensure_default_path()
    layers = MemoryLayers(config, tmp_path / "scratch", base={"etc": None, "etc/passwd": b"app:x:7:8::/home/app:/bin/sh\n"})
    return context, tmp_path / "scratch", config, layers, MemorySources(context)


@pytest.fixture
def cache(tmp_path):
    """A real BuildCache over an OCI layout directory: keys need no registry."""
    made = []

    def make(stage):
        c = BuildCache(stage.settings, push_client=lambda: None, reporter=CollectingReporter())
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def ctx_for(stage, number, world, **kw):
    context, scratch, config, layers, sources = world
    return step_context(stage, number, config=kw.pop("config", config), layers=layers, sources=sources,
                        scratch=scratch, **kw)


def test_every_instruction_but_from_has_exactly_one_step():
    assert set(STEPS) == set(di.ALL_TYPES) - {di.From}
    assert type(step_for(di.Label(location=None, pairs=()))).__name__ == "MetadataStep"


def test_run_history_key_and_result(world, cache):
    context = world[0]
    stage = plan("FROM scratch\nARG V=1\nENV E=x\nUSER app\nWORKDIR /w\nRUN echo $V > out\n", context,
                 cache=True, cache_repo=f"oci:{context.parent}/cache", reproducible=True)
    ins = stage.expanded[4][1]
    step = step_for(ins)
    _, _, config, layers, _ = world
    config.set_env([("E", "x")])
    config.set_user("app")
    config.set_workdir("/w")
    build_cache = cache(stage)
    keyed = ctx_for(stage, 5, world, cache=build_cache, before=True)
    assert step.history(ins, keyed) == "RUN /bin/sh -c echo $V > out # buildkit"
    record = step.record(ins, keyed)
    assert record["argv"] == ["/bin/sh", "-c", "echo $V > out"]
    assert record["env"]["V"] == "1" and record["env"]["E"] == "x"
    assert (record["user"], record["workdir"], record["network"]) == ("app", "/w", "sandbox")

    runner = FakeRunner(effect=lambda root: (root / "w").mkdir() or (root / "w" / "out").write_text("1\n"),
                        output=("hello",))
    reporter = CollectingReporter()
    layer = step.execute(ins, ctx_for(stage, 5, world, runner=runner, reporter=reporter))
    spec = runner.specs[0]
    assert spec.argv == ("/bin/sh", "-c", "echo $V > out") and spec.cwd == "/w"
    assert (spec.network, spec.security, spec.host_loopback) == ("sandbox", "sandbox", False)
    assert (spec.user.uid, spec.user.gid, spec.user.home) == (7, 8, "/home/app")
    env = dict(item.split("=", 1) for item in spec.env)
    assert env["V"] == "1" and env["E"] == "x" and env["HOME"] == "/home/app" and "PATH" in env
    assert layers.contents[layer.diff_id] == {"w": None, "w/out": b"1\n"}
    assert config.doc["history"][-1]["created_by"] == step.history(ins, keyed)
    assert [e.line for e in reporter.of_type(StepOutput)] == ["hello"]


def test_a_failing_run_names_its_line_and_shows_its_last_output(world):
    stage = plan("FROM scratch\nRUN false\n", world[0])
    ins = stage.expanded[0][1]
    with pytest.raises(BuildError) as err:
        step_for(ins).execute(ins, ctx_for(stage, 1, world, runner=FakeRunner(code=3, output=("boom",))))
    assert str(err.value).startswith("Dockerfile:2: RUN false exited with code 3")
    assert "| boom" in str(err.value)


def test_run_key_changes_with_env_not_with_labels(world, cache):
    context = world[0]
    records = []
    for middle in ("LABEL a=1", "LABEL a=2", "ENV a=2"):
        stage = plan(f"FROM scratch\n{middle}\nRUN make\n", context, cache=True, cache_repo=f"oci:{context}/c")
        config = StageConfig(None)
        step_for(stage.expanded[0][1]).effect(stage.expanded[0][1], config)
        ins = stage.expanded[1][1]
        records.append(step_for(ins).record(ins, ctx_for(stage, 2, world, config=config, cache=cache(stage),
                                                            before=True)))
    assert records[0] == records[1] and records[0] != records[2]


def test_copy_history_key_and_result(world, cache):
    context, _, config, layers, _ = world
    stage = plan("FROM scratch\nCOPY --chmod=640 src/a.txt /dst/\n", context,
                 cache=True, cache_repo=f"oci:{context.parent}/cache")
    ins = stage.expanded[0][1]
    step = step_for(ins)
    build_cache = cache(stage)
    keyed = ctx_for(stage, 1, world, cache=build_cache, before=True)
    assert step.history(ins, keyed) == "COPY src/a.txt /dst/ # buildkit"   # BuildKit records no flags
    first = step.record(ins, keyed)
    assert first["from"] == "context" and first["chmod"] == "640" and first["dest"] == "/dst/"
    (context / "src" / "a.txt").write_text("changed\n")
    assert step.record(ins, keyed)["sources"] != first["sources"]      # the key follows the content
    layer = step.execute(ins, ctx_for(stage, 1, world))
    assert layers.contents[layer.diff_id] == {"dst": None, "dst/a.txt": b"changed\n"}
    assert config.doc["history"][-1] == {"created_by": step.history(ins, keyed),
                                         "comment": "buildkit.dockerfile.v0"}


def test_workdir_creates_its_directory_as_a_layer_once(world, cache):
    context, _, config, layers, _ = world
    stage = plan("FROM scratch\nWORKDIR app/sub\nWORKDIR /app\n", context,
                 cache=True, cache_repo=f"oci:{context.parent}/cache")
    first, second = stage.expanded[0][1], stage.expanded[1][1]
    step = step_for(first)
    record = step.record(first, ctx_for(stage, 1, world, cache=cache(stage), before=True))
    assert record["path"] == "/app/sub"
    layer = step.execute(first, ctx_for(stage, 1, world))
    assert config.workdir == "/app/sub" and layers.contents[layer.diff_id] == {"app": None, "app/sub": None}
    assert step.execute(second, ctx_for(stage, 2, world)) is None        # exists already: no layer
    assert config.doc["history"][-1] == {"created_by": "WORKDIR /app", "comment": "buildkit.dockerfile.v0",
                                         "empty_layer": True}


def test_metadata_steps_change_the_config_and_add_empty_history(world):
    context, _, config, layers, _ = world
    stage = plan('FROM scratch\nENV A=1 B=$A\nLABEL l=v\nEXPOSE 80 53/udp\nUSER 1:2\nCMD ["x"]\n', context)
    for number, (_, ins, _, _) in enumerate(stage.expanded, 1):
        assert step_for(ins).execute(ins, ctx_for(stage, number, world)) is None
    env = config.env_map()
    assert (env["A"], env["B"]) == ("1", "")          # B sees the A before this ENV, as in BuildKit
    assert config.config["Labels"] == {"l": "v"}
    assert set(config.config["ExposedPorts"]) == {"80/tcp", "53/udp"}
    assert config.user == "1:2" and config.config["Cmd"] == ["x"]
    # BuildKit's texts: values expanded, EXPOSE as Go prints its port map
    assert [h["created_by"] for h in config.doc["history"]] == ["ENV A=1 B=", "LABEL l=v",
                                                               "EXPOSE map[53/udp:{} 80/tcp:{}]",
                                                               "USER 1:2", 'CMD ["x"]']
    assert all(h["empty_layer"] for h in config.doc["history"]) and layers.layers[1:] == []


def test_a_replayed_hit_reads_like_the_step_ran(world):
    """A hit adds the same history and config effect as a run, and its layer without a directory."""
    context, _, config, layers, _ = world
    stage = plan("FROM scratch\nWORKDIR /srv\nRUN make\n", context)
    digest = "sha256:" + "1" * 64
    layer = Descriptor(mt.OCI_LAYER_GZIP, digest, 10)
    workdir_ins, run_ins = stage.expanded[0][1], stage.expanded[1][1]
    hit = CacheEntry(key="k", layer=layer, diff_id="sha256:" + "2" * 64, created_by="", created=0.0)
    ref = step_for(workdir_ins).replay(workdir_ins, ctx_for(stage, 1, world), hit)
    assert config.workdir == "/srv" and ref.directory is None and layers.layers[-1] is ref
    empty = CacheEntry(key="k2", layer=None, diff_id=None, created_by="", created=0.0)
    assert step_for(run_ins).replay(run_ins, ctx_for(stage, 2, world), empty) is None
    assert [h["created_by"] for h in config.doc["history"]] == ["WORKDIR /srv", "RUN /bin/sh -c make # buildkit"]
    assert config.diff_ids == ["sha256:" + "2" * 64]


def test_misspelt_stage_in_copy_from_gets_a_suggestion(tmp_path):
    """A name that is no stage is pulled as an image; when that fails, BuildKit names the
    stage it resembles (here without any network: the pull is a stand-in that fails)."""
    from mason.dockerfile import parse_dockerfile, plan_stages
    from mason.errors import RegistryError
    from mason.executor.stagebuilder import BuildSources

    plan = plan_stages(parse_dockerfile("FROM scratch AS build\nFROM scratch\nCOPY --from=biuld /x /y\n"))

    def pull(ref, platform):
        raise RegistryError(f"{ref}: pull access denied")

    sources = BuildSources(None, plan, {}, pull)
    with pytest.raises(RegistryError, match=r"pull access denied \(did you mean build\?\)"):
        sources.image("biuld")
