"""What the feature command groups (``lsqa gold|agreement|relabel|audit-log|audit``) share: the shape
of their handlers and how a sub-command is registered."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from plugin.settings import Settings
from plugin.store import Store

# Gives a migrated store for the command and closes it afterwards.
StoreFactory = Callable[[Settings], AbstractContextManager[Store]]
Handler = Callable[[Settings, argparse.Namespace, StoreFactory], int]


def add_verb(
    verbs: Any, name: str, handler: Handler, help_text: str, store_factory: StoreFactory
) -> argparse.ArgumentParser:
    """Add sub-command ``name`` (with ``--config``) whose ``func(settings, args)`` calls ``handler``."""
    command: argparse.ArgumentParser = verbs.add_parser(name, help=help_text)
    command.add_argument("--config", "-c", default=argparse.SUPPRESS, help="YAML settings file")
    command.set_defaults(func=lambda settings, args: handler(settings, args, store_factory))
    return command
