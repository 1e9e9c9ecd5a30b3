"""Tables behind alerting once per cause and retried deliveries (issue #12), on the store's one MetaData."""

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Integer, String, Table, Text

from plugin.store.schema import Id, metadata

# One row per cause of an alert ("job_failed:3:create_copy", "sync_failing:3", ...). An episode
# runs from the first time the cause is seen until it is cleared; it raises at most one alert.
alert_causes = Table(
    "alert_causes",
    metadata,
    Column("cause_key", String(200), primary_key=True),
    Column("project_id", BigInteger),
    Column("first_seen_at", DateTime(timezone=True), nullable=False),  # this episode's start
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("occurrences", Integer, nullable=False),  # times seen in this episode
    Column("raised_at", DateTime(timezone=True)),  # null: seen, not (yet) worth an alert
    Column("alert_id", BigInteger),
    Column("cleared_at", DateTime(timezone=True)),  # set: the episode is over
)

# Every attempt to deliver an alert on a channel, kept (the alerts row holds the latest outcome).
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("alert_id", BigInteger, nullable=False, index=True),
    Column("attempt", Integer, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("target", Text, nullable=False),
    Column("delivered", Boolean, nullable=False),
    Column("error", Text),
    Column("attempted_at", DateTime(timezone=True), nullable=False),
)
