"""WSGI entry point for ``lsqa serve``: the settings file comes from ``$LSQA_CONFIG``."""

import os

from plugin.logs import configure_logging
from plugin.settings import load_settings
from webhooks.app import create_app

settings = load_settings(os.environ.get("LSQA_CONFIG") or None)
configure_logging(settings["logging.level"])
app = create_app(settings)
