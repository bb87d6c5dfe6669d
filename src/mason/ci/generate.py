"""``mason ci generate``: a GitLab CI child pipeline from a bake file.

One job per image, each its own container (so even Kaniko would be safe), all extending one
hidden template that runs mason's image. Jobs start as soon as the images they build on are
pushed (``needs:``; roots get ``needs: []``), so independent images build in parallel on as
many runners as there are, and stages follow the dependency depth so the pipeline is valid
on GitLab versions without same-stage ``needs``. Dependencies are the bake file's
``depends_on`` plus what the Dockerfiles say (``mason.bake.deps``: a ``FROM`` or ``COPY
--from`` naming another image's destination, compared symbolically when the destination is
written with CI variables such as ``${CI_REGISTRY_IMAGE}``). Every job with the cache on uses
the bake file's one ``cache_repo``: the registry is the only cache runners share, so a rerun
of the pipeline finds the layers the last run pushed. ``runner_tags`` maps a platform to the
runner tags of the machines that build it natively (GitLab's ``tags:``).

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


def index_stage(depth: int) -> str:
    """Where the index jobs of one depth run: after its per-platform builds, before the next depth."""
    return f"index-{depth + 1}"


def platform_job_name(image: str, platform: str) -> str:
    from mason.ci.platforms import platform_slug

    return f"build-{image}-{platform_slug(platform)}"


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


def build_command(bake: BakeFile, name: str, root: Path, platform: str | None = None) -> list[str]:
    """``mason build`` argv (already shell-quoted words) for one image, or one platform of it."""
    from mason.ci.platforms import platform_reference

    image = bake.images[name]
    context, dockerfile = _paths(bake, image, root)
    words = ["mason", "build", "--context", shell_quote(context), "--dockerfile", shell_quote(dockerfile)]
    if platform is not None:
        if image.no_push or not image.destinations:
            raise UsageError(f"{bake.path}:{image.line}: image {name!r}: platforms need destinations to push each "
                             f"platform's image to (no_push cannot be assembled into an index)")
        destinations = [platform_reference(image.destinations[0], platform, f"{bake.path}:{image.line}")]
    else:
        destinations = list(image.destinations)
    for dest in destinations:
        words += ["--destination", shell_quote(dest)]
    if image.no_push:
        words.append("--no-push")
    if image.reproducible:
        words.append("--reproducible")
    if image.target:
        words += ["--target", shell_quote(image.target)]
    chosen = platform or image.platform
    if chosen:
        words += ["--custom-platform", shell_quote(chosen)]
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
                      source: str | None = None, runner_tags: dict[str, list[str]] | None = None) -> str:
    """The child pipeline's YAML text."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, FoldedScalarString

    from mason.bake.deps import with_inferred_dependencies

    runner_tags = dict(runner_tags or {})
    built = {p for image in bake.images.values() for p in (image.platform, *image.platforms) if p}
    unused = set(runner_tags) - built
    if unused:
        raise UsageError(f"--runner-tag {sorted(unused)[0]}=...: no image of {bake.path} builds that platform",
                         hint="set platform: on the images that runners of that platform build")
    bake, inferred = with_inferred_dependencies(bake)
    root = bake.base_dir if root is None else root
    levels = bake.levels()
    depth = {name: d for d, group in enumerate(levels) for name in group}
    multi = {d for d, group in enumerate(levels) if any(bake.images[n].platforms for n in group)}
    stages = [s for d in range(len(levels)) for s in ([stage_name(d)] + ([index_stage(d)] if d in multi else []))]
    sections: list[tuple[str, object]] = [
        ("stages", stages),
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
    def job(stage: str, needs_jobs, tags, script) -> CommentedMap:
        out = CommentedMap()
        out["extends"] = TEMPLATE
        out["stage"] = stage
        needs = CommentedSeq(needs_jobs)
        needs.fa.set_flow_style()
        out["needs"] = needs
        if tags:
            out["tags"] = list(tags)
        out["script"] = script
        return out

    for name in bake.order():
        image = bake.images[name]
        deps = [job_name(d) for d in image.depends_on]
        if not image.platforms:
            words = build_command(bake, name, root)
            sections.append((job_name(name), job(stage_name(depth[name]), deps, runner_tags.get(image.platform or ""),
                                                 [_folded(words, FoldedScalarString)])))
            continue
        per_platform = []
        for platform in image.platforms:
            words = build_command(bake, name, root, platform)
            per_platform.append((platform_job_name(name, platform), words[words.index("--destination") + 1]))
            sections.append((per_platform[-1][0], job(stage_name(depth[name]), deps, runner_tags.get(platform),
                                                      [_folded(words, FoldedScalarString)])))
        script = [_folded(["mason", "manifest", "create", shell_quote(dest), *(ref for _, ref in per_platform)],
                          FoldedScalarString, head=3) for dest in image.destinations]
        sections.append((job_name(name), job(index_stage(depth[name]), [j for j, _ in per_platform], None, script)))
    per = "one job per image" + (" (per platform, plus an index job, for images with platforms)"
                                 if any(image.platforms for image in bake.images.values()) else "")
    header = (f"# Generated by `mason ci generate {source or bake.path.name}`: {per}.\n"
              f"# Edit the bake file and regenerate; changes made here are lost.\n")
    for name, added in inferred.items():
        header += (f"# {job_name(name)} needs {', '.join(job_name(d) for d in added)}: its Dockerfile builds on "
                   f"{'their destinations' if len(added) > 1 else 'its destination'}.\n")
    return header + "\n".join(_dump({key: value}) for key, value in sections)


def _folded(words: list[str], folded_type, head: int = 2):
    """``mason build`` then one ``--flag value`` pair per line, as a ``>-`` block."""
    parts = [" ".join(words[:head])]
    i = head
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
