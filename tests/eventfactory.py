"""Webhook bodies for tests, built from the real captures in tests/payloads."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

PAYLOADS = Path(__file__).resolve().parent / "payloads"


@cache
def _load(name: str) -> dict[str, Any]:
    body = json.loads((PAYLOADS / f"{name}.json").read_text())
    body.pop("_captured_headers", None)
    body.pop("_body_bytes", None)
    return body


def payload(name: str) -> dict[str, Any]:
    """A fresh copy of a captured body, without the capturing receiver's extra keys."""
    return copy.deepcopy(_load(name))


def payload_names() -> list[str]:
    return sorted(p.stem for p in PAYLOADS.glob("*.json"))


def annotation_event(
    annotation_id: int,
    task_id: int,
    user: int,
    *,
    action: str = "ANNOTATION_CREATED",
    choice: str = "pos",
    cancelled: bool = False,
) -> dict[str, Any]:
    body = payload("ANNOTATION_CREATED")
    body["action"] = action
    result = (
        []
        if cancelled
        else [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [choice]}}]
    )
    body["annotation"].update(
        id=annotation_id, task=task_id, completed_by=user, was_cancelled=cancelled, result=result
    )
    body["task"]["id"] = task_id
    return body


def deleted_annotations(*ids: int) -> dict[str, Any]:
    return {"action": "ANNOTATIONS_DELETED", "annotations": [{"id": i} for i in ids], "project": {"id": 1}}


def deleted_tasks(*ids: int) -> dict[str, Any]:
    return {"action": "TASKS_DELETED", "tasks": [{"id": i} for i in ids], "project": {"id": 1}}
