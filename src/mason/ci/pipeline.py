"""A GitLab CI pipeline as GitLab sees it: includes merged, ``extends`` and ``!reference`` resolved.

Order of resolution follows GitLab: ``include`` files are merged first (the including file
wins, later includes win over earlier ones), then ``extends`` (hashes deep-merge, lists and
scalars are replaced; up to 11 levels), then ``!reference`` tags against the extended jobs
(a reference inside a list is flattened one level, as GitLab does for ``script``/``rules``).
Global ``default:`` (and the old top-level ``image``/``before_script``/...) and global
``variables`` are applied to each job, honouring ``inherit:``.

Only ``include: local`` can be followed offline; other include kinds are recorded in
``Pipeline.unresolved_includes`` so the linter can say it did not see them.
"""

from __future__ import annotations

import glob as globlib
from dataclasses import dataclass, field
from pathlib import Path

from mason.ci.located import LocDict, LocList, LocStr, Ref, deep_merge, freeze
from mason.errors import UsageError

# Top-level keys that are not jobs (GitLab's reserved global keywords).
GLOBAL_KEYWORDS = frozenset({
    "default", "include", "stages", "variables", "workflow", "spec",
    "image", "services", "cache", "before_script", "after_script", "types",
})
# Keys a job inherits from ``default:`` (or from the deprecated top-level form).
DEFAULT_KEYS = ("after_script", "artifacts", "before_script", "cache", "hooks", "id_tokens", "image",
                "interruptible", "retry", "services", "tags", "timeout")
MAX_EXTENDS_DEPTH = 11
MAX_REFERENCE_DEPTH = 10


@dataclass(frozen=True)
class UnresolvedInclude:
    kind: str
    value: str
    file: str
    line: int


@dataclass(frozen=True)
class Job:
    """A runnable job with its fully resolved configuration."""

    name: str
    file: str
    line: int
    config: LocDict

    def script_section(self, key: str) -> list[LocStr]:
        """``before_script``/``script``/``after_script`` as a flat list of located strings."""
        value = self.config.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            return [value if isinstance(value, LocStr) else LocStr(value, self.file, self.line)]
        if not isinstance(value, list):
            raise UsageError(f"{self.file}:{self.config.key_line(key)}: job {self.name!r}: {key} must be a "
                             f"string or a list of strings")
        out: list[LocStr] = []
        for item in _flatten(value):
            if not isinstance(item, str):
                raise UsageError(f"{getattr(value, 'file', self.file)}:{getattr(value, 'line', self.line)}: "
                                 f"job {self.name!r}: {key} entries must be strings, got {type(item).__name__}")
            out.append(item if isinstance(item, LocStr) else LocStr(item, self.file, self.line))
        return out


@dataclass
class Pipeline:
    path: Path
    root: Path
    files: list[Path] = field(default_factory=list)
    top: LocDict = field(default_factory=LocDict)  # merged top level, ``extends`` not yet applied
    jobs: dict[str, Job] = field(default_factory=dict)
    unresolved_includes: list[UnresolvedInclude] = field(default_factory=list)

    def variables(self) -> dict:
        value = self.top.get("variables")
        return dict(value) if isinstance(value, dict) else {}


def load_pipeline(path: Path | str, root: Path | str | None = None, *, text: str | None = None) -> Pipeline:
    """Load ``path`` (and its ``include: local`` files, relative to ``root``, default: its directory).

    ``text``, when given, is used as the content of ``path`` (to check a rewrite before writing it).
    """
    path = Path(path)
    pipeline = Pipeline(path=path, root=Path(root) if root is not None else path.parent)
    pipeline.top = _load_with_includes(pipeline, path, (), text)
    extended: dict[str, LocDict] = {}
    for name, value in pipeline.top.items():
        if name in GLOBAL_KEYWORDS or not isinstance(value, dict):
            continue
        extended[name] = _extend(pipeline.top, name, ())
    for name, config in extended.items():
        if name.startswith("."):
            continue
        resolved = _resolve_refs(config, extended, 0)
        resolved = _apply_defaults(pipeline.top, resolved)
        pipeline.jobs[name] = Job(name=name, file=config.file, line=pipeline.top.key_line(name), config=resolved)
    return pipeline


def _load_with_includes(pipeline: Pipeline, path: Path, chain: tuple[Path, ...], text: str | None = None) -> LocDict:
    from mason.yamlio import load_path, load_text

    resolved = path.resolve()
    if resolved in chain:
        raise UsageError(f"{path}: include cycle: " + " -> ".join(str(p) for p in (*chain, resolved)))
    doc = load_text(text, str(path)) if text is not None else load_path(path)[0]
    pipeline.files.append(path)
    if doc is None:
        return LocDict(file=str(path), line=1)
    top = freeze(doc, str(path), 1)
    if not isinstance(top, dict):
        raise UsageError(f"{path}: a GitLab CI file must be a mapping at the top level")
    merged = LocDict(file=str(path), line=1)
    for inc_path in _local_includes(pipeline, top, str(path)):
        merged = deep_merge(merged, _load_with_includes(pipeline, inc_path, (*chain, resolved)))
    own = LocDict(top, file=top.file, line=top.line, key_lines=top.key_lines)
    own.pop("include", None)
    return deep_merge(merged, own)


def _local_includes(pipeline: Pipeline, top: LocDict, file: str) -> list[Path]:
    spec = top.get("include")
    if spec is None:
        return []
    line = top.key_line("include")
    items = spec if isinstance(spec, list) else [spec]
    paths: list[Path] = []
    for item in items:
        item_line = getattr(item, "line", line)
        if isinstance(item, str):
            if "://" in item:
                pipeline.unresolved_includes.append(UnresolvedInclude("remote", item, file, item_line))
                continue
            paths.extend(_expand_local(pipeline, item, file, item_line))
        elif isinstance(item, dict):
            if "local" in item:
                paths.extend(_expand_local(pipeline, str(item["local"]), file, item.key_line("local")))
            else:
                kind = next((k for k in ("remote", "project", "template", "component") if k in item), None)
                if kind is None:
                    raise UsageError(f"{file}:{item_line}: include entry with none of local/remote/project/"
                                     f"template/component: {sorted(item)}")
                pipeline.unresolved_includes.append(UnresolvedInclude(kind, str(item[kind]), file, item_line))
        else:
            raise UsageError(f"{file}:{item_line}: include entries must be strings or mappings")
    return paths


def _expand_local(pipeline: Pipeline, spec: str, file: str, line: int) -> list[Path]:
    rel = spec.lstrip("/")
    if "$" in rel:
        raise UsageError(f"{file}:{line}: include: local {spec!r} uses a variable; mason ci cannot expand it offline")
    if any(ch in rel for ch in "*?["):
        matches = sorted(Path(p) for p in globlib.glob(str(pipeline.root / rel), recursive=True))
        if not matches:
            raise UsageError(f"{file}:{line}: include: local {spec!r} matches no file under {pipeline.root}")
        return matches
    target = pipeline.root / rel
    if not target.is_file():
        raise UsageError(f"{file}:{line}: include: local {spec!r}: {target} does not exist",
                         hint="local includes are relative to the repository root (see --root)")
    return [target]


def _extend(top: LocDict, name: str, chain: tuple[str, ...]) -> LocDict:
    config = top[name]
    if name in chain:
        raise UsageError(f"{config.file}:{top.key_line(name)}: extends cycle: {' -> '.join((*chain, name))}")
    if len(chain) >= MAX_EXTENDS_DEPTH:
        raise UsageError(f"{config.file}:{top.key_line(name)}: extends nested deeper than {MAX_EXTENDS_DEPTH} levels")
    parents = config.get("extends")
    if parents is None:
        return config
    if isinstance(parents, str):
        parents = [parents]
    merged = LocDict(file=config.file, line=config.line)
    for parent in parents:
        if not isinstance(parent, str) or parent not in top or not isinstance(top[parent], dict):
            raise UsageError(f"{config.file}:{config.key_line('extends')}: job {name!r} extends unknown job "
                             f"{parent!r}")
        merged = deep_merge(merged, _extend(top, parent, (*chain, name)))
    own = LocDict(config, file=config.file, line=config.line, key_lines=config.key_lines)
    own.pop("extends")
    return deep_merge(merged, own)


def _resolve_refs(value, jobs: dict[str, LocDict], depth: int):
    if isinstance(value, Ref):
        return _resolve_refs(_lookup(value, jobs), jobs, depth + 1)
    if depth > MAX_REFERENCE_DEPTH:
        raise UsageError("!reference nested deeper than 10 levels")
    if isinstance(value, dict):
        out = LocDict(file=value.file, line=value.line, key_lines=value.key_lines)
        for key, item in value.items():
            out[key] = _resolve_refs(item, jobs, depth)
        return out
    if isinstance(value, list):
        out = LocList(file=getattr(value, "file", "?"), line=getattr(value, "line", 0))
        for item in value:
            resolved = _resolve_refs(item, jobs, depth)
            if isinstance(item, Ref) and isinstance(resolved, list):
                out.extend(resolved)  # GitLab flattens a referenced list one level
            else:
                out.append(resolved)
        return out
    return value


def _lookup(ref: Ref, jobs: dict[str, LocDict]):
    current = jobs.get(ref.path[0])
    if current is None:
        raise UsageError(f"{ref.file}:{ref.line}: !reference {list(ref.path)}: no job {ref.path[0]!r}")
    for key in ref.path[1:]:
        if not isinstance(current, dict) or key not in current:
            raise UsageError(f"{ref.file}:{ref.line}: !reference {list(ref.path)}: {key!r} not found")
        current = current[key]
    return current


def _apply_defaults(top: LocDict, job: LocDict) -> LocDict:
    inherit = job.get("inherit") if isinstance(job.get("inherit"), dict) else {}
    out = LocDict(job, file=job.file, line=job.line, key_lines=job.key_lines)
    inherit_default = inherit.get("default", True)
    defaults = top.get("default") if isinstance(top.get("default"), dict) else {}
    for key in DEFAULT_KEYS:
        if key in out or not _inherits(inherit_default, key):
            continue
        if key in defaults:
            out[key] = defaults[key]
        elif key in top and key in GLOBAL_KEYWORDS:
            out[key] = top[key]
    global_vars = top.get("variables")
    inherit_vars = inherit.get("variables", True)
    if isinstance(global_vars, dict) and inherit_vars is not False:
        own = out.get("variables") if isinstance(out.get("variables"), dict) else {}
        picked = {k: v for k, v in global_vars.items() if _inherits(inherit_vars, k)}
        out["variables"] = LocDict({**picked, **own}, file=job.file, line=job.line)
    return out


def _inherits(setting, key: str) -> bool:
    if isinstance(setting, list):
        return key in setting
    return setting is not False


def _flatten(items):
    for item in items:
        if isinstance(item, list):
            yield from _flatten(item)  # anchors of lists inside a script list are flattened by GitLab
        else:
            yield item


def variable_values(variables: dict) -> dict[str, str]:
    """``variables:`` as the strings the job sees (``{value: ...}`` forms unwrapped).

    Values that are not scalars are invalid in GitLab and are left out of expansion: a
    reference to them stays unexpanded and is treated as unknown by the rules."""
    out: dict[str, str] = {}
    for key, value in variables.items():
        if isinstance(value, dict):
            value = value.get("value")
        if isinstance(value, bool):
            out[str(key)] = "true" if value else "false"
        elif isinstance(value, (str, int, float)):
            out[str(key)] = str(value)
    return out
