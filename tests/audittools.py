"""Helpers for audit trail tests: fill the trail, tamper with it, verify it."""

from plugin.audit.trail import Entry, record, record_many
from plugin.audit.trail_io import verify_store


def append(store, n, *, project_id=7, actor="service"):
    """``n`` facts: half one by one, half in one batch, as the worker and the features do."""
    with store.begin() as conn:
        for i in range(n // 2):
            record(conn, "test.fact", project_id=project_id, actor=actor, subject=f"task:{i}", facts={"i": i})
        record_many(
            conn, [Entry("test.batch", project_id, actor, f"task:{i}", {"i": i}) for i in range(n // 2, n)]
        )


def verdict(store):
    with store.read() as conn:
        return verify_store(conn)[0]


def drop_guards(store):
    """Tampering needs the append-only triggers out of the way (what an intruder with DDL rights does)."""
    statements = (
        ["DROP TRIGGER audit_log_no_change ON audit_log"]
        if store.dialect == "postgresql"
        else ["DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"]
    )
    with store.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def tamper(store, *statements):
    drop_guards(store)
    with store.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
