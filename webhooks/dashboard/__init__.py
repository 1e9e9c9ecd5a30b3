"""The dashboard (placeholder): a blueprint served by the app, behind login."""

from flask import Blueprint

dashboard = Blueprint("dashboard", __name__, url_prefix="/dashboard")
