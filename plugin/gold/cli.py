"""``lsqa gold import|list|retire``: manage a project's gold library from the command line.

Listings show provenance, classes and usage but never the expert answers: those live only in the
store, and a listing is the kind of thing that ends up pasted in a chat.
"""

import argparse
import json
from pathlib import Path
from typing import Any

from plugin.commands import Handler, StoreFactory, add_verb
from plugin.gold.ledger import label_config_of
from plugin.gold.library import PICK_POLICIES, GoldError, PickPolicy, parse_export_text
from plugin.labelconfig import LabelConfig, LabelConfigError, parse_label_config
from plugin.settings import Settings
from plugin.store import Store
from plugin.store.gold import GoldItem, add_gold_items, list_gold_items, retire_gold_item


def add_gold_commands(subparsers: Any, store_factory: StoreFactory) -> None:
    """Register ``gold`` and its sub-commands; each handler has the ``func(settings, args)`` shape."""
    gold = subparsers.add_parser("gold", help="manage the hidden-gold library of a project")
    verbs = gold.add_subparsers(dest="gold_command", required=True)

    def leaf(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        return add_verb(verbs, name, handler, help_text, store_factory)

    imports = leaf("import", _import, "import gold items from a Label Studio JSON export")
    imports.add_argument("--project", "-p", type=int, required=True, help="project the items will test")
    imports.add_argument("file", type=Path, help="Label Studio JSON export")
    imports.add_argument(
        "--pick",
        choices=PICK_POLICIES,
        default="error",
        help="tasks without exactly one ground-truth annotation: error (default), latest, earliest, skip",
    )
    imports.add_argument(
        "--label-config", type=Path, help="label config XML (default: the project's, if known)"
    )
    listing = leaf("list", _list, "list a project's gold items and their usage")
    listing.add_argument("--project", "-p", type=int, required=True, help="Label Studio project id")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.add_argument("--all", action="store_true", help="include retired items")
    retire = leaf("retire", _retire, "stop serving a gold item (final)")
    retire.add_argument("item", type=int, help="gold item id (see `lsqa gold list`)")


def _import(settings: Settings, args: argparse.Namespace, store_factory: StoreFactory) -> int:
    text = _read(args.file, "export")
    with store_factory(settings) as store:
        config: LabelConfig | None
        if args.label_config:
            config = _config_from_file(args.label_config)
        else:
            config = _config_from_store(store, args.project)
        pick: PickPolicy = args.pick
        export = parse_export_text(text, pick=pick, config=config)
        with store.begin() as conn:
            added, updated = add_gold_items(conn, args.project, export.drafts, "import")
    unchanged = len(export.drafts) - added - updated
    line = f"project {args.project}: {added} gold items added, {updated} updated, {unchanged} unchanged"
    if export.skipped_task_ids:
        line += f", {len(export.skipped_task_ids)} tasks skipped ({_ids(export.skipped_task_ids)})"
    print(line)
    return 0


def _list(settings: Settings, args: argparse.Namespace, store_factory: StoreFactory) -> int:
    with store_factory(settings) as store, store.read() as conn:
        items = list_gold_items(conn, args.project, include_retired=args.all)
    if args.json:
        print(json.dumps([_as_json(i) for i in items], indent=2))
        return 0
    if not items:
        print(f"project {args.project}: no gold items")
    for item in items:
        print(_as_line(item))
    return 0


def _retire(settings: Settings, args: argparse.Namespace, store_factory: StoreFactory) -> int:
    with store_factory(settings) as store, store.begin() as conn:
        outcome = retire_gold_item(conn, args.item)
    if outcome == "missing":
        raise GoldError(f"no gold item {args.item}")
    print(f"gold item {args.item} {'retired' if outcome == 'retired' else 'was already retired'}")
    return 0


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise GoldError(f"cannot read the {what} {path}: {exc.strerror or type(exc).__name__}") from None


def _config_from_file(path: Path) -> LabelConfig:
    try:
        return parse_label_config(_read(path, "label config").decode("utf-8", errors="replace"))
    except LabelConfigError as exc:
        raise GoldError(f"{path}: {str(exc).splitlines()[0]}") from None


def _config_from_store(store: Store, project_id: int) -> LabelConfig | None:
    """The project's label config as last synced; None if we have not seen it (classes from keys)."""
    with store.read() as conn:
        xml = label_config_of(conn, project_id)
    if not xml:
        return None
    try:
        return parse_label_config(xml)
    except LabelConfigError as exc:
        raise GoldError(
            f"the stored label config of project {project_id}: {str(exc).splitlines()[0]}"
        ) from None


def _as_json(item: GoldItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "classes": list(item.classes),
        "source_project_id": item.source_project_id,
        "source_task_id": item.source_task_id,
        "origin": item.origin,
        "retired": item.retired_at is not None,
        "served": item.usage.served,
        "answers": item.usage.answers,
        "mean_score": item.usage.mean_score,
        "miss_rate": item.usage.miss_rate,
        "annotators": item.usage.annotators,
    }


def _as_line(item: GoldItem) -> str:
    usage = item.usage
    source = f"task {item.source_task_id}" if item.source_task_id is not None else "no source task"
    if item.source_project_id is not None:
        source += f" of project {item.source_project_id}"
    score = (
        f"mean score {usage.mean_score:.2f}, missed {usage.miss_rate:.0%}" if usage.answers else "no answers"
    )
    retired = " (retired)" if item.retired_at is not None else ""
    return (
        f"item {item.id}{retired}: classes {', '.join(item.classes) or '-'}; {source} ({item.origin}); "
        f"served {usage.served}x to {usage.annotators} annotators, {usage.answers} answers, {score}"
    )


def _ids(ids: tuple[int | None, ...], shown: int = 5) -> str:
    text = ", ".join(str(i) for i in ids[:shown])
    return text if len(ids) <= shown else f"{text}, ... {len(ids) - shown} more"
