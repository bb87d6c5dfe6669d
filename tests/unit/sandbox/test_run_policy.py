"""The RUN policy values: BuildKit's default and insecure confinement, the --allow entitlements,
the RUN's resolv.conf under user-mode networking."""

from __future__ import annotations

import pytest

from mason.errors import UsageError
from mason.sandbox.confinement import DEFAULT_CAPABILITIES, for_security, mask_of
from mason.sandbox.entitlements import parse, run_modes


def test_default_and_insecure_confinement():
    default, insecure = for_security("sandbox", "x86_64"), for_security("insecure", "x86_64")
    assert default.capabilities == mask_of(DEFAULT_CAPABILITIES) == 0xA80425FB
    assert default.seccomp_filter and default.nodev and default.sysfs_readonly
    assert "/proc/kcore" in default.masked_paths and "/proc/sys" in default.readonly_paths
    assert insecure.seccomp_filter is None and not insecure.masked_paths and not insecure.nodev
    assert insecure.capabilities & (1 << 21)
    assert default.helper_plan()["no_new_privs"] is False


def test_entitlements():
    assert parse(["network.host,security.insecure"]) == {"network.host", "security.insecure"}
    with pytest.raises(UsageError, match="unknown entitlement"):
        parse(["device"])
    assert run_modes(None, None, frozenset(), "Dockerfile:2") == ("sandbox", "sandbox")
    assert run_modes("none", "sandbox", frozenset(), "Dockerfile:2") == ("none", "sandbox")
    with pytest.raises(UsageError, match="Dockerfile:2: RUN --network=host needs the network.host"):
        run_modes("host", None, frozenset(), "Dockerfile:2")
    with pytest.raises(UsageError, match="security.insecure"):
        run_modes(None, "insecure", frozenset({"network.host"}), "Dockerfile:2")
    assert run_modes("host", "insecure", frozenset({"network.host", "security.insecure"}), "x") == ("host", "insecure")


def test_run_resolv_conf_names_the_user_mode_dns_and_keeps_search_lines():
    from mason.sandbox.usernet import resolv_conf

    host = b"# generated\nnameserver 127.0.0.53\nsearch corp.example\noptions ndots:2 edns0\n\n"
    assert resolv_conf(host) == b"search corp.example\noptions ndots:2 edns0\nnameserver 10.0.2.3\n"
    assert resolv_conf(b"") == b"nameserver 10.0.2.3\n"
