"""EXCLUDED.yml accounts for every BuildKit frontend test without a case, and only for those."""

from pathlib import Path

from ruamel.yaml import YAML

HERE = Path(__file__).parent
KINDS = {"buildkit-only", "platform", "elsewhere"}


def test_ported_and_excluded_cover_buildkit_exactly_once():
    data = YAML(typ="safe").load((HERE / "EXCLUDED.yml").read_text())
    excluded = data["excluded"]
    assert all(v["kind"] in KINDS and v["why"] for v in excluded.values())
    ported = set()
    for path in (HERE / "cases").glob("*.yml"):
        for case in YAML(typ="safe").load(path.read_text()):
            ported.add(case["buildkit"])
    assert not ported & set(excluded), "both ported and excluded"
    # two cases come from BuildKit tests newer than v0.11.6 (the total counts v0.11.6's)
    newer = {"testInvalidJSONCommands", "testTargetStageNameArg"}
    assert len(ported - newer) + len(excluded) == data["buildkit_tests_total"]
