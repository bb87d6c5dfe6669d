"""The public names of mason.fsops, which the build executor calls."""

import mason.fsops as fsops


def test_public_api_is_pinned():
    assert sorted(fsops.__all__) == sorted([
        "AddOptions", "add", "extract_tar", "is_tar_archive", "Chmod", "parse_chmod", "CopyResult",
        "copy", "write_content", "SourceDigest", "digest_content", "digest_sources", "make_dirs",
        "resolve", "resolve_inroot", "IgnoreMatcher", "SourceTree"])
    for name in fsops.__all__:
        assert getattr(fsops, name) is not None
