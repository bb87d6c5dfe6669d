"""Run ``docker-credential-<name> get`` programs (credHelpers / credsStore in config.json).

Protocol: the server URL on stdin, JSON ``{"ServerURL", "Username", "Secret"}`` on stdout.
``Username == "<token>"`` means ``Secret`` is an identity (refresh) token. A helper that
knows nothing about the server exits non-zero with "credentials not found": that is
anonymous access, not an error.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping

from mason.errors import AuthError
from mason.registry.keychain import ANONYMOUS, Credential
from mason.registry.redact import redact

_NOT_FOUND_MARKERS = ("credentials not found", "not found in native keychain", "no credentials")


def run_credential_helper(name: str, server_url: str, env: Mapping[str, str], *, timeout: float = 60.0) -> Credential:
    program = f"docker-credential-{name}"
    path = shutil.which(program, path=env.get("PATH", ""))
    if path is None:
        raise AuthError(f"credential helper {program} (configured for {server_url}) was not found on PATH",
                        hint=f"install {program} or remove it from the Docker config.json")
    try:
        proc = subprocess.run([path, "get"], input=server_url.encode(), capture_output=True,
                              env=dict(env), timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AuthError(f"credential helper {program} failed for {server_url}: {exc}") from None
    stdout = proc.stdout.decode("utf-8", "replace")
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        text = (stdout + stderr).lower()
        if any(marker in text for marker in _NOT_FOUND_MARKERS):
            return ANONYMOUS
        raise AuthError(f"credential helper {program} failed for {server_url} (exit {proc.returncode}): "
                        f"{redact(stderr.strip() or stdout.strip())[:300]}")
    try:
        doc = json.loads(stdout)
        username, secret = doc.get("Username") or "", doc.get("Secret") or ""
    except (ValueError, AttributeError):
        raise AuthError(f"credential helper {program} printed an invalid answer for {server_url} "
                        "(expected JSON with Username and Secret)") from None
    if username == "<token>":
        return Credential(identity_token=secret)
    if not username and not secret:
        return ANONYMOUS
    return Credential(username=username, password=secret)
