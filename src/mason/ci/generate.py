"""``mason ci generate``: a GitLab CI child pipeline from a bake file.

One job per image, each its own container (so even Kaniko would be safe), all extending one
hidden template that runs mason's image. Jobs start as soon as the images they build on are
pushed (``needs:``; roots get ``needs: []``), and stages follow the dependency depth so the
pipeline is valid on GitLab versions without same-stage ``needs``. Every job with the cache
on uses the bake file's one ``cache_repo``: the registry is the only cache runners share.

Values from the bake file are double-quoted for the shell: ``$VAR``/``${VAR}`` still expand
(destinations usually use ``$CI_REGISTRY_IMAGE``) but ``$(...)``, backticks, quotes and
backslashes are escaped, so no value can run a command or break the line.
"""

from __future__ import annotations

import io
import posixpath
from pathlib import Path

from mason.bake.model import BakeFile, ImageSpec
from mason.errors import UsageError

# mason's published CI image, its debug variant: the generated jobs need a shell for
# before_script (the default variant has none, as Kaniko's). A pipeline variable, to pin or mirror.
DEFAULT_MASON_IMAGE = "registry.gitlab.com/mason-build/mason:debug"
TEMPLATE = ".mason-build"
AUTH_LINE = ('echo "{\\"auths\\":{\\"${CI_REGISTRY}\\":{\\"auth\\":\\"$(printf "%s:%s" "${CI_REGISTRY_USER}" '
             '"${CI_REGISTRY_PASSWORD}" | base64 | tr -d \'\\n\')\\"}}}" > "${DOCKER_CONFIG}/config.json"')


def job_name(image: str) -> str:
    return f"build-{image}"


def stage_name(depth: int) -> str:
    return f"build-{depth + 1}"


def shell_quote(value: str) -> str:
    """Double quotes keeping ``$VAR`` expansion but not command substitution."""
    out = []
    for i, ch in enumerate(value):
        if ch in '"\\`':
            out.append("\\" + ch)
        elif ch == "$" and value[i + 1:i + 2] in ("(", ""):
            out.append("\\$")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def build_command(bake: BakeFile, name: str, root: Path) -> list[str]:
    """``mason build`` argv (already shell-quoted words) for one image."""
    image = bake.images[name]
    context, dockerfile = _paths(bake, image, root)
    words = ["mason", "build", "--context", shell_quote(context), "--dockerfile", shell_quote(dockerfile)]
    for dest in image.destinations:
        words += ["--destination", shell_quote(dest)]
    if image.no_push:
        words.append("--no-push")
    if image.target:
        words += ["--target", shell_quote(image.target)]
    if image.platform:
        words += ["--custom-platform", shell_quote(image.platform)]
    for key, value in image.build_args.items():
        words += ["--build-arg", shell_quote(f"{key}={value}")]
    for key, value in image.labels.items():
        words += ["--label", shell_quote(f"{key}={value}")]
    if image.cache:
        if not image.cache_repo:
            raise UsageError(f"{bake.path}:{image.line}: image {name!r} enables the cache without cache_repo; "
                             f"jobs run on different runners and share a cache only through a registry",
                             hint="set defaults.cache_repo: REGISTRY/GROUP/cache")
        words += ["--cache=true", "--cache-repo", shell_quote(image.cache_repo)]
    return words


def _paths(bake: BakeFile, image: ImageSpec, root: Path) -> tuple[str, str]:
    if image.context_is_url:
        return image.context, image.dockerfile
    ctx_abs = Path(posixpath.normpath((bake.base_dir / image.context).absolute().as_posix()))
    root_abs = Path(posixpath.normpath(root.absolute().as_posix()))
    try:
        rel = ctx_abs.relative_to(root_abs).as_posix()
    except ValueError:
        raise UsageError(f"{bake.path}:{image.line}: image {image.name!r}: context {image.context!r} is outside "
                         f"the repository root {root}", hint="pass --root with the repository's top directory") from None
    context = "${CI_PROJECT_DIR}" if rel in ("", ".") else f"${{CI_PROJECT_DIR}}/{rel}"
    dockerfile = posixpath.normpath(posixpath.join(rel, image.dockerfile))
    if dockerfile.startswith("../"):
        raise UsageError(f"{bake.path}:{image.line}: image {image.name!r}: dockerfile {image.dockerfile!r} is "
                         f"outside the repository root {root}")
    return context, f"${{CI_PROJECT_DIR}}/{dockerfile}"


def generate_pipeline(bake: BakeFile, *, root: Path | None = None, mason_image: str = DEFAULT_MASON_IMAGE,
                      source: str | None = None) -> str:
    """The child pipeline's YAML text."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, FoldedScalarString

    root = bake.base_dir if root is None else root
    levels = bake.levels()
    depth = {name: d for d, group in enumerate(levels) for name in group}
    sections: list[tuple[str, object]] = [
        ("stages", [stage_name(d) for d in range(len(levels))]),
        ("variables", CommentedMap([("MASON_IMAGE", DoubleQuotedScalarString(mason_image))])),
    ]
    entrypoint = CommentedSeq([DoubleQuotedScalarString("")])
    entrypoint.fa.set_flow_style()
    template = CommentedMap()
    template["image"] = CommentedMap([("name", DoubleQuotedScalarString("${MASON_IMAGE}")),
                                      ("entrypoint", entrypoint)])
    template["variables"] = CommentedMap([("DOCKER_CONFIG", "/kaniko/.docker")])
    template["before_script"] = ['mkdir -p "${DOCKER_CONFIG}"', AUTH_LINE]
    sections.append((TEMPLATE, template))
    for name in bake.order():
        words = build_command(bake, name, root)
        job = CommentedMap()
        job["extends"] = TEMPLATE
        job["stage"] = stage_name(depth[name])
        needs = CommentedSeq(job_name(d) for d in bake.images[name].depends_on)
        needs.fa.set_flow_style()
        job["needs"] = needs
        job["script"] = [_folded(words, FoldedScalarString)]
        sections.append((job_name(name), job))
    header = (f"# Generated by `mason ci generate {source or bake.path.name}`: one job per image.\n"
              f"# Edit the bake file and regenerate; changes made here are lost.\n")
    return header + "\n".join(_dump({key: value}) for key, value in sections)


def _folded(words: list[str], folded_type):
    """``mason build`` then one ``--flag value`` pair per line, as a ``>-`` block."""
    parts = [" ".join(words[:2])]
    i = 2
    while i < len(words):
        if words[i].startswith("--") and "=" not in words[i] and i + 1 < len(words) and not words[i + 1].startswith("--"):
            parts.append(f"{words[i]} {words[i + 1]}")
            i += 2
        else:
            parts.append(words[i])
            i += 1
    text = " ".join(parts)
    folded = folded_type(text)
    positions, offset = [], 0
    for part in parts[:-1]:
        offset += len(part)
        positions.append(offset)
        offset += 1
    folded.fold_pos = positions
    return folded


def _dump(data) -> str:
    from mason.yamlio import make_yaml

    out = io.StringIO()
    make_yaml().dump(data, out)
    return out.getvalue()
