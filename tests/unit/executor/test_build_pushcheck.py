"""The cache repository's push check, for an oci: cache directory (no registry needed)."""

from pathlib import Path

import pytest

from mason.executor.options import BuildOptions
from mason.executor.pushcheck import check_cache_repo
from mason.errors import UsageError


def no_client():
    raise AssertionError("an oci: cache needs no registry")


def test_an_existing_or_creatable_directory_passes(tmp_path):
    check_cache_repo(BuildOptions(context_dir=tmp_path, cache=True, cache_repo=f"oci:{tmp_path}"), no_client)
    check_cache_repo(BuildOptions(context_dir=tmp_path, cache=True, cache_repo=f"oci:{tmp_path}/new/dir"), no_client)


def test_a_path_through_a_file_is_refused_naming_the_cache_repo(tmp_path):
    (tmp_path / "file").write_text("x")
    repo = f"oci:{tmp_path}/file/cache"
    with pytest.raises(UsageError) as err:
        check_cache_repo(BuildOptions(context_dir=tmp_path, cache=True, cache_repo=repo), no_client)
    assert repo in str(err.value) and "is not a directory" in str(err.value)


def test_the_derived_cache_repo_is_the_one_checked(tmp_path):
    seen = []

    class Client:
        def check_push_permission(self, ref):
            seen.append(ref.name)

    opts = BuildOptions(context_dir=Path(tmp_path), cache=True, destinations=("r.example/team/app:1",))
    check_cache_repo(opts, lambda: Client())
    assert seen == ["r.example/team/app/cache"]
