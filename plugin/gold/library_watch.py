"""Warn before the gold library runs dry for someone.

An annotator is never served the same item twice, so a library that is small for the project's
length runs out: the annotator then silently gets no more hidden gold, and neither does a class whose
items they have all seen. After each copy is chosen, the items its annotator has left are counted,
in all and per class; at ``gold.low_library_items`` or fewer an alert is raised, once per cause: one
per annotator and one per class, not one per copy. The dedupe key (``details["cause"]``) is checked
here; a cause is raised again only once the library has grown by that many items since its alert.
"""

from dataclasses import dataclass

from sqlalchemy import Connection

from plugin.alerts import Alert
from plugin.gold.review import annotator_name, raise_alert
from plugin.store.gold import LibraryLeft, alerted_causes, items_added_since, unseen_items_left

LOW_LIBRARY = "gold_library_low"


@dataclass(frozen=True)
class LowLibrary:
    cause: str  # the dedupe key: "annotator:<id>" or "class:<name>"
    items_left: int
    label: str | None = None  # the class, for a class cause


def low_causes(left: LibraryLeft, annotator_id: int, threshold: int) -> list[LowLibrary]:
    """Which causes are at or below the threshold for this annotator (pure)."""
    low = [LowLibrary(f"annotator:{annotator_id}", left.total)] if left.total <= threshold else []
    # A class holding everything left says nothing the annotator's own alert does not.
    low += [
        LowLibrary(f"class:{c}", n, c) for c, n in left.per_class.items() if n <= threshold and n < left.total
    ]
    return low


def check_library_left(conn: Connection, project_id: int, annotator_id: int, threshold: int) -> list[int]:
    """Raise the low-library alerts this annotator's latest copy calls for; returns their ids."""
    low = low_causes(unseen_items_left(conn, project_id, annotator_id), annotator_id, threshold)
    if not low:
        return []
    raised = alerted_causes(conn, project_id, LOW_LIBRARY)
    name = annotator_name(conn, annotator_id)
    alert_ids = []
    for cause in low:
        since = raised.get(cause.cause)
        if since is not None and items_added_since(conn, project_id, since) < max(threshold, 1):
            continue
        alert_ids.append(raise_alert(conn, _alert(project_id, name, annotator_id, cause, threshold)))
    return alert_ids


def _alert(project_id: int, name: str, annotator_id: int, low: LowLibrary, threshold: int) -> Alert:
    if low.label is None:
        title = f"Project {project_id}: gold library running dry for {name}"
        what = "gold items"
    else:
        title = f"Project {project_id}: few gold items of class {low.label!r} left"
        what = f"gold items of class {low.label!r}"
    text = (
        f"{name} has {low.items_left} {what} left that they have not seen (alert at {threshold}). "
        "Nobody is served an item twice: once none are left, hidden gold stops there. "
        "Add items (lsqa gold import, or ground truth marked in the project)."
    )
    details: dict[str, int | str] = {
        "annotator": annotator_id,
        "items left": low.items_left,
        "threshold": threshold,
    }
    if low.label is not None:
        details["class"] = low.label
    return Alert(LOW_LIBRARY, "warning", project_id, title, text, {**details, "cause": low.cause})
