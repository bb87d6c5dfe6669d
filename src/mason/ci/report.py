"""``mason ci lint`` output: text for people, JSON for scripts, GitLab Code Quality for merge requests.

The Code Quality report is the JSON list GitLab reads from ``artifacts:reports:codequality``
and shows in the merge request: per finding ``description``, ``check_name``, ``fingerprint``,
``severity`` (info/minor/major/critical/blocker) and ``location.path`` (relative to the
repository) with ``location.lines.begin``. The fingerprint identifies one finding across
runs, so it is made of the rule, the file, the job and the finding's rank among that job's
findings of the same rule: not of the line number, which moves when lines are added above.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from mason.ci.rules import FAILING, RULES, Finding

_SEVERITY = {"error": "critical", "warning": "major", "info": "info"}


def render_text(file: str, findings: list[Finding]) -> str:
    failing = [f for f in findings if f.severity in FAILING]
    out = [f.render() for f in findings]
    notes = len(findings) - len(failing)
    out.append(f"{file}: {len(failing)} problem(s)" + (f", {notes} note(s)" if notes else ""))
    return "\n".join(out) + "\n"


def render_json(file: str, findings: list[Finding]) -> str:
    items = [{**f.to_dict(), "check_name": RULES[f.rule][0]} for f in findings]
    return json.dumps({"file": file, "findings": items}, indent=2) + "\n"


def render_codequality(findings: list[Finding], root: Path) -> str:
    seen: dict[tuple, int] = {}
    report = []
    for f in findings:
        path = _relative(f.file, root)
        key = (f.rule, path, f.job)
        seen[key] = seen.get(key, 0) + 1
        fingerprint = hashlib.sha256("\0".join((*key, str(seen[key]))).encode()).hexdigest()
        report.append({
            "description": f"[{f.rule}] {f.message}. Hint: {f.hint}",
            "check_name": RULES[f.rule][0],
            "fingerprint": fingerprint,
            "severity": _SEVERITY[f.severity],
            "location": {"path": path, "lines": {"begin": max(f.line, 1)}},
        })
    return json.dumps(report, indent=2) + "\n"


def _relative(file: str, root: Path) -> str:
    absolute = os.path.abspath(file)
    try:
        return Path(absolute).relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        return Path(file).as_posix()
