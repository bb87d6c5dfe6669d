"""The stage loop on its own: one dispatch per instruction through the steps table, the
stage's StageState and step records, with the walk strategy (plain directories, no mount)
and a fake runner: no registry, no sandbox."""

from __future__ import annotations

import threading

from mason.dockerfile import parse_dockerfile, plan_stages
from mason.executor.events import CollectingReporter, StepFinished
from mason.executor.layerstore import LayerStore
from mason.executor.options import BuildOptions
from mason.executor.rootfs import WalkStrategy
from mason.executor.settings import parse_settings
from mason.executor.skeletons import Skeletons
from mason.executor.stagebuilder import BuildSources, StageBuilder, StageServices
from mason.executor.stagestate import StageState, StepRecord
from mason.fsops import SourceTree
from tests.support.fakesteps import FakeRunner

DOCKERFILE = """FROM scratch
ENV GREETING=hi
RUN make
COPY a.txt /srv/
WORKDIR /srv/data
LABEL done=yes
"""


def no_image(ref, platform=None):
    raise AssertionError(f"no image {ref} in a unit test")


def test_a_stage_is_built_step_by_step(tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "a.txt").write_text("A\n")
    settings = parse_settings(BuildOptions(context_dir=context, no_push=True, reproducible=True), {})
    plan = plan_stages(parse_dockerfile(DOCKERFILE), target_platform="linux/amd64", build_platform="linux/amd64")

    def sub(*parts: str):
        path = tmp_path.joinpath("work", *parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    runner = FakeRunner(effect=lambda root: (root / "built").write_text("made\n"))
    walk = WalkStrategy(sub("roots"))
    results: dict[int, StageState] = {}
    records: dict[int, list[StepRecord]] = {}
    reporter = CollectingReporter()
    services = StageServices(
        settings=settings, plan=plan, results=results,
        sources=BuildSources(SourceTree(str(context), None), plan, results, no_image), pull=no_image,
        strategy=lambda: walk, strategy_chosen=lambda: walk, store=LayerStore(sub("layers")),
        skeletons=Skeletons(lambda: sub("skeletons")), scratch=sub, runner=lambda: runner, cache=None,
        reporter=reporter, cancel=threading.Event(), records=lambda index: records.setdefault(index, []))

    state = StageBuilder(services, plan.stages[0]).run()

    history = [h["created_by"] for h in state.config.doc["history"]]
    assert history == ["ENV GREETING=hi", "RUN /bin/sh -c make # buildkit", "COPY a.txt /srv/ # buildkit",
                       "WORKDIR /srv/data", "LABEL done=yes"]
    assert [h.get("empty_layer", False) for h in state.config.doc["history"]] == [True, False, False, False, True]
    assert len(state.layers) == 3 and state.config.diff_ids == [ref.diff_id for ref in state.layers]
    assert state.config.workdir == "/srv/data" and state.config.config["Labels"] == {"done": "yes"}
    assert dict(item.split("=", 1) for item in runner.specs[0].env)["GREETING"] == "hi"
    assert state.step == 5 and [r.step_id for r in records[0]] == ["1/1", "1/2", "1/3", "1/4", "1/5"]
    assert [r.layer_digest is not None for r in records[0]] == [False, True, True, True, False]
    assert all(r.cache == "none" for r in records[0])
    assert len(reporter.of_type(StepFinished)) == 5
