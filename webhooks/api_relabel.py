"""JSON API routes for relabel (placeholder); they register on the one `api` blueprint."""

from webhooks.api import api, require_token  # noqa: F401
