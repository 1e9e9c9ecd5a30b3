"""This feature's ``lsqa`` sub-commands (placeholder)."""

from typing import Any


def add_commands(subparsers: Any, store_factory: Any) -> None:
    """Register sub-commands; each handler has the ``func(settings, args)`` shape."""
