"""Sort Label Studio result dicts by the control tag that scores them; merge region parts by id.

A region drawn with a geometry tag and labelled through a separate ``Labels`` tag arrives as
several results sharing one ``id`` (one per tag); ``RectangleLabels`` and friends carry geometry and
labels in one result. Both shapes become one :class:`Region` owned by the geometry tag.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from plugin.labelconfig import ControlTag, LabelConfig

GEOMETRY_KIND = {
    "rectanglelabels": "rectangle",
    "rectangle": "rectangle",
    "polygonlabels": "polygon",
    "polygon": "polygon",
    "keypointlabels": "keypoint",
    "keypoint": "keypoint",
    "brushlabels": "brush",
    "brush": "brush",
}
LABEL_KEYS = ("rectanglelabels", "polygonlabels", "keypointlabels", "brushlabels", "labels")
NOT_AN_OBJECT = "<result item that is not an object>"  # listed in ``skipped`` for such items


@dataclass(frozen=True)
class Region:
    """One region (box, polygon, keypoint, mask or text span) with its label.

    ``label`` is the region's class; several labels on one region are joined with ``+`` in sorted
    order, and a region without labels has ``label == ""``. ``value`` is the merged Label Studio
    ``value``; ``width``/``height`` the ``original_width``/``original_height`` (None if absent).
    """

    id: str | None
    label: str
    value: Mapping[str, Any]
    width: float | None = None
    height: float | None = None


@dataclass(frozen=True)
class CollectedResults:
    """Results by control tag name: ``Region`` objects for region tags, ``value`` dicts otherwise."""

    items: Mapping[str, list[Any]] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()


def is_region_tag(control: ControlTag) -> bool:
    """Whether results of this control are regions (geometry, or labels on an image or text)."""
    return control.tag in GEOMETRY_KIND or control.tag == "labels"


def _label_of(value: Mapping[str, Any]) -> str:
    lists = [value.get(key) for key in LABEL_KEYS]
    labels = sorted(
        {label for names in lists if isinstance(names, list) for label in names if isinstance(label, str)}
    )
    return "+".join(labels)


def _kind_of(value: Mapping[str, Any]) -> str | None:
    if "points" in value:
        return "polygon"
    if "rle" in value:
        return "brush"
    if {"x", "y", "width", "height"} <= value.keys():
        return "rectangle"
    return "keypoint" if {"x", "y"} <= value.keys() else None


def _owner(parts: list[dict[str, Any]], value: Mapping[str, Any], config: LabelConfig) -> ControlTag | None:
    """The geometry tag owning a merged region: the one among its parts, else the only one that fits."""
    controls = [config.controls[p["from_name"]] for p in parts]
    owners = [c for c in controls if c.tag in GEOMETRY_KIND]
    if owners:
        return owners[0]
    if controls[0].object_tag == "text":
        return controls[0]
    kind, to_name = _kind_of(value), parts[0].get("to_name")
    fits = [
        c
        for c in config.controls.values()
        if GEOMETRY_KIND.get(c.tag) == kind and (to_name is None or to_name in c.to_name)
    ]
    return fits[0] if len(fits) == 1 else None


def _region(parts: list[dict[str, Any]], value: Mapping[str, Any]) -> Region:
    first = parts[0]
    return Region(
        id=first.get("id"),
        label=_label_of(value),
        value=value,
        width=first.get("original_width"),
        height=first.get("original_height"),
    )


def _value_of(result: Mapping[str, Any]) -> Mapping[str, Any]:
    value = result.get("value")
    return value if isinstance(value, Mapping) else {}


def _hashable(key: Any) -> Any:
    """A region key part: ids and names are strings; anything else is compared by its text."""
    return key if key is None or isinstance(key, str | int) else repr(key)


def collect_results(results: Iterable[Mapping[str, Any]], config: LabelConfig) -> CollectedResults:
    """Group one annotation's results by scoring control tag.

    Results whose ``from_name`` is not a supported control of ``config`` (or a region no geometry
    tag can own) are listed in ``skipped`` by name.
    """
    items: dict[str, list[Any]] = {}
    skipped: list[str] = []
    region_parts: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for position, result in enumerate(results):
        if not isinstance(result, Mapping):  # stored answers come from outside: never trust their shape
            skipped.append(NOT_AN_OBJECT)
            continue
        name = result.get("from_name")
        control = config.controls.get(name) if isinstance(name, str) else None
        if control is None:
            skipped.append(str(name))
        elif is_region_tag(control):
            # Results without an id cannot be parts of one region: key them by position.
            key = (_hashable(result.get("to_name")), _hashable(result.get("id")) or f"#{position}")
            region_parts.setdefault(key, []).append(dict(result))
        else:
            items.setdefault(control.name, []).append(_value_of(result))
    for parts in region_parts.values():
        value: dict[str, Any] = {}
        for part in parts:
            value.update(_value_of(part))
        owner = _owner(parts, value, config)
        if owner is None:
            skipped.extend(p["from_name"] for p in parts)
        else:
            items.setdefault(owner.name, []).append(_region(parts, value))
    return CollectedResults(items, tuple(dict.fromkeys(skipped)))
