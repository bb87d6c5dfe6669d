"""Package names imported from their module at first use (PEP 562).

A package whose ``__init__`` imports a heavy submodule makes every importer pay for it; an
all-cached build, say, needs no layer writer, Dockerfile checker or context fetcher. Such a
package lists those names with the module each lives in and installs the pair this returns as
its module-level ``__getattr__`` and ``__dir__``:

    __getattr__, __dir__ = lazy_exports(__name__, globals(), {"name": "package.module"})

The first access imports the module and binds the name in the package, so later accesses are
plain attribute reads. Type checkers see the names through ``if TYPE_CHECKING:`` imports.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_exports(package: str, namespace: dict[str, Any],
                 module_of: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` whose globals are ``namespace``:
    ``module_of`` maps each lazy name to the module that defines it."""

    def __getattr__(name: str) -> Any:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(module_of))

    return __getattr__, __dir__
