"""``mason version``."""

from __future__ import annotations


def configure(parser) -> None:
    pass


def run(args) -> int:
    from mason import __version__

    print(f"mason {__version__}")
    return 0
