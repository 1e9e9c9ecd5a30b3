"""Dead ends nobody would hear about otherwise, each alerted once per cause (docs/alerts.md).

The worker calls :func:`check_dead_ends` about every minute and :func:`note_sync_outcome` after
each project's sync. A cause raises one alert when it appears (or, for the ones that only matter
once they last, when it has lasted long enough); it raises nothing more while it persists; once it
is gone its episode ends, and if it comes back it alerts again. Job failures are alerted where they
happen (plugin.jobs).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from plugin.alerts import Alert, alert_for_cause, raise_alert_once
from plugin.store import Store
from plugin.store.alert_causes import Cause, clear_cause, note_cause, open_causes
from plugin.store.dead_ends import annotators_on_watch, batch_kappas
from plugin.store.inbox import backlog

log = logging.getLogger(__name__)
CHECK_EVERY_SECONDS = 60.0
PARKED_CAUSE = "events_parked"
POINT_DROP_WITHOUT_INTERVALS = 0.10  # kappa drop that counts when batches carry no bootstrap interval


def note_sync_outcome(
    store: Store,
    settings: Mapping[str, Any],
    project_id: int,
    ok: bool,
    error: str | None = None,
    *,
    now: datetime | None = None,
) -> int | None:
    """Record one sync of a project; alert once it has failed for ``alerts.sync_failure_intervals``
    sync intervals in a row. A successful sync ends the episode. Returns a new alert's id."""
    now = now or datetime.now(UTC)
    key = f"sync_failing:{project_id}"
    with store.begin() as conn:
        if ok:
            clear_cause(conn, key, now)
            return None
        cause = note_cause(conn, key, project_id=project_id, now=now)
        limit = timedelta(
            seconds=settings["alerts.sync_failure_intervals"] * settings["worker.sync_interval"]
        )
        if now - cause.first_seen_at < limit:
            return None
        alert = Alert(
            kind="sync_failing",
            severity="critical",
            project_id=project_id,
            title=f"Project {project_id}: reconciliation with Label Studio keeps failing",
            text=(
                f"Every sync since {cause.first_seen_at.isoformat()} failed ({cause.occurrences} tries); "
                f"events lost meanwhile are not recovered. Last error: {error or 'unknown'}"
            ),
            details={"failing since": cause.first_seen_at.isoformat(), "tries": cause.occurrences},
        )
        return alert_for_cause(conn, cause, alert, now=now)


def check_dead_ends(store: Store, settings: Mapping[str, Any], now: datetime | None = None) -> list[int]:
    """Look for parked events, long watches and falling kappa; returns the ids of alerts raised."""
    now = now or datetime.now(UTC)
    with store.inbox_read() as conn:
        parked = backlog(conn)["failed"]
    with store.begin() as conn:
        raised = [
            check_parked_events(conn, parked, now),
            *check_long_watches(conn, timedelta(hours=settings["alerts.watch_hours"]), now),
            *check_kappa_trends(conn, settings["alerts.kappa_trend_batches"], now),
        ]
    return [alert_id for alert_id in raised if alert_id is not None]


def check_parked_events(conn: Connection, parked: int, now: datetime) -> int | None:
    if not parked:
        clear_cause(conn, PARKED_CAUSE, now)
        return None
    alert = Alert(
        kind="events_parked",
        severity="critical",
        project_id=None,
        title=f"{parked} webhook event(s) parked as failed",
        text=(
            "The worker gave up on these events after `worker.max_attempts` tries; their changes are "
            "missing until they are retried (`lsqa inbox list`, `lsqa inbox retry`). New failures "
            "are not alerted again until the parked events are gone."
        ),
        details={"parked": parked},
    )
    return raise_alert_once(conn, PARKED_CAUSE, alert, now=now)


def check_long_watches(conn: Connection, after: timedelta, now: datetime) -> list[int | None]:
    """Alert for each annotator who has been on watch (below the threshold, not conclusively) longer
    than ``after``, as seen by this watchdog: the watch starts when it first sees it."""
    watched = {f"watch:{w['project_id']}:{w['annotator_id']}": w for w in annotators_on_watch(conn)}
    for key in set(open_causes(conn, "watch:")) - set(watched):
        clear_cause(conn, key, now)
    raised = []
    for key, w in watched.items():
        cause = note_cause(conn, key, project_id=w["project_id"], now=now)
        if now - cause.first_seen_at >= after:
            raised.append(alert_for_cause(conn, cause, watch_alert(w, cause), now=now))
    return raised


def watch_alert(watched: Mapping[str, Any], cause: Cause) -> Alert:
    who = watched["email"] or f"user {watched['annotator_id']}"
    return Alert(
        kind="annotator_on_watch",
        severity="warning",
        project_id=watched["project_id"],
        title=f"Annotator {who} has been on watch since {cause.first_seen_at:%Y-%m-%d %H:%M} UTC",
        text=(
            "Their gold accuracy is below the threshold but not conclusively: more gold answers will "
            "flag or clear them. Consider a look at their work, or a higher gold rate."
        ),
        details={"on watch since": cause.first_seen_at.isoformat()},
    )


def check_kappa_trends(conn: Connection, batches: int, now: datetime) -> list[int | None]:
    raised = []
    for project_id, series in batch_kappas(conn, batches).items():
        key = f"kappa_trend:{project_id}"
        if len(series) < batches or not kappa_falling(series):
            clear_cause(conn, key, now)
            continue
        first, last = series[0], series[-1]
        alert = Alert(
            kind="kappa_trend_down",
            severity="warning",
            project_id=project_id,
            title=f"Project {project_id}: agreement falls batch after batch",
            text=(
                f"Kappa fell over the last {len(series)} batches, from {first['kappa']:.3f} "
                f"(batch {first['batch_id']}) to {last['kappa']:.3f} (batch {last['batch_id']}). "
                "Guidelines or the team may have drifted."
            ),
            details={"kappas": ", ".join(f"{b['kappa']:.3f}" for b in series)},
        )
        raised.append(raise_alert_once(conn, key, alert, now=now))
    return raised


def kappa_falling(series: Sequence[Mapping[str, Any]]) -> bool:
    """Whether kappa falls across these batches (oldest first), on evidence, not on noise.

    Every batch's kappa is below the one before it, and the drop is beyond sampling noise: the
    newest batch's 95 % bootstrap interval lies wholly below the oldest's (its upper bound below the
    oldest's lower bound). Batches without intervals (``agreement.bootstrap`` 0) need a drop of at
    least 0.10 instead.

    >>> kappa_falling([{"kappa": 0.9, "kappa_ci": [0.85, 0.95]}, {"kappa": 0.8, "kappa_ci": [0.7, 0.9]},
    ...                {"kappa": 0.7, "kappa_ci": [0.6, 0.8]}])
    True
    >>> kappa_falling([{"kappa": 0.9, "kappa_ci": [0.7, 1.0]}, {"kappa": 0.85, "kappa_ci": [0.7, 0.95]}])
    False
    """
    kappas = [float(b["kappa"]) for b in series]
    if len(kappas) < 2 or any(later >= earlier for earlier, later in zip(kappas, kappas[1:], strict=False)):
        return False
    first_ci, last_ci = series[0].get("kappa_ci") or [None], series[-1].get("kappa_ci") or [None, None]
    if first_ci[0] is not None and last_ci[-1] is not None:
        return float(last_ci[-1]) < float(first_ci[0])
    return kappas[0] - kappas[-1] >= POINT_DROP_WITHOUT_INTERVALS
