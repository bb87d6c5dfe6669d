"""The packages of mason import one way: cli -> bake/ci -> executor -> the build's parts ->
images and transports -> pure values -> errors.

Every ``import`` in ``src/mason`` is read with ``ast`` — top-level, function-local and
``TYPE_CHECKING`` ones alike, since a function-local import is still a dependency (it only
hides a cycle from the interpreter, not from a reader). An import from a lower level to a
higher one, or between two packages of one level, must be in ``ALLOWED`` with its reason;
no set of packages may import each other in a cycle, whatever ``ALLOWED`` says. Inside the
executor and the cache no module cycle is allowed either, and a function-local import there
needs a comment saying what it buys (start-up time, an optional tool).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
ROOT = SRC / "mason"

# Lower number = higher up: a package may import packages of a larger number.
LEVELS: dict[str, int] = {
    "__main__": -1, "cli": 0,
    "bake": 1, "ci": 1,
    "executor": 2,
    "cache": 3, "snapshot": 3, "sandbox": 3, "fsops": 3, "context": 3,
    "image": 4, "registry": 4, "tarfs": 4, "erofs": 4, "fetch": 4,
    "oci": 5, "dockerfile": 5,
    "yamlio": 6, "tls": 6,
    "errors": 7, "cancel": 7, "lazyexports": 7, "mason": 7,  # "mason": the package itself (its version)
}

# Imports against the levels (or across one level) that have a reason; each one-way.
ALLOWED: dict[tuple[str, str], str] = {
    ("ci", "bake"): "mason ci generate writes a pipeline for a bake file",
    ("snapshot", "sandbox"): "the overlay snapshot mounts through the sandbox's mount(2) wrappers (sandbox.linux)",
    ("erofs", "sandbox"): "an EROFS layer image is mounted through the sandbox's mount(2) wrappers",
    ("sandbox", "fsops"): "the sandbox resolves mount targets inside the root with fsops' scoped paths",
    ("context", "fsops"): "a tar context is extracted and read as a SourceTree by fsops",
    ("image", "registry"): "remote image views and sinks talk to registries",
    ("erofs", "tarfs"): "an EROFS image is written from a layer tar read by tarfs",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in ROOT.rglob("*.py")}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "mason"


class _Import:
    def __init__(self, target: str, line: int, local: bool, commented: bool):
        self.target, self.line, self.local, self.commented = target, line, local, commented


def _resolve(name: str) -> str | None:
    """The mason module ``name`` refers to (the longest prefix that is a module)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def _commented(lines: list[str], node: ast.stmt) -> bool:
    """A comment on the import's own lines, or above its block of imports."""
    end = node.end_lineno or node.lineno
    if any("#" in lines[i - 1] for i in range(node.lineno, end + 1)):
        return True
    i = node.lineno - 1
    while i >= 1:
        text = lines[i - 1].strip()
        if text.startswith("#"):
            return True
        if text and not text.startswith(("from ", "import ")):
            return False
        if "#" in text:                 # a commented import heads this block
            return True
        i -= 1
    return False


def imports_of(module: str) -> list[_Import]:
    path = MODULES[module]
    text = path.read_text()
    lines = text.splitlines()
    tree = ast.parse(text)
    is_package = path.name == "__init__.py"
    out: list[_Import] = []

    def visit(node: ast.AST, local: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = module.split(".")
                    if not is_package:
                        base = base[:-1]
                    base = base[:len(base) - child.level + 1]
                    prefix = ".".join(base + ([child.module] if child.module else []))
                else:
                    prefix = child.module or ""
                names = [f"{prefix}.{a.name}" for a in child.names]
            else:
                visit(child, inner)
                continue
            for name in names:
                target = _resolve(name) if name.split(".")[0] == "mason" else None
                if target is not None and target != module:
                    out.append(_Import(target, child.lineno, local, _commented(lines, child)))
    visit(tree, False)
    return out


GRAPH = {module: imports_of(module) for module in MODULES}


def _package_edges() -> dict[tuple[str, str], list[str]]:
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for module, imports in GRAPH.items():
        for imp in imports:
            a, b = _package(module), _package(imp.target)
            if a != b:
                edges[(a, b)].append(f"{module}:{imp.line}")
    return edges


def _cycles(nodes: set[str], edges: set[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan)."""
    succ: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        succ[a].append(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in succ[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(nodes):
        if v not in index:
            strong(v)
    return found


def test_every_package_has_a_level():
    assert {_package(m) for m in MODULES} <= set(LEVELS)


def test_no_upward_or_sideways_import_without_a_reason():
    wrong = []
    for (a, b), where in sorted(_package_edges().items()):
        if LEVELS[b] <= LEVELS[a] and (a, b) not in ALLOWED:
            wrong.append(f"{a} -> {b} ({', '.join(where[:3])})")
    assert not wrong, "imports against the direction:\n" + "\n".join(wrong)


def test_every_allowed_exception_is_still_needed():
    edges = _package_edges()
    assert [pair for pair in ALLOWED if pair not in edges] == []


def test_no_import_cycle_between_packages():
    edges = set(_package_edges())
    assert _cycles({_package(m) for m in MODULES}, edges) == []


def test_errors_imports_nothing_from_mason():
    assert [imp.target for imp in GRAPH["mason.errors"]] == []


def test_no_module_cycle_inside_the_executor_and_the_cache():
    inside = {m for m in MODULES if _package(m) in ("executor", "cache")}
    edges = {(m, imp.target) for m in inside for imp in GRAPH[m] if imp.target in inside}
    assert _cycles(inside, edges) == []


def test_function_local_imports_in_the_executor_say_why():
    silent = [f"{m}:{imp.line}" for m in MODULES if _package(m) == "executor"
              for imp in GRAPH[m] if imp.local and not imp.commented]
    assert silent == []


def test_the_checker_sees_function_local_imports_and_cycles():
    """The checker itself: a function-local import is an edge, and a cycle is found."""
    assert any(imp.local for imp in GRAPH["mason.executor.executor"])
    assert _cycles({"a", "b", "c"}, {("a", "b"), ("b", "c"), ("c", "a")}) == [["a", "b", "c"]]
    assert _cycles({"a", "b"}, {("a", "b")}) == []
