import pytest

from mason.errors import InvalidReferenceError
from mason.oci.reference import Reference, parse_reference

D = "sha256:" + "ab" * 32


@pytest.mark.parametrize("text, registry, repository, tag, digest", [
    ("busybox", "docker.io", "library/busybox", "latest", None),
    ("busybox:1.36", "docker.io", "library/busybox", "1.36", None),
    ("user/app", "docker.io", "user/app", "latest", None),
    ("docker.io/busybox", "docker.io", "library/busybox", "latest", None),
    ("index.docker.io/library/busybox:1", "docker.io", "library/busybox", "1", None),
    ("localhost/app", "localhost", "app", "latest", None),
    ("localhost:5000/a/b@" + D, "localhost:5000", "a/b", None, D),
    ("127.0.0.1:5000/a/b:v1@" + D, "127.0.0.1:5000", "a/b", "v1", D),
    ("registry.gitlab.com/group/sub/project:feature-x", "registry.gitlab.com", "group/sub/project", "feature-x", None),
    ("quay.io/a__b/c-d.e_f:T.1-x", "quay.io", "a__b/c-d.e_f", "T.1-x", None),
    ("[::1]:5000/a", "[::1]:5000", "a", "latest", None),
])
def test_parse_normalises_like_docker(text, registry, repository, tag, digest):
    ref = parse_reference(text)
    assert ref == Reference(registry, repository, tag, digest)


@pytest.mark.parametrize("text, fragment", [
    ("", "empty"),
    ("Busybox", "lower-case"),
    ("docker.io/User/app", "lower-case"),
    ("busybox:", "invalid tag"),
    ("busybox:-x", "invalid tag"),
    ("busybox@sha256:abc", "64 lower-case hex"),
    ("busybox@md5:" + "a" * 32, "unsupported algorithm"),
    ("a//b", "invalid repository path component"),
    ("a/b_", "invalid repository path component"),
    ("bad host!/a", "whitespace"),
    ("bad_host.io:x/a", "invalid registry host"),
    ("ab" * 32, "image ID"),
    ("localhost:5000/", "missing repository"),
    ("a/" + "b" * 260, "longer than 255"),
])
def test_invalid_references_name_the_problem(text, fragment):
    with pytest.raises(InvalidReferenceError) as info:
        parse_reference(text)
    assert fragment in str(info.value)


def test_str_familiar_and_identifier():
    ref = parse_reference("busybox")
    assert str(ref) == "docker.io/library/busybox:latest"
    assert ref.familiar() == "busybox:latest"
    assert ref.name == "docker.io/library/busybox"
    assert ref.identifier == "latest"
    assert ref.api_host == "registry-1.docker.io"
    pinned = parse_reference("localhost:5000/a/b:v1@" + D)
    assert pinned.identifier == D
    assert str(pinned) == f"localhost:5000/a/b:v1@{D}"
    assert pinned.familiar() == f"localhost:5000/a/b:v1@{D}"
    assert pinned.api_host == "localhost:5000"
    assert parse_reference("user/app:1").familiar() == "user/app:1"
    assert parse_reference("library/a/b").familiar() == "library/a/b:latest"


def test_with_tag_and_digest():
    ref = parse_reference("quay.io/a/b:v1@" + D)
    assert ref.with_tag("v2") == Reference("quay.io", "a/b", "v2", None)
    assert ref.with_tag("v2").identifier == "v2"
    other = "sha256:" + "cd" * 32
    assert parse_reference("quay.io/a/b:v1").with_digest(other) == Reference("quay.io", "a/b", "v1", other)
    assert ref.repo() == Reference("quay.io", "a/b")
    with pytest.raises(InvalidReferenceError):
        ref.with_tag("bad tag")
    with pytest.raises(InvalidReferenceError):
        ref.with_digest("sha256:1234")


def test_round_trip_through_str():
    for text in ["busybox", "localhost:5000/a/b@" + D, "quay.io/x/y:1@" + D, "ghcr.io/o/r:t"]:
        ref = parse_reference(text)
        assert parse_reference(str(ref)) == ref
        assert parse_reference(ref.familiar()) == ref
