import pytest

from mason.executor.directives import apply_checks, check_syntax
from mason.dockerfile.syntax import Diagnostic
from mason.errors import DockerfileError, NotSupportedError

W1 = Diagnostic("JSON arguments recommended", "Dockerfile", 3, rule="JSONArgsRecommended")
W2 = Diagnostic("stage name casing", "Dockerfile", 1, rule="StageNameCasing")


@pytest.mark.parametrize("value", ["docker/dockerfile:1", "docker/dockerfile:1.7-labs",
                                   "docker.io/docker/dockerfile:1", "docker/dockerfile",
                                   "docker/dockerfile:1@sha256:" + "a" * 64])
def test_our_syntax_is_accepted(value):
    check_syntax({"syntax": value}, "Dockerfile")


@pytest.mark.parametrize("value", ["example.com/my/frontend:2", "tonistiigi/dockerfile:runmount"])
def test_other_frontends_are_refused(value):
    with pytest.raises(NotSupportedError, match="other frontends"):
        check_syntax({"syntax": value}, "Dockerfile")


def test_checks_skip_and_error():
    assert apply_checks({}, [W1, W2], "Dockerfile") == [W1, W2]
    assert apply_checks({"check": "skip=JSONArgsRecommended"}, [W1, W2], "Dockerfile") == [W2]
    assert apply_checks({"check": "skip=all;error=true"}, [W1, W2], "Dockerfile") == []
    with pytest.raises(DockerfileError, match="build checks failed.*and 1 more"):
        apply_checks({"check": "error=true"}, [W1, W2], "Dockerfile")
    with pytest.raises(DockerfileError, match="unknown option"):
        apply_checks({"check": "fail=yes"}, [], "Dockerfile")
