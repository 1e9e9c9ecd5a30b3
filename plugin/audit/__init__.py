"""The append-only, hash-chained audit trail and the offline audit of an export (issue #6)."""
