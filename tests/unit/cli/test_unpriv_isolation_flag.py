"""``--isolation``: mapped to BuildOptions.isolation, validated, documented."""

from __future__ import annotations

import pytest

from mason.cli.kaniko_flags import BY_NAME, parse_argv
from mason.errors import UsageError
from mason.sandbox.capabilities import FORCEABLE, Isolation, choose
from tests.unit.cli.test_cli_build_mapping import ctx, mapped  # noqa: F401  (fixture)


def test_default_is_auto(ctx):  # noqa: F811
    assert mapped(["--no-push"], ctx).options.isolation == "auto"


@pytest.mark.parametrize("value", ["auto", "namespaces", "host-root", "chroot"])
def test_values_map_through(ctx, value):  # noqa: F811
    o = mapped(["--no-push", f"--isolation={value}", "--snapshot-mode=walk"], ctx).options
    assert (o.isolation, o.snapshot_mode) == (value, "walk")


def test_unknown_value_is_refused_naming_the_flag():
    with pytest.raises(UsageError, match="invalid value 'userns' for --isolation: expected one of auto, "
                                         "namespaces, host-root, chroot"):
        parse_argv(["--isolation=userns"])


def test_flag_choices_are_what_choose_accepts():
    assert BY_NAME["isolation"].choices == FORCEABLE


def test_forcing_down_keeps_the_reason_and_states_the_limits():
    detected = Isolation("namespaces", "mount/PID namespaces and overlayfs are available", overlay=True)
    forced = choose(detected, "chroot")
    assert (forced.level, forced.overlay) == ("chroot", False)   # overlay off: the stat walker is used
    assert forced.reason.startswith("forced by --isolation=chroot (detected: namespaces); RUN gets no /proc")
    assert choose(detected, "auto") is detected and choose(detected, "namespaces") is detected
    with pytest.raises(UsageError, match="--isolation=namespaces is not available here: no unshare"):
        choose(Isolation("chroot", "no unshare"), "namespaces")


def test_host_root_needs_a_self_contained_runtime_and_a_container():
    outside = Isolation("chroot", "no unshare", container=None, host_root=None, runtime=("/kaniko",))
    with pytest.raises(UsageError, match="outside a container"):
        choose(outside, "host-root")
    forced = choose(outside, "host-root", force=True)
    assert forced.level == "host-root" and "--force given" in forced.reason
    loose = Isolation("chroot", "no unshare", container="/.dockerenv exists",
                      host_root="mason's runtime is not self-contained: /lib/libc.so.6")
    with pytest.raises(UsageError, match="not possible here: mason's runtime is not self-contained: /lib/libc.so.6"):
        choose(loose, "host-root", force=True)
    inside = Isolation("host-root", "building in /", container="/.dockerenv exists", runtime=("/kaniko",))
    assert choose(inside, "host-root") is inside
    chroot = choose(inside, "chroot")
    assert chroot.level == "chroot" and chroot.reason.startswith("forced by --isolation=chroot (detected: host-root)")
    with pytest.raises(UsageError, match="--isolation=namespaces is not available here"):
        choose(inside, "namespaces")
