"""Dead-end alerts: each raised once, not again while its cause persists, again after it clears and recurs."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from plugin.store.inbox import InboxEvent, append_events, record_failure
from plugin.store.schema import alerts, annotator_states, inbox, users
from plugin.store.schema_agreement import agreement_batches
from plugin.watchdog import check_dead_ends, kappa_falling, note_sync_outcome

SETTINGS = {
    "alerts.watch_hours": 24.0,
    "alerts.kappa_trend_batches": 3,
    "alerts.sync_failure_intervals": 3,
    "worker.sync_interval": 300.0,
}
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def alert_kinds(store):
    with store.read() as conn:
        return [r.kind for r in conn.execute(select(alerts.c.kind).order_by(alerts.c.id))]


def park_event(store, key):
    with store.inbox_begin() as conn:
        append_events(conn, [InboxEvent(key, "ANNOTATION_CREATED", 1, "{}")])
        event_id = conn.execute(select(inbox.c.id).where(inbox.c.dedupe_key == key)).scalar_one()
        record_failure(conn, event_id, "ValueError: bad body", max_attempts=1)


def drop_parked(store):
    with store.inbox_begin() as conn:
        conn.execute(update(inbox).where(inbox.c.status == "failed").values(status="done"))


def test_parked_events_alert_once_per_episode(store):
    park_event(store, "a")
    assert alert_kinds(store) == [] and check_dead_ends(store, SETTINGS, T0)
    park_event(store, "b")  # more parked events: the same cause
    assert check_dead_ends(store, SETTINGS, T0 + timedelta(minutes=1)) == []
    drop_parked(store)
    assert check_dead_ends(store, SETTINGS, T0 + timedelta(minutes=2)) == []
    park_event(store, "c")
    assert check_dead_ends(store, SETTINGS, T0 + timedelta(minutes=3))
    assert alert_kinds(store) == ["events_parked", "events_parked"]


def set_status(store, status, annotator=5):
    with store.begin() as conn:
        conn.execute(annotator_states.delete().where(annotator_states.c.annotator_id == annotator))
        conn.execute(
            annotator_states.insert().values(
                project_id=1, annotator_id=annotator, status=status, updated_at=T0
            )
        )


def test_a_long_watch_alerts_once_and_again_after_it_ends_and_recurs(store):
    with store.begin() as conn:
        conn.execute(users.insert().values(id=5, email="ann@example.com"))
    set_status(store, "watch")
    assert check_dead_ends(store, SETTINGS, T0) == []  # on watch, not for long yet
    assert check_dead_ends(store, SETTINGS, T0 + timedelta(hours=23)) == []
    assert len(check_dead_ends(store, SETTINGS, T0 + timedelta(hours=24))) == 1
    assert check_dead_ends(store, SETTINGS, T0 + timedelta(hours=30)) == []
    set_status(store, "ok")
    assert check_dead_ends(store, SETTINGS, T0 + timedelta(hours=31)) == []
    set_status(store, "watch")
    t1 = T0 + timedelta(hours=32)
    assert check_dead_ends(store, SETTINGS, t1) == []  # the new watch starts now, not at T0
    assert len(check_dead_ends(store, SETTINGS, t1 + timedelta(hours=24))) == 1
    assert alert_kinds(store) == ["annotator_on_watch", "annotator_on_watch"]
    with store.read() as conn:
        titles = list(conn.execute(select(alerts.c.title)).scalars())
    assert all("ann@example.com" in t for t in titles)


def add_batch(store, kappa, ci):
    figures = {"kappa": kappa, "kappa_ci": ci, "n_items": 100, "per_category": []}
    with store.begin() as conn:
        conn.execute(
            agreement_batches.insert().values(
                project_id=1,
                source="import",
                status="complete",
                created_at=T0,
                task_count=1000,
                sample_size=100,
                seed=1,
                computed_at=T0,
                figures=figures,
            )
        )


def test_kappa_falling_across_batches_alerts_once_per_episode(store):
    add_batch(store, 0.90, [0.86, 0.94])
    add_batch(store, 0.82, [0.76, 0.88])
    assert check_dead_ends(store, SETTINGS, T0) == []  # two batches are not a trend
    add_batch(store, 0.74, [0.66, 0.81])
    assert len(check_dead_ends(store, SETTINGS, T0)) == 1
    assert check_dead_ends(store, SETTINGS, T0 + timedelta(minutes=1)) == []
    add_batch(store, 0.85, [0.80, 0.90])  # recovers: the episode ends
    assert check_dead_ends(store, SETTINGS, T0 + timedelta(minutes=2)) == []
    add_batch(store, 0.78, [0.72, 0.84])
    add_batch(store, 0.60, [0.52, 0.70])
    assert len(check_dead_ends(store, SETTINGS, T0 + timedelta(minutes=3))) == 1
    assert alert_kinds(store) == ["kappa_trend_down", "kappa_trend_down"]


def test_kappa_falling_needs_evidence_beyond_noise():
    noisy = [{"kappa": k, "kappa_ci": [k - 0.15, k + 0.15]} for k in (0.80, 0.77, 0.74)]
    assert not kappa_falling(noisy)
    assert not kappa_falling([{"kappa": k, "kappa_ci": None} for k in (0.80, 0.77, 0.74)])
    assert kappa_falling([{"kappa": k, "kappa_ci": None} for k in (0.80, 0.75, 0.70)])
    assert not kappa_falling([{"kappa": k, "kappa_ci": None} for k in (0.80, 0.60, 0.70)])


def test_sync_failing_for_n_intervals_alerts_once_per_episode(store):
    def fail(at):
        return note_sync_outcome(store, SETTINGS, 1, False, "cannot reach Label Studio", now=at)

    assert fail(T0) is None and fail(T0 + timedelta(seconds=600)) is None
    assert fail(T0 + timedelta(seconds=900)) is not None  # 3 intervals of 300 s
    assert fail(T0 + timedelta(seconds=1200)) is None
    note_sync_outcome(store, SETTINGS, 1, True, now=T0 + timedelta(seconds=1300))
    t1 = T0 + timedelta(hours=1)
    assert fail(t1) is None and fail(t1 + timedelta(seconds=899)) is None
    assert fail(t1 + timedelta(seconds=900)) is not None
    assert alert_kinds(store) == ["sync_failing", "sync_failing"]


def test_the_worker_reports_each_sync_outcome(store, store_url):
    from plugin.labelstudio import LabelStudioError
    from plugin.settings import load_settings
    from plugin.store.schema import projects
    from plugin.store.schema_alerts import alert_causes
    from plugin.worker import Worker

    env = {
        "LABEL_STUDIO_URL": "http://127.0.0.1:1",
        "LABEL_STUDIO_API_KEY": "k",
        "LSQA_WEBHOOK_SECRET": "x" * 16,
        "LSQA_DATABASE_URL": store_url,
    }
    with store.begin() as conn:
        conn.execute(projects.insert().values(id=4, connected=True))

    def unreachable():
        raise LabelStudioError("cannot reach Label Studio at http://127.0.0.1:1")

    assert Worker(store, load_settings(None, env=env), adapter_factory=unreachable).sync_connected() is False
    with store.read() as conn:
        cause = conn.execute(select(alert_causes)).mappings().one()
    assert cause["cause_key"] == "sync_failing:4" and cause["cleared_at"] is None
