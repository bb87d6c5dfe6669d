"""``detect`` runs its probe child beside the host-root facts: whatever fails, the child is
reaped and its temp dir removed."""

from __future__ import annotations

import subprocess

import pytest

from mason.sandbox import capabilities


def test_a_failure_beside_the_probe_leaves_no_child_and_no_temp_dir(tmp_path, monkeypatch):
    started: list[subprocess.Popen] = []
    real_popen = subprocess.Popen

    def recording_popen(*args, **kwargs):
        child = real_popen(*args, **kwargs)
        started.append(child)
        return child

    def failing_facts():
        raise RuntimeError("facts failed")

    monkeypatch.setattr(capabilities.subprocess, "Popen", recording_popen)
    monkeypatch.setattr(capabilities, "_host_root_facts", failing_facts)
    with pytest.raises(RuntimeError, match="facts failed"):
        capabilities.detect(tmp_path / "w")
    assert len(started) == 1 and started[0].returncode is not None
    assert list((tmp_path / "w").iterdir()) == []


def test_the_probe_answers_beside_the_facts(tmp_path):
    found = capabilities.detect(tmp_path / "w")
    assert found.level in ("namespaces", "host-root", "chroot", "none")
    assert "probe failed" not in found.reason
    assert list((tmp_path / "w").iterdir()) == []
