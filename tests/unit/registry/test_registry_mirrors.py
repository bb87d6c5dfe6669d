"""Candidate ordering and repository mapping of --registry-mirror / --registry-map."""

import pytest

from mason.errors import UsageError
from mason.oci.reference import parse_reference
from mason.registry.mirrors import MAPPED, MIRROR, ORIGIN, PullRoutes, parse_replacement

D = "sha256:" + "a" * 64


def places(routes, text):
    return [(c.via, str(c.ref)) for c in routes.candidates(parse_reference(text))]


def test_no_routes_is_the_reference_itself():
    assert places(PullRoutes(), "busybox") == [(ORIGIN, "docker.io/library/busybox:latest")]


def test_mirrors_get_the_library_path_then_docker_hub():
    routes = PullRoutes.from_flags(["m1.example", "m2.example:5000"])
    assert places(routes, "busybox:1.36") == [
        (MIRROR, "m1.example/library/busybox:1.36"),
        (MIRROR, "m2.example:5000/library/busybox:1.36"),
        (ORIGIN, "docker.io/library/busybox:1.36")]
    assert places(routes, "docker.io/team/app") == [
        (MIRROR, "m1.example/team/app:latest"), (MIRROR, "m2.example:5000/team/app:latest"),
        (ORIGIN, "docker.io/team/app:latest")]


def test_a_mirror_path_prefix_is_kept():
    routes = PullRoutes.from_flags(["harbor.example/dockerhub/"])
    assert places(routes, "busybox")[0] == (MIRROR, "harbor.example/dockerhub/library/busybox:latest")


def test_mirrors_apply_to_docker_hub_only():
    routes = PullRoutes.from_flags(["m1.example"])
    assert places(routes, "gcr.io/proj/app:1") == [(ORIGIN, "gcr.io/proj/app:1")]
    assert places(routes, "localhost:5000/app") == [(ORIGIN, "localhost:5000/app:latest")]


def test_digest_and_tag_are_kept():
    routes = PullRoutes.from_flags(["m1.example"])
    assert places(routes, f"busybox:1@{D}")[0] == (MIRROR, f"m1.example/library/busybox:1@{D}")


def test_registry_map_any_registry_in_order_then_origin():
    routes = PullRoutes.from_flags((), {"gcr.io": ("a.example", "b.example/gcr")})
    assert places(routes, "gcr.io/proj/app:1") == [
        (MAPPED, "a.example/proj/app:1"), (MAPPED, "b.example/gcr/proj/app:1"), (ORIGIN, "gcr.io/proj/app:1")]
    assert places(routes, "quay.io/x/y:2") == [(ORIGIN, "quay.io/x/y:2")]


def test_docker_hub_map_entries_come_before_mirrors_and_all_aliases_match():
    """Kaniko appends --registry-mirror hosts to Docker Hub's --registry-map entry."""
    for alias in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        routes = PullRoutes.from_flags(["mirror.example"], {alias: ("mapped.example",)})
        assert [v for v, _ in places(routes, "busybox")] == [MAPPED, MIRROR, ORIGIN]
        assert places(routes, "busybox")[0] == (MAPPED, "mapped.example/library/busybox:latest")


def test_skip_fallback_drops_the_origin_only_when_something_replaces_it():
    routes = PullRoutes.from_flags(["m1.example"], {"gcr.io": ("a.example",)}, fallback=False)
    assert places(routes, "busybox") == [(MIRROR, "m1.example/library/busybox:latest")]
    assert places(routes, "gcr.io/p/a:1") == [(MAPPED, "a.example/p/a:1")]
    # nothing configured for quay.io: its own registry is the only place, fallback or not
    assert places(routes, "quay.io/x/y:2") == [(ORIGIN, "quay.io/x/y:2")]


def test_hub_override_changes_only_where_the_docker_hub_fallback_goes():
    routes = PullRoutes.from_flags(["m1.example"], hub="127.0.0.1:5999")
    cands = routes.candidates(parse_reference("busybox"))
    assert str(cands[-1].ref) == "127.0.0.1:5999/library/busybox:latest" and cands[-1].source == "docker.io"
    assert places(routes, "gcr.io/p/a:1") == [(ORIGIN, "gcr.io/p/a:1")]


@pytest.mark.parametrize("bad, message", [
    ("https://mirror.gcr.io", "not a URL"),
    ("mirror.example/Upper", "invalid repository path component"),
    ("", "not a registry host"),
    ("bad host", "not a registry host"),
])
def test_bad_replacements_are_refused_with_the_flag(bad, message):
    with pytest.raises(UsageError) as err:
        parse_replacement(bad, "--registry-mirror")
    assert "--registry-mirror" in str(err.value) and message in str(err.value)


def test_a_map_key_with_a_path_is_refused_not_ignored():
    with pytest.raises(UsageError) as err:
        PullRoutes.from_flags((), {"gcr.io/proj": ("a.example",)})
    assert "left side must be a registry host" in str(err.value)


def test_routes_are_values():
    raw = {"gcr.io": ("a.example",)}
    routes = PullRoutes.from_flags((), raw)
    with pytest.raises(TypeError):
        routes.registry_map["quay.io"] = ()
