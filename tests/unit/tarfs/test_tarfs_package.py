"""``mason.tarfs`` names its public API but imports each name from its module at first use."""

from __future__ import annotations

import subprocess
import sys

import pytest

import mason.tarfs as tarfs


def test_every_public_name_resolves_to_its_module():
    for name in tarfs.__all__:
        value = getattr(tarfs, name)
        assert value is not None
        assert name in dir(tarfs)
    from mason.tarfs import ExtractOptions, write_layer  # the from-import form too
    from mason.tarfs.extract import ExtractOptions as direct
    from mason.tarfs.writer import write_layer as writer

    assert ExtractOptions is direct and write_layer is writer


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = tarfs.no_such_name


def test_package_imports_no_submodule():
    # so no tarfs submodule is in an import cycle with its package, and a build that writes no
    # layer (every step cached) loads neither the writers nor the sink
    code = ("import sys, mason.tarfs, mason.executor.executor; "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('mason.tarfs.'))))")
    first = ("import sys, mason.tarfs; "
             "print(' '.join(sorted(m for m in sys.modules if m.startswith('mason.tarfs.'))))")
    alone = subprocess.run([sys.executable, "-c", first], capture_output=True, text=True, check=True)
    assert alone.stdout.split() == []
    built = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "mason.tarfs.extract" in built.stdout.split()      # the executor loads it eagerly
    assert "mason.tarfs.writer" not in built.stdout.split() and "mason.tarfs.sink" not in built.stdout.split()
