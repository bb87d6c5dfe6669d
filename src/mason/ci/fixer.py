"""``mason ci fix``: split each job that runs several cached builds into one job per image.

The shape is the one in the seed's ``after.gitlab-ci.yml``: the offending job becomes a hidden
template (``.build-image``) keeping every key but ``script``, followed by one job per build
that ``extends`` it and holds that build's script entries.

The rewrite is a text splice. ruamel.yaml's round-trip loader tells where each job, key and
script entry starts; the new text is cut from the original lines, so everything outside the
rewritten jobs stays byte-for-byte identical (comments, anchors, quoting, key order, blank
lines), and inside them every kept line keeps its own quoting and comments. The result is
parsed and linted again before it is returned.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from mason.ci.invocation import find_invocations
from mason.ci.located import LocStr
from mason.ci.pipeline import Pipeline, load_pipeline, variable_values
from mason.ci.rules import _repository, is_trapped, job_invocations
from mason.errors import MasonError, UsageError


@dataclass
class FixResult:
    original: str
    text: str
    fixed: dict[str, list[str]] = field(default_factory=dict)   # old job -> [template, new jobs...]
    refused: dict[str, str] = field(default_factory=dict)       # old job -> why it was left alone

    @property
    def changed(self) -> bool:
        return self.text != self.original

    def diff(self, name: str) -> str:
        return "".join(difflib.unified_diff(self.original.splitlines(keepends=True),
                                            self.text.splitlines(keepends=True),
                                            fromfile=f"a/{name}", tofile=f"b/{name}"))


@dataclass(frozen=True)
class _Plan:
    name: str
    start: int                 # first line of the job (0-based)
    end: int                   # one past its last line (trailing blanks/comments excluded)
    replacement: list[str]
    new_names: list[str]


def fix_file(path: Path | str, root: Path | str | None = None) -> FixResult:
    """Compute the fixed text of ``path``; nothing is written."""
    from mason.yamlio import load_path

    path = Path(path)
    doc, text = load_path(path)
    pipeline = load_pipeline(path, root)
    result = FixResult(original=text, text=text)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    taken = set(pipeline.top)
    plans: list[_Plan] = []
    for name, job in pipeline.jobs.items():
        if not is_trapped(job_invocations(job, pipeline)):
            continue
        try:
            plan = _plan(name, doc, lines, pipeline, taken)
        except _Refused as exc:
            result.refused[name] = str(exc)
            continue
        plans.append(plan)
        result.fixed[name] = plan.new_names
    for plan in sorted(plans, key=lambda p: p.start, reverse=True):
        lines[plan.start:plan.end] = plan.replacement
    if plans:
        result.text = "".join(lines)
        _check(path, root, result)
    return result


class _Refused(Exception):
    pass


def _plan(name: str, doc, lines: list[str], pipeline: Pipeline, taken: set) -> _Plan:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    from mason.yamlio import reference_path

    if name not in doc.lc.data:
        raise _Refused(f"job {name!r} is defined in an included file; fix that file instead")
    node = doc[name]
    if not isinstance(node, CommentedMap) or node.fa.flow_style():
        raise _Refused(f"job {name!r} is not a block mapping")
    if "script" not in node.lc.data:
        raise _Refused(f"job {name!r} inherits its script (extends or a merge key); split the job that defines it")
    script = node["script"]
    if not isinstance(script, CommentedSeq) or reference_path(script) is not None or script.fa.flow_style():
        raise _Refused(f"job {name!r}: script is not a block list of entries")
    user = _users(pipeline, name)
    if user:
        raise _Refused(f"job {name!r} is used by {user}; renaming it would break that")
    job = pipeline.jobs[name]
    variables = {**variable_values(pipeline.variables()), **variable_values(job.config.get("variables") or {})}
    all_invocations = job_invocations(job, pipeline)
    if any(inv.section != "script" for inv in all_invocations):
        raise _Refused(f"job {name!r} builds in before_script/after_script, which every split job would repeat")
    per_entry: list[list] = []
    for i, item in enumerate(script):
        if reference_path(item) is not None:
            per_entry.append([])
            continue
        if not isinstance(item, str):
            raise _Refused(f"job {name!r}: script entry {i + 1} is not a string")
        found = find_invocations([LocStr(str(item), job.file, script.lc.item(i)[0] + 1)], "script", variables)
        if len(found) > 1 or any(inv.in_loop for inv in found):
            raise _Refused(f"job {name!r}: script entry {i + 1} (line {script.lc.item(i)[0] + 1}) runs several "
                           f"builds; split it into one entry per build first")
        per_entry.append(found)
    if sum(len(f) for f in per_entry) != len(all_invocations):
        raise _Refused(f"job {name!r}: some builds come from a !reference; move them into the job first")

    start = doc.lc.key(name)[0]
    end = _block_end(lines, start, _next_key_line(doc, name, len(lines)))
    key_lines = sorted(node.lc.key(k)[0] for k in node.lc.data)
    script_start = node.lc.key("script")[0]
    later = [ln for ln in key_lines if ln > script_start]
    script_end = _block_end(lines, script_start, later[0] if later else end)
    item_starts = [script.lc.item(i)[0] for i in range(len(script))]
    if not item_starts or item_starts[0] <= script_start:
        raise _Refused(f"job {name!r}: script layout not understood")
    bounds = item_starts + [script_end]
    items = ["".join(lines[bounds[i]:bounds[i + 1]]) for i in range(len(script))]
    header = "".join(lines[script_start:item_starts[0]])

    template = _free(".build-image", taken)
    first = lines[start]
    template_lines = [_rename_key(first, name, template), *lines[start + 1:script_start], *lines[script_end:end]]
    if not "".join(template_lines[1:]).strip():
        # The job had nothing but its script: the template is an empty mapping, not null.
        template_lines = [template_lines[0].replace(f"{template}:", f"{template}: {{}}", 1)]
    indent = " " * node.lc.key("script")[1]
    dash_line = lines[item_starts[0]]
    dash = " " * (len(dash_line) - len(dash_line.lstrip(" ")))

    setup: list[str] = []
    groups: list[tuple[object, list[str]]] = []
    for text, found in zip(items, per_entry):
        if found:
            groups.append((found[0], [text]))
        elif groups:
            groups[-1][1].append(text)
        else:
            setup.append(text)
    out = list(template_lines)
    new_names = [template]
    for index, (inv, texts) in enumerate(groups, 1):
        job_name = _free(_job_name(inv, name, index), taken)
        new_names.append(job_name)
        block = f"{job_name}:\n{indent}extends:\n{dash}- {template}\n{header}{''.join(setup)}{''.join(texts)}"
        out.append("\n")
        out.extend(block.splitlines(keepends=True))
    return _Plan(name=name, start=start, end=end, replacement=out, new_names=new_names)


def _users(pipeline: Pipeline, name: str) -> str | None:
    """Another job that extends, references, needs or depends on ``name``."""
    from mason.ci.located import Ref

    def mentions(value) -> bool:
        if isinstance(value, Ref):
            return value.path[0] == name
        if isinstance(value, dict):
            return any(mentions(v) for v in value.values())
        if isinstance(value, list):
            return any(mentions(v) for v in value)
        return False

    for other, config in pipeline.top.items():
        if other == name or not isinstance(config, dict):
            continue
        ext = config.get("extends")
        if ext == name or (isinstance(ext, list) and name in ext):
            return f"job {other!r} (extends)"
        for key in ("needs", "dependencies"):
            for item in config.get(key) or []:
                if item == name or (isinstance(item, dict) and item.get("job") == name):
                    return f"job {other!r} ({key})"
        if mentions(config):
            return f"job {other!r} (!reference)"
    return None


def _next_key_line(doc, name: str, default: int) -> int:
    starts = sorted(doc.lc.key(k)[0] for k in doc.lc.data)
    mine = doc.lc.key(name)[0]
    later = [s for s in starts if s > mine]
    return later[0] if later else default


def _block_end(lines: list[str], start: int, end: int) -> int:
    """Back ``end`` up over trailing blank lines and comments (they belong to what follows)."""
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return end


def _rename_key(line: str, old: str, new: str) -> str:
    for written in (old, f'"{old}"', f"'{old}'"):
        if line.startswith(written):
            rest = line[len(written):]
            if rest.lstrip(" ").startswith(":"):
                return new + rest
    raise _Refused(f"job {old!r}: cannot locate its key on line {line!r}")


def _job_name(inv, job: str, index: int) -> str:
    if inv.destinations:
        last = _repository(inv.destinations[0]).rstrip("/").rsplit("/", 1)[-1]
        if last and "$" not in last:
            return "build-" + re.sub(r"[^A-Za-z0-9._-]+", "-", last)
    return f"{job}-{index}"


def _free(name: str, taken: set) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}-{n}"
    taken.add(candidate)
    return candidate


def _check(path: Path, root, result: FixResult) -> None:
    """Re-read the rewritten pipeline: it must load and no split job may still be trapped."""
    try:
        pipeline = load_pipeline(path, root, text=result.text)
    except MasonError as exc:
        raise UsageError(f"{path}: internal error: the rewritten pipeline does not load: {exc}") from None
    for names in result.fixed.values():
        for new in names[1:]:
            job = pipeline.jobs.get(new)
            if job is None or is_trapped(job_invocations(job, pipeline)):
                raise UsageError(f"{path}: internal error: rewritten job {new!r} is missing or still trapped")
