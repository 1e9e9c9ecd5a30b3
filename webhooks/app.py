"""The Flask application factory."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from plugin.settings import Settings
from plugin.store import Store
from plugin.store.writer import InboxWriter
from webhooks.api import api
from webhooks.dashboard import dashboard
from webhooks.health import health
from webhooks.receiver import Receiver

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, store: Store | None = None) -> Flask:
    """Build the app; nothing touches the network or the database until a request comes in."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings["webhook.max_body_bytes"]
    # Acknowledged events are committed with the configured durability.
    store = store or Store(
        settings["database.url"], sqlite_synchronous=settings["database.sqlite_synchronous"]
    )
    writer = InboxWriter(store)
    app.extensions["lsqa"] = {"settings": settings, "store": store, "writer": writer}
    app.wsgi_app = Receiver(settings, writer, app.wsgi_app)  # type: ignore[method-assign]
    app.register_blueprint(health)
    app.register_blueprint(api)
    app.register_blueprint(dashboard)
    _register_error_handlers(app)
    return app


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        response = jsonify(error=exc.name, detail=exc.description)
        # Keep the exception's own headers, e.g. the `Allow` a 405 must carry (RFC 9110).
        extra = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        return response, exc.code, extra

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        # Logged by type only: request bodies carry the project token.
        log.error("unhandled %s while serving a request", type(exc).__name__)
        return jsonify(error="Internal Server Error"), 500
