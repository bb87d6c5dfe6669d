"""BuildKit's Dockerfile frontend tests, as data: every case in ``cases/*.yml`` is built with
mason on a local busybox image and its image (or error) compared with what BuildKit gives.

The cases and their format are described in ``harness.py``; the BuildKit tests left out are
listed with their reasons in ``EXCLUDED.yml``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conformance.bases import build_conformance_bases
from tests.conformance.harness import run_case

pytestmark = pytest.mark.integration

CASES_DIR = Path(__file__).parent / "cases"


def load_cases() -> list:
    params = []
    seen = set()
    for path in sorted(CASES_DIR.glob("*.yml")):
        for case in YAML(typ="safe").load(path.read_text()) or ():
            case_id = f"{path.stem}/{case['name']}"
            assert case_id not in seen, f"duplicate case {case_id}"
            seen.add(case_id)
            marks = ()
            if case.get("known_failure"):
                marks = (pytest.mark.xfail(reason=case["known_failure"], strict=True),)
            params.append(pytest.param(case, id=case_id, marks=marks))
    return params


@pytest.fixture(scope="session")
def conformance_bases(tmp_path_factory) -> str:
    return build_conformance_bases(str(tmp_path_factory.mktemp("conformance-bases")))


@pytest.mark.parametrize("case", load_cases())
def test_case(case, tmp_path, conformance_bases, request):
    # mason's layer cache is a registry: the real one, started only for the cases that use it
    uses_cache = any((b.get("options") or {}).get("cache") for b in [case, *(case.get("rebuilds") or ())])
    registry = request.getfixturevalue("registry_plain").host if uses_cache else None
    problems = run_case(case, tmp_path, conformance_bases, registry)
    assert not problems, "\n".join(problems)


def test_every_case_names_its_buildkit_test():
    for param in load_cases():
        case = param.values[0]
        assert case.get("buildkit", "").startswith("test"), case["name"]
