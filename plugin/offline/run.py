"""The offline audit end to end: files in, report (and the tally behind it) out."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plugin.gold.library import PickPolicy
from plugin.offline.reader import ReadStats, comparisons, load_gold, load_label_config, stream_tasks
from plugin.offline.report import build_report
from plugin.offline.tally import Tally, tally_comparisons
from plugin.scoring.settings import ScoringSettings


def run_audit(
    export: Path,
    gold: Path,
    *,
    label_config: Path | None = None,
    match_on: str | None = None,
    pick: PickPolicy = "latest",
    progress: bool | None = None,
    settings: ScoringSettings | None = None,
) -> tuple[dict[str, Any], Tally]:
    """Audit a Label Studio JSON export against a gold export.

    Parameters
    ----------
    export, gold : Path
        The export under audit (streamed) and the gold export (read whole).
    label_config : Path, optional
        The project's label config XML; default: inferred from the gold results.
    match_on : str, optional
        ``data`` key that identifies a task in both exports; default: the task id.
    pick : {"latest", "earliest", "error", "skip"}
        Which annotation of a gold task is the expert's when not exactly one is ground truth
        (:func:`plugin.gold.library.read_export`).
    progress : bool, optional
        Progress bar on stderr; default: when stderr is a terminal.

    Raises
    ------
    AuditInputError
        A file is missing, unreadable or not a Label Studio export; the message is one line.
    """
    settings = settings or ScoringSettings()
    tasks = stream_tasks(export, progress=progress)  # fails now on a wrong path, before the gold is read
    gold_results = load_gold(gold, match_on=match_on, pick=pick)
    config = load_label_config(label_config, gold_results)
    stats = ReadStats()
    pairs = comparisons(tasks, gold_results, match_on=match_on, stats=stats)
    tally = tally_comparisons(pairs, config, settings=settings)
    source = {
        "export": str(export),
        "gold": str(gold),
        "match_on": match_on or "id",
        "label_config": str(label_config) if label_config else "inferred from the gold results",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return build_report(tally, settings=settings, reader=stats.as_dict(), source=source), tally
