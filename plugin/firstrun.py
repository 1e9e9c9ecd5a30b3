"""What a first run can meet, said so that the user knows what to do next.

``connect`` and ``serve`` are the first commands a Label Studio admin runs. Their failures come from
Label Studio (:class:`~plugin.labelstudio.LabelStudioError`, one line each) or from this machine (a port
in use). :func:`hint_for` turns a failure into one more line that says what to change; the causes are
the ones measured on Label Studio 1.23 (``shared/label-studio-notes.md`` §0, §1).
"""

from __future__ import annotations

import errno
import re
import socket
from dataclasses import dataclass

# Label Studio versions: bench/compat.py runs the real-server tests against each (README "Supported
# Label Studio versions"). All pass on 1.23; 1.22.0 failed 5 of the 14 tried, so releases from
# OLDEST_TESTED up to 1.23 are accepted with a warning, and older ones refused.
OLDEST_TESTED = (1, 20)
SUPPORTED = (1, 23)
NEWEST_TESTED = (1, 23)

SSRF_HINT = (
    "Label Studio refuses webhook URLs on local or private networks. Start Label Studio with "
    "SSRF_PROTECTION_ENABLED=false (when both run on one host or private network), or set "
    "webhook.public_url (LSQA_PUBLIC_URL) to an address Label Studio accepts."
)
LEGACY_TOKEN_HINT = (
    "Legacy API tokens are off by default since Label Studio 1.23. Create a Personal Access Token "
    "(Account & Settings -> Personal Access Token -> Create) for an admin account and put it in "
    "LABEL_STUDIO_API_KEY."
)
BAD_TOKEN_HINT = (
    "Label Studio refused the API key. Put a current Personal Access Token of an admin account in "
    "LABEL_STUDIO_API_KEY (Account & Settings -> Personal Access Token; it is shown once)."
)
NO_RIGHTS_HINT = (
    "The account behind LABEL_STUDIO_API_KEY may not do this: use the token of an owner or "
    "administrator of the organization."
)
UNREACHABLE_HINT = (
    "Is Label Studio running at {url}? Check label_studio.url (LABEL_STUDIO_URL); "
    "`curl {url}/api/version` from this machine should answer."
)
SLOW_HINT = "Label Studio answered too slowly: check its load, or raise label_studio.timeout."


class SetupError(Exception):
    """A first-run problem: ``str(exc)`` is what went wrong, ``hint`` what to do about it."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def hint_for(exc: Exception, label_studio_url: str) -> str | None:
    """What to do about a failed call to Label Studio, or None when there is nothing useful to add."""
    if isinstance(exc, SetupError):
        return exc.hint
    message, status = str(exc), getattr(exc, "status", None)
    lowered = message.lower()
    if status == 403 and ("reserved network address" in lowered or "ssrf" in lowered):
        return SSRF_HINT
    if status == 401 and "legacy token" in lowered:
        return LEGACY_TOKEN_HINT
    if status == 401 or "api key rejected" in lowered or "token refresh answered 401" in lowered:
        return BAD_TOKEN_HINT
    if status == 403:
        return NO_RIGHTS_HINT
    if status is None and "cannot reach" in lowered:
        return UNREACHABLE_HINT.format(url=label_studio_url.rstrip("/"))
    if status is None and "in time" in lowered:
        return SLOW_HINT
    return None


@dataclass(frozen=True)
class VersionVerdict:
    supported: bool
    line: str  # what connect prints about it


def parse_version(text: str) -> tuple[int, int] | None:
    match = re.match(r"\s*(\d+)\.(\d+)", text or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def judge_version(version: str) -> VersionVerdict:
    """Whether this service works with a Label Studio of ``version``: older than the oldest tested
    release is refused (the APIs we use changed before it), newer is allowed with a warning."""
    tested = f"{OLDEST_TESTED[0]}.{OLDEST_TESTED[1]} to {NEWEST_TESTED[0]}.{NEWEST_TESTED[1]}"
    parsed = parse_version(version)
    if parsed is None:
        return VersionVerdict(
            True, f"warning: cannot tell Label Studio's version ({version!r}); tested: {tested}"
        )
    if parsed < OLDEST_TESTED:
        return VersionVerdict(False, f"Label Studio {version} is older than the versions tested ({tested})")
    if parsed > NEWEST_TESTED:
        return VersionVerdict(
            True, f"warning: Label Studio {version} is newer than the versions tested ({tested})"
        )
    if parsed < SUPPORTED:
        return VersionVerdict(
            True,
            f"warning: Label Studio {version} is tested ({tested}) but some of our tests fail on it: "
            f"upgrade to {SUPPORTED[0]}.{SUPPORTED[1]} (README, Supported Label Studio versions)",
        )
    return VersionVerdict(True, f"Label Studio {version} is a tested, supported version ({tested})")


def check_version(version: str) -> str:
    """The line to print about ``version``; raises SetupError for a version too old to work with."""
    verdict = judge_version(version)
    if not verdict.supported:
        raise SetupError(
            verdict.line,
            f"Upgrade Label Studio (pip install -U label-studio) to {OLDEST_TESTED[0]}.{OLDEST_TESTED[1]} "
            "or newer.",
        )
    return verdict.line


def check_port_free(host: str, port: int) -> None:
    """Refuse to start the server on a port something else holds, with what to change."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise SetupError(
                    f"cannot listen on {host}:{port}: the port is in use",
                    "Another program (an lsqa serve already running?) holds it: stop it, or set "
                    "server.port to a free port (and webhook.public_url to match, then run connect again).",
                ) from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise SetupError(
                    f"cannot listen on {host}:{port}: this machine has no such address",
                    "Set server.host to an address of this machine (127.0.0.1, or 0.0.0.0 for all).",
                ) from None
            raise
