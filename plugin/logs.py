"""Logging set-up shared by every entry point."""

import logging
import re

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


# scheme://netloc in any text; the netloc ends where a path, query, fragment, space or quote starts
_URL_AUTHORITY = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<netloc>[^/?#\s'\"<>]*)")


def mask_url_password(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``.

    For a URL alone (``http://user:pw@host`` -> ``http://user:***@host``) or any message that
    contains one, such as an exception's text. Use it wherever a URL is printed, logged or stored
    for people to read. The user name stays: it tells which account, and is not a secret."""
    return _URL_AUTHORITY.sub(_mask_authority, text)


def _mask_authority(match: re.Match[str]) -> str:
    userinfo, at, host = match["netloc"].rpartition("@")  # a raw "@" may sit in the password
    user, _, password = userinfo.partition(":")
    if not at or not password:
        return match[0]
    return f"{match['scheme']}{user}:***@{host}"
