"""Turn a Label Studio JSON export into gold item drafts (pure: text in, drafts out).

A gold item is a task whose expert answer we trust. In a Label Studio export the expert answer is
the annotation marked ``ground_truth`` (notes §5: set through ``PATCH /api/annotations/{id}/``, and
imported annotations default to it). A task with no such annotation, or with several, is ambiguous:
by default that is an error, because silently choosing an answer would test annotators against
something nobody vouched for. ``pick`` makes the choice explicit instead.

Classes are the label/choice values the expert result contains; they let the injection prefer items
from classes where an annotator is weak. A ``Taxonomy`` answer's class is its whole path joined
with ``" / "`` (the form the scoring engine's per-class outcomes use), because leaf names such as
"Other" repeat under different parents.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from plugin.labelconfig import LabelConfig

PickPolicy = Literal["error", "latest", "earliest", "skip"]
PICK_POLICIES: tuple[str, ...] = get_args(PickPolicy)

# Control tags whose results name a class, and the ``value`` key that holds it (the tag's own name).
CLASS_TAGS = frozenset(
    {"choices", "labels", "rectanglelabels", "polygonlabels", "keypointlabels", "brushlabels", "taxonomy"}
)
TAXONOMY_SEPARATOR = " / "
_SHOWN_IDS = 5


class GoldError(ValueError):
    """A gold library operation cannot proceed; the message is one line meant for the user."""


@dataclass(frozen=True)
class GoldDraft:
    """A gold item before it is stored: where it came from, what it shows, and the expert answer."""

    source_task_id: int | None
    source_project_id: int | None
    data: dict[str, Any]
    expert_result: list[dict[str, Any]]
    classes: tuple[str, ...]


@dataclass(frozen=True)
class GoldExport:
    """The drafts read from an export, and the tasks left out (by ``pick="skip"`` or for lack of answers)."""

    drafts: tuple[GoldDraft, ...]
    skipped_task_ids: tuple[int | None, ...] = ()


def parse_export_text(
    text: str | bytes, *, pick: PickPolicy = "error", config: LabelConfig | None = None
) -> GoldExport:
    """Parse the text of a Label Studio JSON export; see :func:`read_export`."""
    try:
        tasks = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise GoldError(f"the export is not valid JSON: {_one_line(exc)}") from None
    return read_export(tasks, pick=pick, config=config)


def read_export(tasks: Any, *, pick: PickPolicy = "error", config: LabelConfig | None = None) -> GoldExport:
    """Gold drafts from a parsed Label Studio JSON export (a list of tasks).

    Parameters
    ----------
    tasks : list of dict
        Tasks with ``id``, ``data``, ``annotations`` and optionally ``project``.
    pick : {"error", "latest", "earliest", "skip"}
        What to do with a task that has no ground-truth annotation or several (cancelled ones never
        count). ``error`` refuses the whole export, naming the tasks. ``latest``/``earliest`` take
        the newest/oldest ground-truth annotation by ``updated_at`` (else ``created_at``), or, when
        none is ground truth, the newest/oldest submitted one; a task with no submitted annotation
        at all is left out. ``skip`` leaves every ambiguous task out. A task with exactly one
        ground-truth annotation is taken whatever the policy.
    config : LabelConfig, optional
        The project's parsed label config: tells which results carry classes. Without it, classes
        come from any ``choices``, ``taxonomy`` or ``*labels`` list in a result's ``value``.

    Raises
    ------
    GoldError
        On a wrong shape (naming the task) or, with ``pick="error"``, on ambiguous tasks.
    """
    if pick not in PICK_POLICIES:
        raise GoldError(f"unknown pick policy {pick!r}; use one of {', '.join(PICK_POLICIES)}")
    if not isinstance(tasks, list):
        raise GoldError(f"the export must be a JSON list of tasks, not {_json_type(tasks)}")
    drafts: list[GoldDraft] = []
    skipped: list[int | None] = []
    missing: list[int | None] = []
    several: list[int | None] = []
    for position, task in enumerate(tasks):
        task_id = _check_task(task, position)
        annotations = _submitted_annotations(task, task_id)
        truths = [a for a in annotations if a.get("ground_truth") is True]
        if len(truths) == 1:
            chosen: Mapping[str, Any] | None = truths[0]
        elif pick == "error":
            (missing if not truths else several).append(task_id)
            continue
        elif pick == "skip":
            chosen = None
        else:
            chosen = _pick_by_time(truths or annotations, latest=pick == "latest", task_id=task_id)
        if chosen is None:
            skipped.append(task_id)
            continue
        drafts.append(_draft(task, task_id, chosen, config))
    if missing or several:
        raise GoldError(_ambiguity_message(missing, several))
    return GoldExport(tuple(drafts), tuple(skipped))


def classes_of(result: Sequence[Mapping[str, Any]], config: LabelConfig | None = None) -> tuple[str, ...]:
    """The sorted, distinct class values in a Label Studio result list.

    With a label config, a result's control tag decides whether it carries a class (``Rating``,
    ``Number``, ``TextArea``... do not); results of tags the config does not know fall back to their
    ``type``. Without one, every ``choices``, ``taxonomy`` or ``*labels`` list counts.

    Examples
    --------
    >>> classes_of([{"type": "rectanglelabels", "value": {"x": 1, "rectanglelabels": ["Car"]}},
    ...             {"type": "taxonomy", "value": {"taxonomy": [["Animal", "Cat"]]}}])
    ('Animal / Cat', 'Car')
    """
    found: set[str] = set()
    for item in result:
        value = item.get("value")
        if not isinstance(value, Mapping):
            continue
        for key in _class_keys(item, value, config):
            found.update(_values_of(key, value.get(key)))
    return tuple(sorted(found))


def _class_keys(item: Mapping[str, Any], value: Mapping[str, Any], config: LabelConfig | None) -> list[str]:
    # The config says whether a result carries a class; the value says under which key, because a
    # ``Labels`` tag paired with a ``Rectangle`` writes ``rectanglelabels`` results.
    if config is not None:
        control = config.controls.get(str(item.get("from_name")))
        tag = control.tag if control is not None else str(item.get("type") or "").lower()
        if tag and tag not in CLASS_TAGS and not tag.endswith("labels"):
            return []
    return [k for k in value if k in ("choices", "taxonomy") or k.endswith("labels")]


def _values_of(key: str, entries: Any) -> Iterable[str]:
    if not isinstance(entries, list):
        return []
    if key == "taxonomy":
        paths = (e for e in entries if isinstance(e, list) and e)
        return (TAXONOMY_SEPARATOR.join(str(node) for node in path) for path in paths)
    return (e for e in entries if isinstance(e, str))


def _check_task(task: Any, position: int) -> int | None:
    if not isinstance(task, dict):
        raise GoldError(f"task #{position + 1} of the export is {_json_type(task)}, not an object")
    task_id = task.get("id")
    if task_id is not None and (not isinstance(task_id, int) or isinstance(task_id, bool)):
        raise GoldError(f"task #{position + 1} of the export has a non-integer id {task_id!r}")
    if not isinstance(task.get("data"), dict):
        raise GoldError(f"task {_name(task_id, position)}: 'data' must be an object")
    if not isinstance(task.get("annotations", []), list):
        raise GoldError(f"task {_name(task_id, position)}: 'annotations' must be a list")
    return task_id


def _submitted_annotations(task: Mapping[str, Any], task_id: int | None) -> list[Mapping[str, Any]]:
    """Annotations that hold an answer: cancelled ones (skips) are empty by definition."""
    kept: list[Mapping[str, Any]] = []
    for annotation in task.get("annotations", []):
        if not isinstance(annotation, dict):
            raise GoldError(f"task {task_id}: an annotation is {_json_type(annotation)}, not an object")
        if annotation.get("was_cancelled"):
            continue
        result = annotation.get("result")
        if not isinstance(result, list) or not all(isinstance(r, dict) for r in result):
            raise GoldError(
                f"task {task_id}: annotation {annotation.get('id')} 'result' must be a list of objects"
            )
        kept.append(annotation)
    return kept


def _pick_by_time(
    annotations: Sequence[Mapping[str, Any]], *, latest: bool, task_id: int | None
) -> Mapping[str, Any] | None:
    if not annotations:
        return None
    keyed = [
        (_stamp(a, task_id), a.get("id") if isinstance(a.get("id"), int) else -1, a) for a in annotations
    ]
    chosen = max(keyed, key=lambda k: k[:2]) if latest else min(keyed, key=lambda k: k[:2])
    return chosen[2]


def _stamp(annotation: Mapping[str, Any], task_id: int | None) -> datetime:
    """``updated_at``, else ``created_at``; an annotation with neither sorts first."""
    raw = annotation.get("updated_at") or annotation.get("created_at")
    if raw is None:
        return datetime.min.replace(tzinfo=UTC)
    try:
        stamp = datetime.fromisoformat(str(raw))
    except ValueError:
        raise GoldError(
            f"task {task_id}: annotation {annotation.get('id')} has a bad timestamp {raw!r}"
        ) from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _draft(
    task: Mapping[str, Any], task_id: int | None, annotation: Mapping[str, Any], config: LabelConfig | None
) -> GoldDraft:
    project = task.get("project", annotation.get("project"))
    result = list(annotation["result"])
    return GoldDraft(
        source_task_id=task_id,
        source_project_id=project if isinstance(project, int) and not isinstance(project, bool) else None,
        data=dict(task["data"]),
        expert_result=result,
        classes=classes_of(result, config),
    )


def _ambiguity_message(missing: Sequence[int | None], several: Sequence[int | None]) -> str:
    parts = []
    if missing:
        parts.append(f"{_count(missing)} without a ground-truth annotation ({_ids(missing)})")
    if several:
        parts.append(f"{_count(several)} with several ({_ids(several)})")
    return "; ".join(parts) + "; mark one ground truth per task, or use --pick latest|earliest|skip"


def _count(ids: Sequence[int | None]) -> str:
    return f"{len(ids)} task" if len(ids) == 1 else f"{len(ids)} tasks"


def _ids(ids: Sequence[int | None]) -> str:
    shown = ", ".join(str(i) for i in ids[:_SHOWN_IDS])
    return shown if len(ids) <= _SHOWN_IDS else f"{shown}, ... {len(ids) - _SHOWN_IDS} more"


def _name(task_id: int | None, position: int) -> str:
    return str(task_id) if task_id is not None else f"#{position + 1}"


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _one_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
