"""``--isolation``: mapped to BuildOptions.isolation, validated, documented."""

from __future__ import annotations

import pytest

from mason.cli.kaniko_flags import BY_NAME, parse_argv
from mason.errors import UsageError
from mason.sandbox.capabilities import FORCEABLE, Isolation, choose
from tests.unit.cli.test_cli_build_mapping import ctx, mapped  # noqa: F401  (fixture)


def test_default_is_auto(ctx):  # noqa: F811
    assert mapped(["--no-push"], ctx).options.isolation == "auto"


@pytest.mark.parametrize("value", ["auto", "namespaces", "chroot"])
def test_values_map_through(ctx, value):  # noqa: F811
    o = mapped(["--no-push", f"--isolation={value}", "--snapshot-mode=walk"], ctx).options
    assert (o.isolation, o.snapshot_mode) == (value, "walk")


def test_unknown_value_is_refused_naming_the_flag():
    with pytest.raises(UsageError, match="invalid value 'host-root' for --isolation: expected one of auto, "
                                         "namespaces, chroot"):
        parse_argv(["--isolation=host-root"])


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
