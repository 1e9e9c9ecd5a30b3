"""Guess a label config from Label Studio results when the audit is not given one.

Each result names its control (``from_name``), its object (``to_name``) and its kind (``type``, the
control tag in lower case). The object's type is not in the result; it follows from the value: a
span (``start``/``end``) is on text, anything with coordinates on an image, a classification on
whatever it is (which does not change how it is scored). ``Choices`` allow several answers when
any result holds several.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from plugin.labelconfig import SUPPORTED_CONTROLS, ControlTag, LabelConfig

_IMAGE_TAGS = frozenset(k for k, objects in SUPPORTED_CONTROLS.items() if objects == {"image"})


def infer_label_config(results: Iterable[Mapping[str, Any]]) -> LabelConfig:
    """A :class:`LabelConfig` with one control per ``from_name`` whose ``type`` can be scored.

    Examples
    --------
    >>> config = infer_label_config([
    ...     {"from_name": "box", "to_name": "img", "type": "rectanglelabels",
    ...      "value": {"x": 1, "y": 1, "width": 2, "height": 2, "rectanglelabels": ["Car"]}},
    ...     {"from_name": "ner", "to_name": "txt", "type": "labels",
    ...      "value": {"start": 0, "end": 4, "labels": ["PER"]}}])
    >>> [(c.name, c.tag, c.object_tag, c.labels) for c in config.controls.values()]
    [('box', 'rectanglelabels', 'image', ('Car',)), ('ner', 'labels', 'text', ('PER',))]
    """
    seen: dict[str, dict[str, Any]] = {}
    for result in results:
        name, tag = result.get("from_name"), str(result.get("type") or "").lower()
        value = result.get("value")
        if not isinstance(name, str) or tag not in SUPPORTED_CONTROLS or not isinstance(value, Mapping):
            continue
        entry = seen.setdefault(
            name, {"tag": tag, "to_name": str(result.get("to_name") or ""), "labels": {}, "multiple": False}
        )
        if entry["tag"] != tag:
            continue  # a region's labels part (e.g. ``labels`` beside ``rectangle``) keeps the first kind
        if "start" in value and "end" in value and "x" not in value:
            entry["object"] = "text"
        options = value.get(tag) if tag != "taxonomy" else None
        if isinstance(options, list):
            entry["labels"].update(dict.fromkeys(o for o in options if isinstance(o, str)))
            entry["multiple"] |= tag == "choices" and len(options) > 1
    objects: dict[str, str] = {}
    controls: dict[str, ControlTag] = {}
    for name, entry in seen.items():
        tag = entry["tag"]
        object_tag = entry.get("object") or ("image" if tag in _IMAGE_TAGS or tag == "labels" else "text")
        objects.setdefault(entry["to_name"], object_tag)
        controls[name] = ControlTag(
            name=name,
            tag=tag,
            to_name=(entry["to_name"],),
            object_tag=object_tag,
            labels=tuple(entry["labels"]),
            multiple=tag == "taxonomy" or entry["multiple"],
        )
    return LabelConfig(MappingProxyType(controls), MappingProxyType(objects))
