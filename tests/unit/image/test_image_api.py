import mason.image


def test_public_names_are_pinned():
    assert sorted(mason.image.__all__) == sorted([
        "BlobStore", "CopyResult", "DockerArchiveSink", "Image", "ImageIndex", "LayoutSink", "Layer", "Location",
        "MemoryStore", "Origin", "RemoteSink", "copy", "memory_image", "open_docker_archive", "open_layout",
        "open_remote", "open_sink", "open_source", "parse_location", "scratch_image", "validate"])
    for name in mason.image.__all__:
        assert getattr(mason.image, name) is not None


def test_location_parsing():
    from mason.errors import UsageError
    from mason.image.location import parse_location
    import pytest

    assert parse_location("oci:/a/b:tag") == mason.image.Location("oci", "/a/b", "tag")
    assert parse_location("oci:/a/b").name is None
    assert parse_location("docker-archive:x.tar:localhost:5000/a:b") == \
        mason.image.Location("docker-archive", "x.tar", "localhost:5000/a:b")
    assert parse_location("scratch").kind == "scratch"
    with pytest.raises(UsageError, match="not supported"):
        parse_location("docker-daemon:busybox")
    with pytest.raises(UsageError, match="needs a path"):
        parse_location("oci:")
