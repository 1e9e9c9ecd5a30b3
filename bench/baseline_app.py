"""The benchmark's baseline: the least a durable webhook receiver can do.

A minimal Flask app that inserts the raw body into SQLite (WAL) and answers 200, served by the
same gunicorn configuration as the real service. Its database path comes from $BASELINE_DB.
"""

import os
import sqlite3
import threading

from flask import Flask, request

app = Flask(__name__)
_local = threading.local()


def _connection() -> sqlite3.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(os.environ["BASELINE_DB"], timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={os.environ.get('BASELINE_SYNCHRONOUS', 'FULL')}")
        conn.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        _local.conn = conn
    return conn


@app.post("/webhooks/label-studio")
def receive():  # type: ignore[no-untyped-def]
    _connection().execute("INSERT INTO events (body) VALUES (?)", (request.get_data(as_text=True),))
    return "", 200
