"""``mason ci fix``: split each job that runs several builds in one container into one job per image.

Split are the jobs ``mason ci lint`` flags with MASON001/MASON002 (several Kaniko builds, cache
on or off: Kaniko's ``/kaniko/<stage>`` leaks either way) and MASON003 (several cached mason
builds, which break when the job is run with Kaniko's image).

The shape is the one in the seed's ``after.gitlab-ci.yml``: the offending job becomes a hidden
template (``.build-image``) keeping every key but ``script``, followed by one job per build
that ``extends`` it and holds that build's script entries.

Where the script entries go (``mason.ci.fixpieces`` cuts the script into pieces):

* entries before the first build (setup) go into every job;
* ``echo``/``printf`` right after a build stay with that build (they report on it);
* shell state set between two builds (``export``, ``cd``, ``mkdir``, a write with ``>``) goes
  into every later job, before its build, since the later builds ran with it; any other
  command between two builds is refused: it may finish the previous build or prepare the
  next, and the text does not say which;
* commands after the last build ran after every build: they become a final job with the
  original job's name that ``needs`` every build job (refused when a build writes a file,
  ``--digest-file`` and the like, that such a command could read: it is in another job now).

Jobs that ``needs:``/``dependencies:`` the split job are rewritten to list the new jobs
(unless a final job keeps the name); ``!reference`` to its other keys is pointed at the
template; a job that ``extends`` it, or references its ``script``, makes it refused.

The rewrite is a text splice: ruamel.yaml's round-trip loader and ``mason.ci.fixtext`` tell
where each job, key and entry is written, the new text is cut from the original lines, so
everything outside the rewritten places stays byte-for-byte identical, and every kept line
keeps its quoting and the comments beside it. The result is parsed and linted again before
it is returned.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from mason.ci.fixpieces import OUTPUT_FLAGS, Piece, Refused, Sources, pieces_of_sequence
from mason.ci.fixtext import reindent, rename_key, sequence_items, trim_end
from mason.ci.fixusers import Edit, rewrite_users
from mason.ci.pipeline import Pipeline, load_pipeline, variable_values
from mason.ci.rules import _repository, job_invocations, needs_split
from mason.errors import MasonError, UsageError

_ANCHOR = re.compile(r"(^|[\s\[{,])&[A-Za-z0-9_.-]+")


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
    sources = Sources(pipeline, doc, lines)
    taken = set(pipeline.top)
    edits: list[Edit] = []
    for name, job in pipeline.jobs.items():
        if not needs_split(job_invocations(job, pipeline)):
            continue
        mark = set(taken)
        try:
            planned, names = _plan(name, doc, lines, pipeline, sources, taken)
            for edit in planned:
                other = next((e for e in edits if e.start < edit.end and edit.start < e.end), None)
                if other is not None:
                    raise Refused(f"rewriting it would change lines {edit.start + 1}-{edit.end} that the split of "
                                  f"job {other.owner!r} rewrites too; run mason ci fix again afterwards")
        except Refused as exc:
            taken.clear()
            taken.update(mark)
            result.refused[name] = f"job {name!r}: {exc}"
            continue
        edits.extend(planned)
        result.fixed[name] = names
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        lines[edit.start:edit.end] = edit.lines
    if edits:
        result.text = "".join(lines)
        _check(path, root, result)
    return result


def _plan(name: str, doc, lines: list[str], pipeline: Pipeline, sources: Sources, taken: set):
    from ruamel.yaml.comments import CommentedMap

    if name not in doc.lc.data:
        raise Refused("it is defined in an included file; run mason ci fix on that file")
    node = doc[name]
    if not isinstance(node, CommentedMap) or node.fa.flow_style() or not node:
        raise Refused("it is not a block mapping")
    job = pipeline.jobs[name]
    variables = {**variable_values(pipeline.variables()), **variable_values(job.config.get("variables") or {})}
    if any(inv.section != "script" for inv in job_invocations(job, pipeline)):
        raise Refused("it builds in before_script/after_script, which every split job would repeat")

    start = doc.lc.key(name)[0]
    end = trim_end(lines, start, _next_key_line(doc, name, len(lines)))
    own_key = next((k for k in node if k in node.lc.data), None)
    if own_key is None:
        raise Refused("all its keys come from a merge key (<<:); split the job that defines them")
    indent_col = node.lc.key(own_key)[1]
    template = _free(".build-image", taken)
    first = rename_key(lines[start], name, template)
    if first is None:
        raise Refused(f"its key could not be located on line {start + 1}")

    if "script" in node.lc.data:
        script_key = node.lc.key("script")[0]
        header = lines[script_key]
        alias = header.split(":", 1)[1].lstrip().startswith("*")
        seq = node["script"]
        if isinstance(seq, str):
            raise Refused("its script is one string, not a list of entries")
        if alias:
            header = header.split(":", 1)[0] + ":\n"
            pieces = pieces_of_sequence(sources, sources.files[0][0], seq, seq.lc.line, variables, copied=True)
            block_end = script_key + 1
            to_col = indent_col + 2
        else:
            pieces = pieces_of_sequence(sources, sources.files[0][0], seq, script_key + 1, variables)
            items = sequence_items(lines, script_key + 1, len(seq))
            block_end = items[-1].end if items else script_key + 1
            to_col = items[0].col if items else indent_col + 2
        block = lines[script_key:block_end]
        keeps_anchor = any(_ANCHOR.search(line.split("#", 1)[0]) for line in block)
        template_lines = [first, *lines[start + 1:end]] if keeps_anchor else \
            [first, *lines[start + 1:script_key], *lines[block_end:end]]
        if keeps_anchor:   # the copies must not define the anchors a second time
            pieces = pieces_of_sequence(sources, sources.files[0][0], seq, seq.lc.line if alias else script_key + 1,
                                        variables, copied=True)
    else:
        found = sources.key_of(name, "script")
        if found is None:
            raise Refused("its script could not be located in the pipeline's files")
        file, mapping, key = found
        header = " " * indent_col + "script:\n"
        pieces = pieces_of_sequence(sources, file, mapping[key], mapping.lc.key(key)[0] + 1, variables, copied=True)
        template_lines = [first, *lines[start + 1:end]]
        to_col = indent_col + 2
    if not "".join(template_lines[1:]).strip():
        template_lines = [template_lines[0].replace(f"{template}:", f"{template}: {{}}", 1)]

    jobs, setup, carried, trailing = _group(pieces)
    if len(jobs) < 2:
        raise Refused("its builds could not be told apart in the text")
    indent, dash = " " * indent_col, " " * to_col

    def render(chosen: list[Piece]) -> str:
        out: list[str] = []
        for n, p in enumerate(chosen):
            joined = n > 0 and p.block is not None and chosen[n - 1].block == p.block
            out.extend(reindent(p.lines[p.head:] if joined else p.lines, p.col, to_col))
        return "".join(out)

    out = list(template_lines)
    names = [template]
    for index, (build, script) in enumerate(jobs, 1):
        job_name = _free(_job_name(build, name, index), taken)
        names.append(job_name)
        job_text = f"{job_name}:\n{indent}extends:\n{dash}- {template}\n{header}{render(script)}"
        out.append("\n")
        out.extend(job_text.splitlines(keepends=True))
    if trailing:
        writers = [p.invocation for p, _ in jobs if any(p.invocation.values(f) for f in OUTPUT_FLAGS)]
        if writers:
            flag = next(f for f in OUTPUT_FLAGS if writers[0].values(f))
            raise Refused(f"commands after its builds (at {trailing[0].where}) may read the file --{flag} "
                          f"writes ({writers[0].location}), which a split job writes in its own container")
        needs = _needs_lines(job, dash) + [f"{dash}- {n}\n" for n in names[1:]]
        final = [f"{_key_text(lines[start], name)}:\n", f"{indent}extends:\n", f"{dash}- {template}\n",
                 f"{indent}needs:\n", *needs, header, render(setup + carried + trailing)]
        taken.add(name)
        names.append(name)
        out.append("\n")
        out.extend(final)
    edits = [Edit(start, end, out, name)]
    edits.extend(rewrite_users(name, template, names[1:], doc, lines, pipeline, sources,
                               keeps_name=bool(trailing)))
    return edits, names


def _group(pieces: list[Piece]):
    """``([(build piece, its job's pieces)], setup, state carried past the last build, trailing)``."""
    builds = [i for i, p in enumerate(pieces) if p.kind == "build"]
    if not builds:
        return [], [], [], []
    setup = pieces[:builds[0]]
    jobs: list[tuple[Piece, list[Piece]]] = []
    carried: list[Piece] = []
    trailing: list[Piece] = []
    for n, b in enumerate(builds):
        stop = builds[n + 1] if n + 1 < len(builds) else len(pieces)
        own = [pieces[b]]
        i = b + 1
        while i < stop and pieces[i].kind == "log":
            own.append(pieces[i])
            i += 1
        jobs.append((pieces[b], setup + carried + own))
        rest = pieces[i:stop]
        if n + 1 < len(builds):
            other = next((p for p in rest if p.kind == "other"), None)
            if other is not None:
                raise Refused(f"the command at {other.where} runs between two builds: it may finish the previous "
                              f"build or prepare the next, and the text does not say which; move it before the "
                              f"first build or after the last")
            carried = carried + rest
        else:
            trailing = rest
    return jobs, setup, carried, trailing


def _needs_lines(job, dash: str) -> list[str]:
    import json

    value = job.config.get("needs")
    if value is None:
        return []
    out = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str):
            out.append(f"{dash}- {json.dumps(str(item))}\n")
        elif isinstance(item, dict) and all(isinstance(v, (str, bool, int)) for v in item.values()):
            out.append(f"{dash}- {json.dumps({str(k): v for k, v in item.items()})}\n")
        else:
            raise Refused("its needs: has entries that cannot be carried over to the final job")
    return out


def _key_text(line: str, name: str) -> str:
    """The job's key as the file wrote it (bare or quoted), for the final job keeping its name."""
    for written in (f'"{name}"', f"'{name}'", name):
        if line.startswith(written) and line[len(written):].lstrip(" ").startswith(":"):
            return written
    return name


def _next_key_line(doc, name: str, default: int) -> int:
    starts = sorted(doc.lc.key(k)[0] for k in doc.lc.data)
    mine = doc.lc.key(name)[0]
    later = [s for s in starts if s > mine]
    return later[0] if later else default


def _job_name(piece: Piece, job: str, index: int) -> str:
    inv = piece.invocation
    if piece.name_hint:
        return "build-" + re.sub(r"[^A-Za-z0-9._-]+", "-", piece.name_hint.rsplit("/", 1)[-1])
    if inv is not None and inv.destinations:
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
            if job is None or needs_split(job_invocations(job, pipeline)):
                raise UsageError(f"{path}: internal error: rewritten job {new!r} is missing or still trapped")
