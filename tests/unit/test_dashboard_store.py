"""Dashboard sessions and login attempts in the store (plugin.store.dashboard), on both engines."""

from datetime import UTC, datetime, timedelta

from plugin.store.dashboard import (
    clear_login_attempts,
    create_session,
    earlier_attempts,
    end_session,
    forget_login_attempt,
    record_login_attempt,
    session_username,
)
from plugin.store.schema_dashboard import dashboard_sessions

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_a_session_lives_until_it_expires_or_ends(store):
    token = create_session(store, "qa-lead", HOUR, NOW)
    assert session_username(store, token, NOW) == "qa-lead"
    assert session_username(store, token, NOW + 2 * HOUR) is None  # expired
    assert session_username(store, "another-token", NOW) is None
    end_session(store, token)
    assert session_username(store, token, NOW) is None


def test_only_a_hash_of_the_token_is_stored_and_expired_sessions_are_removed(store):
    old = create_session(store, "qa-lead", HOUR, NOW)
    new = create_session(store, "qa-lead", HOUR, NOW + 2 * HOUR)
    with store.read() as conn:
        stored = [row.token_hash for row in conn.execute(dashboard_sessions.select())]
    assert len(stored) == 1 and new not in stored[0] and old not in stored[0]


def test_login_attempts_are_counted_per_client_in_the_window(store):
    window = timedelta(minutes=15)
    first = record_login_attempt(store, "10.0.0.1", NOW, window)
    record_login_attempt(store, "10.0.0.2", NOW, window)
    mine = record_login_attempt(store, "10.0.0.1", NOW + timedelta(minutes=1), window)
    since = NOW + timedelta(minutes=1) - window
    assert earlier_attempts(store, "10.0.0.1", mine, since) == [NOW]
    forget_login_attempt(store, first)
    assert earlier_attempts(store, "10.0.0.1", mine, since) == []
    later = record_login_attempt(store, "10.0.0.2", NOW + window + HOUR, window)  # prunes the old ones
    assert earlier_attempts(store, "10.0.0.2", later, NOW - HOUR) == []
    clear_login_attempts(store, "10.0.0.2")
    assert earlier_attempts(store, "10.0.0.2", -1, NOW - HOUR) == []
