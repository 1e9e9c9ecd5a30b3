"""Read an export against its gold: the gold export in memory, the main export streamed task by task.

The main export of a large project does not fit comfortably in memory as Python objects (600 MB of
JSON becomes several GB), so it is parsed incrementally, task by task
(:func:`plugin.offline.jsonstream.iter_array`), and only one chunk of tasks with a gold counterpart
is held at a time. Gold exports are small (3-5 % of the
data) and are read with :func:`plugin.gold.library.read_export`, which also picks each task's expert
annotation.
"""

from __future__ import annotations

import codecs
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from plugin.gold.library import GoldError, PickPolicy, read_export
from plugin.labelconfig import LabelConfig, LabelConfigError, parse_label_config
from plugin.offline.infer import infer_label_config
from plugin.offline.jsonstream import JSONStreamError, iter_array
from plugin.offline.progress import ProgressReader

Key = int | float | str | bool


class AuditInputError(ValueError):
    """An input of the audit cannot be used; the message is one line meant for the user."""


@dataclass(frozen=True)
class Comparison:
    """One annotation to compare with gold: ``record`` names it in the report (task or gold item id)."""

    record: Any
    annotator: Any
    result: list[dict[str, Any]]
    gold_result: list[dict[str, Any]]


@dataclass
class ReadStats:
    """What the reader saw, for the report's summary."""

    tasks_read: int = 0
    tasks_matched: int = 0
    annotations_ground_truth: int = 0
    annotations_cancelled: int = 0
    tasks_without_key: int = 0
    gold_tasks: int = 0
    gold_matched: set[Any] = field(default_factory=set)

    def as_dict(self) -> dict[str, int]:
        return {
            "tasks_read": self.tasks_read,
            "tasks_compared": self.tasks_matched,
            "gold_tasks": self.gold_tasks,
            "gold_tasks_unmatched": self.gold_tasks - len(self.gold_matched),
            "skipped_ground_truth_annotations": self.annotations_ground_truth,
            "skipped_cancelled_annotations": self.annotations_cancelled,
            "tasks_without_match_key": self.tasks_without_key,
        }


def match_key(task: Mapping[str, Any], match_on: str | None) -> Key | None:
    """The task's id, or its ``data[match_on]`` (non-scalar values by their canonical JSON)."""
    if match_on is None:
        value = task.get("id")
    else:
        data = task.get("data")
        value = data.get(match_on) if isinstance(data, Mapping) else None
    if value is None or isinstance(value, Key):
        return value
    return json.dumps(value, sort_keys=True)


def load_gold(path: Path, *, match_on: str | None, pick: PickPolicy) -> dict[Key, list[dict[str, Any]]]:
    """Expert results of the gold export by match key."""
    text = _read_bytes(path, "gold export")
    try:
        tasks = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AuditInputError(f"the gold export {path} is not valid JSON: {_one_line(exc)}") from None
    try:
        drafts = read_export(tasks, pick=pick).drafts
    except GoldError as exc:
        raise AuditInputError(f"the gold export {path}: {exc}") from None
    gold: dict[Key, list[dict[str, Any]]] = {}
    for draft in drafts:
        source = {"id": draft.source_task_id, "data": draft.data}
        key = match_key(source, match_on)
        if key is None:
            what = "an id" if match_on is None else f"data key {match_on!r}"
            raise AuditInputError(f"the gold export {path}: task {draft.source_task_id} has no {what}")
        if key in gold:
            raise AuditInputError(f"the gold export {path}: two tasks share the match key {key!r}")
        gold[key] = draft.expert_result
    if not gold:
        raise AuditInputError(f"the gold export {path} holds no task with an expert annotation")
    return gold


def load_label_config(path: Path | None, gold: Mapping[Key, list[dict[str, Any]]]) -> LabelConfig:
    """The label config from ``path``, else inferred from the gold results."""
    if path is None:
        return infer_label_config(result for results in gold.values() for result in results)
    try:
        return parse_label_config(_read_bytes(path, "label config").decode("utf-8", errors="replace"))
    except LabelConfigError as exc:
        raise AuditInputError(f"{path}: {str(exc).splitlines()[0]}") from None


def stream_tasks(path: Path, *, progress: bool | None = None) -> Iterator[dict[str, Any]]:
    """The tasks of a Label Studio JSON export, one at a time (floats as ``float``).

    The file is checked at once (readable, a JSON list), so a wrong path fails before other work.
    """
    with _open_export(path):
        pass
    return _tasks(path, progress)


def _open_export(path: Path) -> IO[bytes]:
    try:
        raw = path.open("rb")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise AuditInputError(f"cannot read the export {path}: {reason}") from None
    head = raw.read(4096).removeprefix(codecs.BOM_UTF8).lstrip()
    if not head.startswith(b"["):
        raw.close()
        raise AuditInputError(f"the export {path} is not a JSON list of tasks (Label Studio's JSON export)")
    raw.seek(0)
    return raw


def _tasks(path: Path, progress: bool | None) -> Iterator[dict[str, Any]]:
    with _open_export(path) as raw:
        reader = ProgressReader(raw, os.fstat(raw.fileno()).st_size, "reading export", enabled=progress)
        try:
            yield from iter_array(reader)
        except JSONStreamError as exc:
            raise AuditInputError(f"the export {path} is not valid JSON: {_one_line(exc)}") from None
        finally:
            reader.close()


def comparisons(
    tasks: Iterator[Mapping[str, Any]],
    gold: Mapping[Key, list[dict[str, Any]]],
    *,
    match_on: str | None,
    stats: ReadStats,
) -> Iterator[Comparison]:
    """Each submitted, non-ground-truth annotation of a task that has gold, paired with the gold result.

    Ground-truth annotations in the main export are the reference, not the work under audit; cancelled
    ones (skips) hold no answer. Both are counted in ``stats`` and left out.
    """
    stats.gold_tasks = len(gold)
    for task in tasks:
        stats.tasks_read += 1
        if not isinstance(task, Mapping):
            raise AuditInputError(f"task #{stats.tasks_read} of the export is not an object")
        key = match_key(task, match_on)
        if key is None:
            stats.tasks_without_key += 1
            continue
        gold_result = gold.get(key)
        if gold_result is None:
            continue
        stats.tasks_matched += 1
        stats.gold_matched.add(key)
        for annotation in task.get("annotations") or ():
            if not isinstance(annotation, Mapping):
                raise AuditInputError(f"task {task.get('id')}: an annotation is not an object")
            if annotation.get("was_cancelled"):
                stats.annotations_cancelled += 1
            elif annotation.get("ground_truth"):
                stats.annotations_ground_truth += 1
            else:
                record = task.get("id", key)
                yield Comparison(
                    record, annotator_of(annotation), annotation.get("result") or [], gold_result
                )


def annotator_of(annotation: Mapping[str, Any]) -> Any:
    """``completed_by`` as exported: a user id, or (some export options) a user object."""
    who = annotation.get("completed_by")
    if isinstance(who, Mapping):
        return who.get("email") or who.get("id")
    return who


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise AuditInputError(
            f"cannot read the {what} {path}: {exc.strerror or type(exc).__name__}"
        ) from None


def _one_line(exc: Exception) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__
