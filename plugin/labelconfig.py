"""Parse a Label Studio label config (``<View>`` XML) into the control tags the scoring engine knows.

Control tags are what annotators fill in (``Choices``, ``RectangleLabels``...); object tags are
what they look at (``Image``, ``Text``...). A control tag we cannot score -- an unknown tag, a known
control such as ``Relations``, or a known control on an object we do not support -- is reported in
:attr:`LabelConfig.unsupported` by name and skipped, never an error.

See https://labelstud.io/tags/ for the tags and their attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from xml.etree.ElementTree import Element, ParseError

# defusedxml (installed with label-studio-sdk) refuses DTDs, entity expansion and external references.
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

# Control tags we score, and the object tags each may target.
SUPPORTED_CONTROLS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "choices": frozenset({"text", "image", "hypertext", "audio", "video", "table", "paragraphs"}),
        "taxonomy": frozenset({"text", "image", "hypertext", "audio", "video", "table", "paragraphs"}),
        "rating": frozenset({"text", "image", "hypertext", "audio", "video", "table", "paragraphs"}),
        "number": frozenset({"text", "image", "hypertext", "audio", "video", "table", "paragraphs"}),
        "textarea": frozenset({"text", "image", "hypertext", "audio", "video", "table", "paragraphs"}),
        "datetime": frozenset({"text", "image", "hypertext", "audio", "video", "table", "paragraphs"}),
        "labels": frozenset({"text", "image"}),
        "rectanglelabels": frozenset({"image"}),
        "rectangle": frozenset({"image"}),
        "polygonlabels": frozenset({"image"}),
        "polygon": frozenset({"image"}),
        "keypointlabels": frozenset({"image"}),
        "keypoint": frozenset({"image"}),
        "brushlabels": frozenset({"image"}),
        "brush": frozenset({"image"}),
    }
)
OBJECT_TAGS = frozenset(
    {
        "image",
        "text",
        "hypertext",
        "audio",
        "audioplus",
        "video",
        "timeseries",
        "paragraphs",
        "table",
        "pdf",
        "markdown",
        "list",
        "chat",
    }
)
# Layout and option tags: neither objects nor controls.
LAYOUT_TAGS = frozenset(
    {"view", "header", "style", "filter", "collapse", "panel", "choice", "label", "channel", "relation"}
)


class LabelConfigError(ValueError):
    """The label config is not well-formed or unsafe XML."""


@dataclass(frozen=True)
class ControlTag:
    """One control tag: what the annotator fills in, and how its answers are compared.

    Attributes
    ----------
    name : str
        The tag's ``name`` (results refer to it as ``from_name``).
    tag : str
        Lower-case tag type, e.g. ``"choices"``, ``"rectanglelabels"``.
    to_name : tuple of str
        Object tags it annotates (``toName``, comma-separated in the XML).
    object_tag : str
        Lower-case type of the first target object, e.g. ``"image"``, ``"text"``.
    labels : tuple of str
        Allowed ``Choice``/``Label`` values (their ``alias`` when set, as results carry it); for
        ``Taxonomy`` every node of the tree.
    multiple : bool
        Several answers allowed (``choice="multiple"``; always true for ``Taxonomy``).
    attrs : Mapping[str, str]
        All XML attributes, with lower-case keys, for tag-specific options.
    """

    name: str
    tag: str
    to_name: tuple[str, ...]
    object_tag: str
    labels: tuple[str, ...] = ()
    multiple: bool = False
    attrs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UnsupportedTag:
    """A tag that is skipped by scoring, and why."""

    tag: str
    name: str | None
    reason: str


@dataclass(frozen=True)
class LabelConfig:
    """The scorable content of a label config."""

    controls: Mapping[str, ControlTag]
    objects: Mapping[str, str]
    unsupported: tuple[UnsupportedTag, ...] = ()


def _parse_xml(xml: str) -> Element:
    try:
        return fromstring(xml, forbid_dtd=True)
    except (ParseError, DefusedXmlException) as error:
        raise LabelConfigError(f"label config is not valid XML: {error}") from error


def _option_value(element: Element) -> str | None:
    # Label Studio stores a Choice/Label's alias in results when one is set.
    attrs = {k.lower(): v for k, v in element.attrib.items()}
    return attrs.get("alias") or attrs.get("value")


def _options(control: Element) -> tuple[str, ...]:
    """Values of the ``Choice``/``Label`` descendants, in document order (a taxonomy's whole tree)."""
    values = (
        _option_value(e) for e in control.iter() if e is not control and e.tag.lower() in ("choice", "label")
    )
    return tuple(v for v in values if v is not None)


def _control(element: Element, objects: Mapping[str, str]) -> ControlTag | UnsupportedTag:
    tag = element.tag.lower()
    attrs = {k.lower(): v for k, v in element.attrib.items()}
    name = attrs.get("name")
    if not name:
        return UnsupportedTag(tag, None, "control tag without a name")
    to_name = tuple(t.strip() for t in attrs.get("toname", "").split(",") if t.strip())
    object_tag = objects.get(to_name[0], "") if to_name else ""
    if object_tag not in SUPPORTED_CONTROLS[tag]:
        return UnsupportedTag(tag, name, f"{tag} on object {object_tag or to_name!r} is not supported")
    if attrs.get("perregion", "false").lower() == "true":
        return UnsupportedTag(tag, name, "per-region classification is not scored")
    return ControlTag(
        name=name,
        tag=tag,
        to_name=to_name,
        object_tag=object_tag,
        labels=_options(element),
        multiple=tag == "taxonomy" or attrs.get("choice", "single").lower() == "multiple",
        attrs=MappingProxyType(attrs),
    )


def parse_label_config(xml: str) -> LabelConfig:
    """Parse a Label Studio label config into its scorable control tags.

    Parameters
    ----------
    xml : str
        The project's ``label_config``.

    Returns
    -------
    LabelConfig
        Controls by name, object tags by name (lower-case type), and the skipped tags.

    Raises
    ------
    LabelConfigError
        If the XML is malformed or contains a DTD (entity tricks are refused, not expanded).

    Examples
    --------
    >>> config = parse_label_config('''
    ... <View>
    ...   <Image name="img" value="$image"/>
    ...   <RectangleLabels name="box" toName="img"><Label value="Car"/></RectangleLabels>
    ...   <Relations><Relation value="near"/></Relations>
    ... </View>''')
    >>> config.controls["box"].labels, config.controls["box"].object_tag
    (('Car',), 'image')
    >>> config.unsupported[0].tag
    'relations'
    """
    root = _parse_xml(xml)
    objects = {}
    for element in root.iter():
        attrs = {k.lower(): v for k, v in element.attrib.items()}
        if element.tag.lower() in OBJECT_TAGS and "name" in attrs and "value" in attrs:
            objects[attrs["name"]] = element.tag.lower()
    controls: dict[str, ControlTag] = {}
    unsupported: list[UnsupportedTag] = []
    for element in root.iter():
        tag = element.tag.lower()
        if tag in LAYOUT_TAGS or (tag in OBJECT_TAGS and element.attrib.get("name") in objects):
            continue
        parsed = (
            _control(element, objects)
            if tag in SUPPORTED_CONTROLS
            else UnsupportedTag(tag, element.attrib.get("name"), "tag is not supported")
        )
        if isinstance(parsed, ControlTag):
            controls[parsed.name] = parsed
        else:
            unsupported.append(parsed)
    return LabelConfig(MappingProxyType(controls), MappingProxyType(objects), tuple(unsupported))
