"""The bake file model: load, validate strictly, merge defaults, order by dependencies.

Format (version 1)::

    version: 1
    defaults:                 # optional, merged into every image; the image's own keys win,
      cache: true             # build_args and labels merge key by key
      cache_repo: registry.example.com/group/cache
      build_args: {GO_VERSION: "1.22"}
    images:
      image-a:
        context: .                      # relative to the bake file's directory (or a URL)
        dockerfile: a/Dockerfile        # relative to the context; default Dockerfile
        destinations: [registry.example.com/group/image-a:latest]
        build_args: {K: V}
        target: final
        platform: linux/amd64         # or platforms: [linux/amd64, linux/arm64] (mason ci generate:
                                      # one job per platform, then an index job; mason bake refuses it)
        labels: {k: v}
        depends_on: [base]
        cache: true
        cache_repo: registry.example.com/group/cache
        no_push: false
        reproducible: false           # strip timestamps (--reproducible): a rebuild from cached
                                      # layers gives the same digest, so images built on it hit too

Every unknown key, wrong type, unknown dependency or dependency cycle is an error naming the
file, the line and the key: a typo must never silently drop a setting.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from mason.errors import UsageError

IMAGE_KEYS = ("context", "dockerfile", "destinations", "build_args", "target", "platform", "labels",
              "depends_on", "cache", "cache_repo", "no_push", "reproducible", "platforms", "entitlements")
DEFAULT_KEYS = tuple(k for k in IMAGE_KEYS if k not in ("destinations", "depends_on"))
TOP_KEYS = ("version", "defaults", "images")
_STR_KEYS = ("context", "dockerfile", "target", "platform", "cache_repo")
_MAP_KEYS = ("build_args", "labels")
_LIST_KEYS = ("destinations", "depends_on", "platforms", "entitlements")
_BOOL_KEYS = ("cache", "no_push", "reproducible")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_URL_CONTEXT = re.compile(r"^[a-z][a-z0-9+.-]*://")


@dataclass(frozen=True)
class ImageSpec:
    """One image, defaults already merged in."""

    name: str
    context: str = "."
    dockerfile: str = "Dockerfile"
    destinations: tuple[str, ...] = ()
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    platform: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    cache: bool = False
    cache_repo: str | None = None
    no_push: bool = False
    reproducible: bool = False
    platforms: tuple[str, ...] = ()
    entitlements: tuple[str, ...] = ()    # what its RUNs may ask for, if --allow grants it (bake.entitlements)
    line: int = 0

    @property
    def context_is_url(self) -> bool:
        return bool(_URL_CONTEXT.match(self.context))


@dataclass(frozen=True)
class BakeFile:
    path: Path
    version: int
    images: dict[str, ImageSpec]

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def context_dir(self, name: str) -> Path:
        """The local build context of ``name`` (not for URL contexts)."""
        image = self.images[name]
        if image.context_is_url:
            raise UsageError(f"{self.path}: image {name!r}: context {image.context!r} is a URL, not a directory")
        return self.base_dir / image.context

    def dockerfile_path(self, name: str) -> Path:
        return self.context_dir(name) / self.images[name].dockerfile

    def levels(self) -> list[list[str]]:
        """Images grouped so each group depends only on earlier groups (file order inside a group)."""
        depth: dict[str, int] = {}

        def visit(name: str) -> int:
            if name not in depth:
                deps = self.images[name].depends_on
                depth[name] = 1 + max((visit(d) for d in deps), default=-1)
            return depth[name]

        for name in self.images:
            visit(name)
        groups: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
        for name in self.images:
            groups[depth[name]].append(name)
        return groups

    def order(self) -> list[str]:
        return [name for group in self.levels() for name in group]


def load_bake(path: Path | str) -> BakeFile:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such bake file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    return parse_bake(text, path)


def parse_bake(text: str, path: Path | str = Path("mason.bake.yml")) -> BakeFile:
    from mason.yamlio import load_text

    path = Path(path)
    file = str(path)
    doc = load_text(text, file)
    if not _is_map(doc):
        raise UsageError(f"{file}:1: a bake file is a mapping with version, defaults and images")
    _known_keys(doc, TOP_KEYS, file, "")
    if "version" not in doc:
        raise UsageError(f"{file}:1: missing 'version' (write version: 1)")
    version = doc["version"]
    if version != 1 or isinstance(version, bool):
        raise UsageError(f"{file}:{_vline(doc, 'version')}: version: unsupported bake file version {version!r} "
                         f"(this mason reads version 1)")
    defaults: dict = {}
    if "defaults" in doc and doc["defaults"] is not None:
        defaults = _fields(doc["defaults"], DEFAULT_KEYS, file, "defaults", _vline(doc, "defaults"))
    images_node = doc.get("images")
    if not _is_map(images_node) or not images_node:
        line = _vline(doc, "images") if "images" in doc else 1
        raise UsageError(f"{file}:{line}: 'images' must be a non-empty mapping of image name to settings")
    images: dict[str, ImageSpec] = {}
    for name in images_node:
        line = images_node.lc.key(name)[0] + 1
        if not isinstance(name, str) or not _NAME.match(name):
            raise UsageError(f"{file}:{line}: image name {name!r} must match [A-Za-z0-9][A-Za-z0-9._-]*")
        own = _fields(images_node[name], IMAGE_KEYS, file, f"images.{name}", line)
        merged = {**defaults, **own}
        for mine, other in (("platform", "platforms"), ("platforms", "platform")):
            if mine in own and other not in own:
                merged.pop(other, None)      # the image's own choice wins over the defaults' other key
        for key in _MAP_KEYS:
            merged[key] = {**defaults.get(key, {}), **own.get(key, {})}
        merged = {k: (tuple(v) if k in _LIST_KEYS else v) for k, v in merged.items()}
        if "entitlements" in merged:
            from mason.bake.entitlements import check_names

            merged["entitlements"] = check_names(merged["entitlements"], f"{file}:{line}: image {name!r}")
        images[name] = ImageSpec(name=name, line=line, **merged)
        _check_platforms(images[name], file)
        if not images[name].destinations and not images[name].no_push:
            raise UsageError(f"{file}:{line}: image {name!r} has no destinations",
                             hint="add destinations: [registry/repo:tag], or no_push: true to only build it")
    _check_graph(images, file)
    _check_destinations(images, file)
    return BakeFile(path=path, version=1, images=images)


def _check_platforms(image: ImageSpec, file: str) -> None:
    from mason.errors import MasonError
    from mason.oci.platform import parse_platform

    where = f"{file}:{image.line}: image {image.name!r}"
    if image.platform and image.platforms:
        raise UsageError(f"{where}: give platform (one) or platforms (several), not both")
    seen: dict[str, str] = {}
    for text in image.platforms:
        try:
            normal = str(parse_platform(text))
        except MasonError as exc:
            raise UsageError(f"{where}: platforms: {exc}") from None
        if normal in seen:
            raise UsageError(f"{where}: platforms lists {normal} twice ({seen[normal]!r}, {text!r})")
        seen[normal] = text


def _is_map(node) -> bool:
    from ruamel.yaml.comments import CommentedMap

    return isinstance(node, CommentedMap)


def _vline(node, key) -> int:
    return node.lc.key(key)[0] + 1


def _known_keys(node, allowed: tuple[str, ...], file: str, where: str) -> None:
    for key in node:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (allowed: {', '.join(allowed)})"
            prefix = f"{where}: " if where else ""
            extra = (" ('destinations' and 'depends_on' belong to each image)"
                     if where == "defaults" and key in IMAGE_KEYS else hint)
            raise UsageError(f"{file}:{_vline(node, key)}: {prefix}unknown key {key!r}{extra}")


def _fields(node, allowed: tuple[str, ...], file: str, where: str, line: int) -> dict:
    if node is None:
        return {}
    if not _is_map(node):
        raise UsageError(f"{file}:{line}: {where} must be a mapping")
    _known_keys(node, allowed, file, where)
    out: dict = {}
    for key in node:
        value = node[key]
        kline = _vline(node, key)
        label = f"{file}:{kline}: {where}.{key}"
        if key in _STR_KEYS:
            out[key] = _string(value, label)
        elif key in _BOOL_KEYS:
            if not isinstance(value, bool):
                raise UsageError(f"{label} must be true or false, got {value!r}")
            out[key] = value
        elif key in _LIST_KEYS:
            if not isinstance(value, list):
                raise UsageError(f"{label} must be a list of strings", hint=f"write {key}: [{value}]")
            out[key] = [_string(v, f"{label}[{i}]") for i, v in enumerate(value)]
        elif key in _MAP_KEYS:
            if not _is_map(value):
                raise UsageError(f"{label} must be a mapping of names to strings")
            out[key] = {}
            for k in value:
                if not isinstance(k, str) or not k or "=" in k:
                    raise UsageError(f"{file}:{_vline(value, k)}: {where}.{key}: invalid name {k!r}")
                out[key][k] = _string(value[k], f"{file}:{_vline(value, k)}: {where}.{key}.{k}",
                                      hint='quote the value, e.g. GO_VERSION: "1.20" (YAML reads 1.20 as 1.2)',
                                      allow_empty=True)
    if "dockerfile" in out and PurePosixPath(out["dockerfile"]).is_absolute():
        raise UsageError(f"{file}:{_vline(node, 'dockerfile')}: {where}.dockerfile must be relative to the context")
    return out


def _string(value, label: str, hint: str | None = None, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise UsageError(f"{label} must be a string, got {type(value).__name__} {value!r}", hint=hint)
    if not value and not allow_empty:
        raise UsageError(f"{label} must not be empty")
    if "\n" in value or "\r" in value:
        raise UsageError(f"{label} must not contain a newline")
    return str(value)


def _check_graph(images: dict[str, ImageSpec], file: str) -> None:
    for image in images.values():
        for dep in image.depends_on:
            if dep not in images:
                close = difflib.get_close_matches(dep, list(images), n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"images: {', '.join(images)}"
                raise UsageError(f"{file}:{image.line}: image {image.name!r} depends on unknown image {dep!r}",
                                 hint=hint)
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = path[path.index(name):] + [name]
            raise UsageError(f"{file}:{images[name].line}: dependency cycle: {' -> '.join(cycle)}")
        state[name] = 1
        for dep in images[name].depends_on:
            visit(dep, path + [name])
        state[name] = 2

    for name in images:
        visit(name, [])


def _check_destinations(images: dict[str, ImageSpec], file: str) -> None:
    seen: dict[str, str] = {}
    for image in images.values():
        for dest in image.destinations:
            if dest in seen:
                raise UsageError(f"{file}:{image.line}: images {seen[dest]!r} and {image.name!r} both push {dest}")
            seen[dest] = image.name
