import pytest

from mason.errors import ImageError, UsageError
from mason.oci.platform import Platform, host_platform, parse_platform, select_platform


@pytest.mark.parametrize("text,expected", [
    ("linux/amd64", "linux/amd64"), ("linux/x86_64", "linux/amd64"),
    ("linux/arm64", "linux/arm64/v8"), ("linux/aarch64", "linux/arm64/v8"), ("linux/arm64/v8", "linux/arm64/v8"),
    ("linux/arm", "linux/arm/v7"), ("linux/arm/v6", "linux/arm/v6"), ("linux/armhf", "linux/arm/v7"),
    ("linux/i386", "linux/386"), ("Linux/AMD64", "linux/amd64"),
])
def test_parse_and_normalise(text, expected):
    assert str(parse_platform(text)) == expected


@pytest.mark.parametrize("bad", ["linux", "linux/", "/amd64", "a/b/c/d", ""])
def test_invalid_platform_is_a_usage_error(bad):
    with pytest.raises(UsageError, match="expected os/arch"):
        parse_platform(bad)


def test_matching_ignores_implied_variants():
    assert parse_platform("linux/arm64").matches(Platform("linux", "arm64"))
    assert parse_platform("linux/arm64").matches(Platform("linux", "arm64", "v8"))
    assert not parse_platform("linux/arm/v6").matches(Platform("linux", "arm", "v7"))
    assert not parse_platform("linux/amd64").matches(Platform("windows", "amd64"))


def test_host_platform_is_linux():
    assert host_platform().os == "linux"


def test_selection_error_lists_available_platforms():
    items = [(Platform("linux", "amd64"), "a"), (Platform("linux", "arm", "v7"), "b")]
    assert select_platform(items, parse_platform("linux/armhf"), "idx") == "b"
    with pytest.raises(ImageError, match=r"idx has no image for platform linux/s390x; available: linux/amd64, linux/arm/v7"):
        select_platform(items, parse_platform("linux/s390x"), "idx")


def test_platform_dict_round_trip():
    p = Platform.from_dict({"os": "linux", "architecture": "arm", "variant": "v7", "os.features": ["x"]})
    assert Platform.from_dict(p.to_dict()) == p
