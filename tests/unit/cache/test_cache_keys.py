"""Keys are structured: every rule of the key design as a test."""

from __future__ import annotations

import pytest

from mason.cache import records
from mason.cache.keys import chain_output, chain_start, digest_of, input_digests, key_hex, step_key

WRITER = records.writer_record(compression="gzip", level=None, fixed_mtime=None, mtime_clamp=None,
                               docker_media=False)


def run(**kw):
    base = dict(argv=["/bin/sh", "-c", "make"], heredocs=[], env={"PATH": "/bin"}, user="", workdir="/",
                network="host", mounts=[], writer=WRITER)
    base.update(kw)
    return records.run_record(**base)


def test_cache_joined_strings_that_kaniko_confused_are_different_keys():
    # Kaniko: sha256("a-b" + "-" + "c") == sha256("a" + "-" + "b-c").
    start = chain_start(platform="linux/amd64", base_digest="sha256:" + "0" * 64)
    assert step_key(start, run(argv=["a-b", "c"])) != step_key(start, run(argv=["a", "b-c"]))
    assert step_key(start, run(argv=["a b"])) != step_key(start, run(argv=["a", "b"]))


def test_cache_key_changes_with_every_input_a_run_sees():
    start = chain_start(platform="linux/amd64", scratch=True)
    ref = step_key(start, run())
    for change in (dict(argv=["/bin/sh", "-c", "make all"]), dict(env={"PATH": "/bin", "A": "1"}),
                   dict(user="1000"), dict(workdir="/src"), dict(network="none"),
                   dict(heredocs=[("EOF", "echo hi\n")]),
                   dict(mounts=[records.cache_mount(target="/c", cache_id="/c", sharing=None, mode=None,
                                                    uid=None, gid=None)]),
                   dict(writer={**WRITER, "compression": "zstd"}), dict(writer={**WRITER, "fixed_mtime": 0}),
                   dict(writer={**WRITER, "docker_media": True})):
        assert step_key(start, run(**change)) != ref, change
    assert step_key(start, run()) == ref     # and it is a function of its inputs only


def test_cache_env_order_does_not_matter_but_values_do():
    start = chain_start(platform="linux/amd64", scratch=True)
    assert step_key(start, run(env={"A": "1", "B": "2"})) == step_key(start, run(env={"B": "2", "A": "1"}))
    assert step_key(start, run(env={"A": "1", "B": "2"})) != step_key(start, run(env={"A": "1", "B": "3"}))


def test_cache_chain_start_rules():
    base = chain_start(platform="linux/amd64", base_digest="sha256:" + "1" * 64)
    assert base != chain_start(platform="linux/arm64", base_digest="sha256:" + "1" * 64)
    assert base != chain_start(platform="linux/amd64", base_digest="sha256:" + "2" * 64)
    scratch = chain_start(platform="linux/amd64", scratch=True)
    assert scratch not in (base, chain_start(platform="linux/arm64", scratch=True))
    # FROM <stage> starts from that stage's final key, even when the stage has no steps (#1833).
    assert chain_start(platform="linux/amd64", stage_key=base) != chain_start(platform="linux/amd64",
                                                                              stage_key=scratch)
    with pytest.raises(ValueError):
        chain_start(platform="linux/amd64")
    with pytest.raises(ValueError):
        chain_start(platform="linux/amd64", scratch=True, base_digest="sha256:" + "1" * 64)


def test_cache_parent_is_part_of_the_key_and_output_chaining_differs_by_diff_id():
    a = chain_start(platform="linux/amd64", scratch=True)
    b = chain_start(platform="linux/amd64", base_digest="sha256:" + "1" * 64)
    assert step_key(a, run()) != step_key(b, run())
    assert chain_output(a, "ADD", "sha256:" + "3" * 64) != chain_output(a, "ADD", "sha256:" + "4" * 64)
    assert chain_output(a, "ADD", None) != chain_output(a, "ADD", "sha256:" + "4" * 64)


def test_cache_secret_mount_records_options_never_values():
    m = records.secret_mount(target="/run/secrets/t", secret_id="t", mode=None, uid=None, gid=None,
                             required=True, env=None)
    assert set(m) == {"type", "target", "id", "mode", "uid", "gid", "required", "env"}


def test_cache_input_digests_name_each_field():
    digests = input_digests(run())
    assert set(digests) == {"kind", "argv", "heredocs", "env", "user", "workdir", "network", "mounts", "writer"}
    assert digests["argv"] == digest_of(["/bin/sh", "-c", "make"])
    assert input_digests(run(user="x"))["user"] != digests["user"]


def test_cache_key_hex_is_a_valid_tag():
    key = step_key(chain_start(platform="linux/amd64", scratch=True), run())
    assert len(key_hex(key)) == 64 and key == "sha256:" + key_hex(key)
    with pytest.raises(ValueError):
        key_hex("md5:abc")


def test_cache_copy_records_cover_flags():
    def copy(**kw):
        base = dict(kind="copy", sources_digest="sha256:" + "5" * 64, inline=[], dest="/d", workdir="/",
                    chown=None, chmod=None, link=False, parents=False, excludes=[], origin="context", add=None,
                    writer=WRITER)
        base.update(kw)
        return step_key("sha256:" + "6" * 64, records.copy_record(**base))

    ref = copy()
    for change in (dict(dest="/e"), dict(workdir="/w"), dict(chown="1:1"), dict(chmod="755"), dict(link=True),
                   dict(parents=True), dict(excludes=["*.md"]), dict(kind="add"), dict(origin="stage"),
                   dict(sources_digest="sha256:" + "7" * 64), dict(inline=["sha256:" + "8" * 64])):
        assert copy(**change) != ref, change
