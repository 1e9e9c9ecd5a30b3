"""Reading a settings file without letting a malformed one hang, exhaust memory or end in a traceback.

PyYAML's ``safe_load`` is safe against code execution, not against size: aliases are shared when
loaded, so ``a: &a {x: 1, y: 1}``, ``b: &b {p: *a, q: *a}``, ... is a few hundred bytes that the
settings walk expands 2^n times (measured on ``main``: 1.5 GB and still growing after 15 s). Its
composer also recurses once per nesting level, so 100,000 nested ``[`` end in a ``RecursionError``.
:class:`BoundedLoader` measures the document as it would be expanded (aliases counted every time
they are used, merge keys included) before anything is constructed, and refuses what a settings
file never needs: more than :data:`MAX_NODES` values, nesting deeper than :data:`MAX_DEPTH`, or an
alias inside the node it names.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_BYTES = 1024 * 1024  # the example file is ~6 kB
MAX_NODES = 100_000  # values after alias expansion; the example file has ~150
MAX_DEPTH = 32  # the deepest real setting is 3 levels down (quality.project_presets.<id>)


class SettingsFileError(Exception):
    """A settings file that cannot be used, always one line."""


class BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses documents too deep or too large once aliases are expanded."""

    _depth = 0

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:  # noqa: N803 - PyYAML's name
        # Refused at the first "[" or "{" too many: the scanner would otherwise read all of 100,000
        # nested "[" (each a possible simple key, rescanned per token) before the composer saw any.
        if self.flow_level >= MAX_DEPTH:
            mark = self.get_mark()
            raise SettingsFileError(f"nested deeper than {MAX_DEPTH} levels (line {mark.line + 1})")
        super().fetch_flow_collection_start(TokenClass)

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise SettingsFileError(f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self) -> Node | None:
        node = super().get_single_node()
        if node is not None:
            _ExpandedSize().measure(node, 1)
        return node  # type: ignore[no-any-return]


class _ExpandedSize:
    """Size and depth of a node tree as its consumer sees it: an alias counts as a full copy.

    Memoized per node, so a bomb is measured in time linear in its text, not in its expansion."""

    def __init__(self) -> None:
        self.known: dict[int, tuple[int, int]] = {}  # id(node) -> (values, height)
        self.open: set[int] = set()

    def measure(self, node: Node, depth: int) -> int:
        key = id(node)
        if key in self.known:
            size, height = self.known[key]
        elif key in self.open:
            raise SettingsFileError("an alias refers to the node that contains it")
        else:
            self.open.add(key)
            size, height = self._measure_children(node, depth)
            self.open.discard(key)
            self.known[key] = (size, height)
        if depth + height - 1 > MAX_DEPTH:
            raise SettingsFileError(f"nested deeper than {MAX_DEPTH} levels once aliases are expanded")
        if size > MAX_NODES:
            raise SettingsFileError(f"aliases expand to more than {MAX_NODES:,} values (a YAML bomb?)")
        return size

    def _measure_children(self, node: Node, depth: int) -> tuple[int, int]:
        if isinstance(node, MappingNode):
            children = [child for pair in node.value for child in pair]
        elif isinstance(node, SequenceNode):
            children = list(node.value)
        else:
            return 1, 1
        size, height = 1, 1
        for child in children:
            size += self.measure(child, depth + 1)
            height = max(height, 1 + self.known[id(child)][1])
            if size > MAX_NODES:
                break
        return size, height


def read_settings_file(path: str | os.PathLike[str]) -> Any:
    """The YAML document in ``path``, or SettingsFileError with one line saying what is wrong."""
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise SettingsFileError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_BYTES:
        raise SettingsFileError(f"{path} is larger than {MAX_BYTES // 1024} kB; is it the settings file?")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SettingsFileError(
            f"{path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None
    try:
        return yaml.load(text, Loader=BoundedLoader)  # noqa: S506 - a SafeLoader with limits
    except SettingsFileError as exc:
        raise SettingsFileError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None)
        raise SettingsFileError(
            f"{path} is not valid YAML{where}{f': {problem}' if problem else ''}"
        ) from None
