"""The gold library: expert-answered items that are hidden among real work to test annotators."""

from plugin.gold.library import (
    PICK_POLICIES,
    GoldDraft,
    GoldError,
    GoldExport,
    PickPolicy,
    classes_of,
    parse_export_text,
    read_export,
)

__all__ = [
    "PICK_POLICIES",
    "GoldDraft",
    "GoldError",
    "GoldExport",
    "PickPolicy",
    "classes_of",
    "parse_export_text",
    "read_export",
]
