"""The Flask application factory."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from plugin.settings import Settings
from plugin.store import Store
from plugin.store.writer import InboxWriter
from webhooks.api import api
from webhooks.dashboard import dashboard
from webhooks.health import health
from webhooks.receiver import Receiver, WSGIApp

log = logging.getLogger(__name__)

# Every route but the webhook takes forms of a few fields at most (the API only answers GETs): an
# unauthenticated 90 MB form POST to /dashboard/login must be refused, not read and parsed.
OTHER_ROUTES_MAX_BODY_BYTES = 64 * 1024


def create_app(settings: Settings, *, store: Store | None = None) -> Flask:
    """Build the app; nothing touches the network or the database until a request comes in."""
    app = Flask(__name__)
    # The webhook (Receiver, below) enforces webhook.max_body_bytes itself.
    app.config["MAX_CONTENT_LENGTH"] = OTHER_ROUTES_MAX_BODY_BYTES
    # Acknowledged events are committed with the configured durability.
    store = store or Store(
        settings["database.url"], sqlite_synchronous=settings["database.sqlite_synchronous"]
    )
    writer = InboxWriter(store)
    app.extensions["lsqa"] = {"settings": settings, "store": store, "writer": writer}
    receiver = Receiver(settings, writer, app.wsgi_app)
    app.wsgi_app = CloseOnClientError(receiver)  # type: ignore[method-assign]
    if proxies := settings["server.trusted_proxies"]:
        # Behind a reverse proxy every peer is the proxy: the login throttle needs the client's address.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
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


class CloseOnClientError:
    """WSGI middleware: every 4xx answer closes its connection.

    Otherwise the server keeps the connection for the client's next request, and first reads and
    discards the body the application refused (a 401 or 413 answers before reading it): a slow
    client would hold a server thread while it trickles that body in. gunicorn drops the
    ``Connection`` header an application sets, so the close is also asked of gunicorn's response
    object (the owner of ``start_response``); other servers honour the header.
    """

    def __init__(self, app: WSGIApp) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if status.startswith("4"):
                headers = [(k, v) for k, v in headers if k.lower() != "connection"]
                headers.append(("Connection", "close"))
                force_close = getattr(getattr(start_response, "__self__", None), "force_close", None)
                if callable(force_close):
                    force_close()
            return start_response(status, headers, exc_info)

        return self._app(environ, start)
