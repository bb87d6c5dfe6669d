"""Bake files' ``entitlements`` key, ``--allow`` and ``--run-host-loopback`` (fake executor:
what each image's BuildOptions are granted)."""

from __future__ import annotations

import pytest

from mason.bake import parse_bake
from mason.bake.overrides import apply_sets
from mason.errors import UsageError
from tests.unit.bake.test_bake_run import bake, write_bake

BODY = """\
version: 1
defaults:
  no_push: true
images:
  a:
    context: a
    entitlements: [network.host]
  b:
    context: b
"""


def test_each_image_is_granted_what_it_lists_and_allow_grants(tmp_path):
    write_bake(tmp_path, {"a": "FROM scratch\n", "b": "FROM scratch\n"}, BODY)
    code, err, ex = bake(tmp_path, "--allow", "network.host,security.insecure", "--run-host-loopback")
    assert code == 0, err
    assert ex.options["a"].allow == frozenset({"network.host"})
    assert ex.options["b"].allow == frozenset()
    assert ex.options["a"].run_host_loopback and ex.options["b"].run_host_loopback


def test_not_allowed_is_refused_before_any_build(tmp_path):
    write_bake(tmp_path, {"a": "FROM scratch\n", "b": "FROM scratch\n"}, BODY)
    with pytest.raises(UsageError) as info:
        bake(tmp_path)
    assert "mason.bake.yml:5: image 'a' requires entitlement 'network.host'" in str(info.value)
    assert info.value.hint.startswith("pass --allow network.host")


def test_unknown_entitlement_is_refused_with_its_line(tmp_path):
    with pytest.raises(UsageError, match=r"x.yml:3: image 'a': entitlements: unknown entitlement 'device'"):
        parse_bake("version: 1\nimages:\n  a:\n    no_push: true\n    entitlements: [device]\n", "x.yml")
    write_bake(tmp_path, {"a": "FROM scratch\n", "b": "FROM scratch\n"}, BODY)
    with pytest.raises(UsageError, match="--allow=net: unknown entitlement"):
        bake(tmp_path, "--allow", "net")


def test_set_entitlements(tmp_path):
    parsed = parse_bake(BODY, tmp_path / "mason.bake.yml")
    assert apply_sets(parsed, ["b.entitlements=security.insecure"]).images["b"].entitlements == ("security.insecure",)
    with pytest.raises(UsageError, match="unknown entitlement 'x'"):
        apply_sets(parsed, ["*.entitlements=x"])
