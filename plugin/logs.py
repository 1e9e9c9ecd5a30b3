"""Logging set-up shared by every entry point."""

import logging

# Chatty at INFO: one line per migration step and per HTTP request.
QUIET_LIBRARIES = ("alembic", "httpx", "httpcore")


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s",
    )
    if level != "DEBUG":
        for name in QUIET_LIBRARIES:
            logging.getLogger(name).setLevel(logging.WARNING)
