"""The processes the tests start can be interrupted, however the suite itself was started."""

import signal
import subprocess
import sys


def test_a_child_gets_sigint_sigterm_and_sighup_delivered():
    """Fails when the suite runs with SIGINT ignored (``pytest &`` in a script) and conftest's
    ``pytest_configure`` did not restore it: every interrupt test would then fail."""
    probe = ("import signal; print(*(signal.getsignal(s) is signal.SIG_IGN "
             "for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "False"]
    assert signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
