"""Jobs that name a job ``mason ci fix`` splits, and the edits that keep them right.

* ``needs:`` / ``dependencies:`` naming it: the entry is repeated once per new job (a block
  entry is copied with its comment and its other keys, ``artifacts:``, ``optional:``), or a
  one-line flow list gets the new names in place of the old one; not needed when the split
  keeps the name for a final job that needs every build.
* ``!reference [job, key]`` to a key other than ``script``: pointed at the template, which
  keeps every key but the script.
* ``extends:`` of it, or ``!reference [job, script]``: refused, because the other job would
  silently change (it would inherit the template, or a script that no longer builds anything).

Only the main file is edited; a user in an included file makes the split refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from mason.ci.fixpieces import Refused
from mason.ci.fixtext import replace_word, sequence_items, trim_end


@dataclass(frozen=True)
class Edit:
    start: int           # first line replaced (0-based)
    end: int             # one past the last
    lines: list[str]
    owner: str           # the split job the edit belongs to


def rewrite_users(name: str, template: str, new_jobs: list[str], doc, lines: list[str], pipeline, sources,
                  keeps_name: bool) -> list[Edit]:
    from ruamel.yaml.comments import CommentedMap

    from mason.yamlio import reference_path

    edits: list[Edit] = []
    main = sources.files[0][0]
    builds = [j for j in new_jobs if j != name]
    for other, config in pipeline.top.items():
        if other == name or not isinstance(config, dict):
            continue
        ext = config.get("extends")
        if ext == name or (isinstance(ext, list) and name in ext):
            raise Refused(f"job {other!r} extends it: splitting it would change what {other!r} runs")
        in_main = other in doc.lc.data and getattr(config, "file", main) == main
        node = doc[other] if in_main else None
        for key in ("needs", "dependencies"):
            value = config.get(key)
            if not isinstance(value, list) or not any(_names(item, name) for item in value):
                continue
            if keeps_name:
                continue
            if not isinstance(node, CommentedMap) or key not in node.lc.data:
                raise Refused(f"job {other!r} lists it in {key}: there, but written in an included file or "
                              f"inherited, which mason ci fix does not edit")
            edits.extend(_needs_edit(node, key, name, builds, lines, other))
        for ref_node, line in _references(node, lines) if isinstance(node, CommentedMap) else []:
            path = reference_path(ref_node)
            if not path or str(path[0]) != name:
                continue
            if len(path) < 2 or str(path[1]) == "script":
                raise Refused(f"job {other!r} uses !reference {list(path)} (line {line + 1}): its script is what "
                              f"the split changes")
            new, count = replace_word(lines[line], name, template)
            if count != 1:
                raise Refused(f"job {other!r}: !reference {list(path)} on line {line + 1} could not be rewritten")
            edits.append(Edit(line, line + 1, [new], name))
        if not in_main and _mentions(config, name):
            raise Refused(f"job {other!r} in an included file refers to it")
    return edits


def _names(item, name: str) -> bool:
    return item == name or (isinstance(item, dict) and item.get("job") == name)


def _mentions(value, name: str) -> bool:
    from mason.ci.located import Ref

    if isinstance(value, Ref):
        return value.path[0] == name
    if isinstance(value, dict):
        return any(_mentions(v, name) for k, v in value.items()) or value.get("job") == name
    if isinstance(value, list):
        return any(item == name or _mentions(item, name) for item in value)
    return False


def _needs_edit(node, key: str, name: str, builds: list[str], lines: list[str], owner_job: str) -> list[Edit]:
    from ruamel.yaml.comments import CommentedMap

    seq = node[key]
    key_line = node.lc.key(key)[0]
    if seq.fa.flow_style():
        if any(not isinstance(item, str) for item in seq):
            raise Refused(f"job {owner_job!r}: its flow-style {key} list has mappings; write it as a block list")
        line = lines[key_line]
        if "]" not in line:
            raise Refused(f"job {owner_job!r}: its {key} list spans several lines in flow style")
        new, count = replace_word(line, name, ", ".join(builds))
        if count != 1:
            raise Refused(f"job {owner_job!r}: {name!r} could not be located in its {key} on line {key_line + 1}")
        return [Edit(key_line, key_line + 1, [new], name)]
    items = sequence_items(lines, key_line + 1, len(seq))
    if items is None:
        raise Refused(f"job {owner_job!r}: the layout of its {key} list is not understood")
    edits = []
    for item_node, item in zip(seq, items):
        if not _names(item_node, name):
            continue
        text = lines[item.start:item.end]
        copies: list[str] = []
        for build in builds:
            if isinstance(item_node, CommentedMap):
                job_line = item_node.lc.key("job")[0] - item.start
                copy = list(text)
                copy[job_line], count = replace_word(copy[job_line], name, build)
            else:
                copy = list(text)
                copy[item.dash - item.start], count = replace_word(copy[item.dash - item.start], name, build)
            if count != 1:
                raise Refused(f"job {owner_job!r}: {name!r} could not be located in its {key} "
                              f"on line {item.dash + 1}")
            copies.extend(copy)
        edits.append(Edit(item.start, item.end, copies, name))
    return edits


def _references(node, lines: list[str]):
    """``(node, line)`` of every ``!reference`` in a job's mapping."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    from mason.yamlio import reference_path

    def walk(value, line):
        if reference_path(value) is not None:
            yield value, (value.lc.line if value.lc.line is not None else line)
            return
        if isinstance(value, CommentedMap):
            for k in value:
                yield from walk(value[k], value.lc.key(k)[0] if k in value.lc.data else line)
        elif isinstance(value, CommentedSeq):
            for i, item in enumerate(value):
                yield from walk(item, value.lc.item(i)[0] if i in value.lc.data else line)

    yield from walk(node, node.lc.line or 0)


__all__ = ["Edit", "rewrite_users", "trim_end"]
