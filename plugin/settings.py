"""Every setting of the service, declared once.

The registry below is the single source of truth: loading and validation, the environment
overrides, ``config.example.yaml`` and the README's settings table are all checked against it
(``tests/unit/test_settings_docs.py``).
"""

from __future__ import annotations

import copy
import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from plugin.settings_file import SettingsFileError, read_settings_file


class ConfigError(Exception):
    """A configuration problem, always one line that names the offending key."""


@dataclass(frozen=True)
class Setting:
    key: str
    type: type
    default: Any
    help: str
    env: str | None = None
    required: bool = False
    secret: bool = False
    minimum: float | None = None


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "label_studio.url",
        str,
        None,
        "Base URL of the Label Studio server.",
        env="LABEL_STUDIO_URL",
        required=True,
    ),
    Setting(
        "label_studio.api_key",
        str,
        None,
        "Personal Access Token of the service account (a legacy API token also works).",
        env="LABEL_STUDIO_API_KEY",
        required=True,
        secret=True,
    ),
    Setting(
        "label_studio.timeout", float, 10.0, "Seconds before a call to Label Studio gives up.", minimum=0.1
    ),
    Setting(
        "webhook.secret",
        str,
        None,
        "Shared secret Label Studio sends in the webhook header (at least 16 characters).",
        env="LSQA_WEBHOOK_SECRET",
        required=True,
        secret=True,
    ),
    Setting("webhook.header", str, "X-LSQA-Secret", "Name of the header that carries the secret."),
    Setting(
        "webhook.public_url",
        str,
        None,
        "Base URL at which Label Studio reaches this service (default: http://server.host:server.port).",
        env="LSQA_PUBLIC_URL",
    ),
    Setting(
        "webhook.max_body_bytes",
        int,
        100 * 1024 * 1024,
        "Largest webhook body accepted; larger ones get 413.",
        minimum=1024,
    ),
    Setting(
        "database.url",
        str,
        "sqlite:///lsqa.db",
        "SQLAlchemy URL of the store: a SQLite file or postgresql://user@host/db.",
        env="LSQA_DATABASE_URL",
    ),
    Setting(
        "database.sqlite_synchronous",
        str,
        "FULL",
        "SQLite durability: FULL survives power loss, NORMAL survives process crashes only.",
    ),
    Setting("server.host", str, "127.0.0.1", "Address the HTTP server binds to."),
    Setting("server.port", int, 8787, "Port the HTTP server binds to.", minimum=1),
    Setting("server.workers", int, 2, "WSGI worker processes (each also writes the inbox).", minimum=1),
    Setting("server.threads", int, 8, "Threads per WSGI worker process.", minimum=1),
    Setting(
        "server.read_timeout",
        float,
        10.0,
        "Seconds a client has to send a whole request (headers and body); slower ones are cut off.",
        minimum=1.0,
    ),
    Setting(
        "server.trusted_proxies",
        int,
        0,
        "Reverse proxies in front of the service whose X-Forwarded-For/-Proto are believed (1 behind nginx).",
        minimum=0,
    ),
    Setting("worker.enabled", bool, True, "Run the event worker inside `lsqa serve`."),
    Setting("worker.poll_interval", float, 0.2, "Seconds between inbox polls when idle.", minimum=0.01),
    Setting("worker.batch_size", int, 200, "Events processed per transaction.", minimum=1),
    Setting("worker.max_attempts", int, 5, "Attempts before an event is parked as failed.", minimum=1),
    Setting(
        "worker.inbox_retention_days",
        float,
        30.0,
        "Days after which a processed event's raw body is erased from the inbox (0 keeps it forever).",
        minimum=0,
    ),
    Setting(
        "worker.sync_interval",
        float,
        300.0,
        "Seconds between reconciliations with the Label Studio API (0 disables).",
        minimum=0,
    ),
    Setting(
        "worker.job_max_attempts",
        int,
        20,
        "Attempts before a job whose Label Studio call keeps failing (down, slow, 5xx) fails for good.",
        minimum=1,
    ),
    Setting(
        "worker.retry_backoff_seconds",
        float,
        30.0,
        "Wait before retrying an event that failed, doubled after each failed attempt (at most an hour).",
        minimum=0,
    ),
    Setting(
        "worker.stuck_after_seconds",
        float,
        300.0,
        "/healthz answers 503 when events have waited this long and the worker has not moved for as long.",
        minimum=1,
    ),
    Setting(
        "worker.full_sync_interval",
        float,
        86400.0,
        "Seconds between full syncs, which list every task (deletions the incremental sync cannot see); "
        "0 leaves only the first.",
        minimum=0,
    ),
    Setting(
        "worker.sync_page_size",
        int,
        500,
        "Tasks read from Label Studio per page of a sync; event processing waits at most one page.",
        minimum=10,
    ),
    Setting("gold.enabled", bool, True, "Seed hidden gold copies into annotators' queues."),
    Setting(
        "gold.rate",
        float,
        0.04,
        "Share of each annotator's regular work that is gold (aim inside 3–5 %).",
        minimum=0.001,
    ),
    Setting(
        "gold.jitter",
        float,
        0.35,
        "Random shift of each gold item, as a share of the gap between items.",
        minimum=0,
    ),
    Setting(
        "gold.onboarding_items", int, 5, "Gold items a new annotator gets before the normal rate.", minimum=0
    ),
    Setting("gold.quiz_items", int, 10, "Gold items in a requalification quiz.", minimum=1),
    Setting(
        "gold.low_library_items",
        int,
        10,
        "Alert when an annotator has this many unseen gold items left, in all or in a class.",
        minimum=0,
    ),
    Setting(
        "quality.preset",
        str,
        "default",
        "Accuracy threshold preset: default (0.90), safety_critical (0.95) or nlp (0.85).",
    ),
    Setting(
        "quality.threshold", float, None, "Accuracy threshold; overrides the preset when set.", minimum=0.01
    ),
    Setting(
        "quality.project_presets",
        dict,
        {},
        "Preset per project, e.g. {12: safety_critical}; other projects use quality.preset.",
    ),
    Setting(
        "quality.min_answers",
        int,
        10,
        "Gold answers needed before any decision about an annotator.",
        minimum=1,
    ),
    Setting("quality.window", int, 50, "Rolling window of gold answers behind accuracy figures.", minimum=1),
    Setting(
        "quality.quiz_pass_mark",
        float,
        None,
        "Quiz accuracy needed to pass (default: the threshold).",
        minimum=0.01,
    ),
    Setting(
        "quality.quiz_retries",
        int,
        2,
        "Further quizzes after a failed one; then the annotator stays flagged for a person to decide.",
        minimum=0,
    ),
    Setting(
        "relabel.project_id",
        int,
        None,
        "Label Studio project that receives every relabel task (unset: one is created per source project).",
        minimum=1,
    ),
    Setting(
        "relabel.model_version",
        str,
        "lsqa-relabel",
        "model_version of the relabel project and of the pre-filled predictions (they show only when equal).",
    ),
    Setting(
        "relabel.boundary_iou",
        float,
        0.85,
        "A gold answer with the right class but box IoU below this is a boundary candidate.",
        minimum=0.01,
    ),
    Setting(
        "relabel.boundary_f1",
        float,
        0.90,
        "A gold answer with the right class but span character F1 below this is a boundary candidate.",
        minimum=0.01,
    ),
    Setting(
        "relabel.systematic_min_answers",
        int,
        5,
        "Gold answers of a class an annotator needs before a systematic pattern is judged.",
        minimum=1,
    ),
    Setting(
        "relabel.systematic_accuracy",
        float,
        0.6,
        "An annotator's accuracy on a class at or below this marks a systematic error pattern.",
        minimum=0,
    ),
    Setting(
        "relabel.cl_enabled",
        bool,
        True,
        "Scan projects with scored model predictions for label issues (confident learning, cleanlab).",
    ),
    Setting(
        "relabel.push_interval",
        int,
        600,
        "Seconds between the worker's relabel pushes and scans (0: only by lsqa relabel push).",
        minimum=0,
    ),
    Setting(
        "relabel.systematic_max_items",
        int,
        50,
        "Most records one annotator's systematic error patterns queue for relabeling (newest first).",
        minimum=1,
    ),
    Setting(
        "agreement.enabled", bool, True, "Double-annotate a sample of every batch and measure agreement."
    ),
    Setting(
        "agreement.batch_mode",
        str,
        "import",
        "What makes a batch: import (one per import) or every_n (every agreement.batch_size new tasks).",
    ),
    Setting("agreement.batch_size", int, 2000, "New tasks per batch in every_n mode.", minimum=1),
    Setting(
        "agreement.sample_rate",
        float,
        0.10,
        "Share of each batch labelled by two different annotators (0 to 1).",
        minimum=0.0,
    ),
    Setting(
        "agreement.kappa_threshold",
        float,
        0.75,
        "Kappa below which a label category raises a guideline-review alert.",
        minimum=-1.0,
    ),
    Setting(
        "agreement.bootstrap",
        int,
        1000,
        "Bootstrap resamples behind each agreement interval (0: no intervals).",
        minimum=0,
    ),
    Setting(
        "agreement.min_items",
        int,
        30,
        "Items a category needs in a batch's sample before its low kappa can raise an alert.",
        minimum=1,
    ),
    Setting(
        "agreement.max_open_samples",
        int,
        20,
        "Sampled tasks per project with their overlap raised at a time (0: the whole sample at once).",
        minimum=0,
    ),
    Setting(
        "alerts.slack_webhook_url",
        str,
        None,
        "Slack-compatible incoming webhook for alerts.",
        env="LSQA_SLACK_WEBHOOK_URL",
        secret=True,
    ),
    Setting("alerts.smtp_host", str, None, "SMTP server for alert e-mail (unset: no e-mail)."),
    Setting("alerts.smtp_port", int, 587, "SMTP port.", minimum=1),
    Setting("alerts.smtp_starttls", bool, True, "Use STARTTLS with the SMTP server."),
    Setting("alerts.smtp_username", str, None, "SMTP login (optional)."),
    Setting("alerts.smtp_password", str, None, "SMTP password.", env="LSQA_SMTP_PASSWORD", secret=True),
    Setting("alerts.email_from", str, None, "Sender address of alert e-mail."),
    Setting("alerts.email_to", list, [], "Recipients of alert e-mail."),
    Setting(
        "alerts.delivery_attempts", int, 6, "Attempts to deliver an alert on a failing channel.", minimum=1
    ),
    Setting(
        "alerts.sync_failure_intervals",
        int,
        3,
        "Alert when a project's sync has failed for this many `worker.sync_interval`s.",
        minimum=1,
    ),
    Setting(
        "alerts.watch_hours",
        float,
        24.0,
        "Alert when an annotator stays on watch this many hours.",
        minimum=0,
    ),
    Setting(
        "alerts.kappa_trend_batches",
        int,
        3,
        "Alert when kappa falls across this many consecutive batches.",
        minimum=2,
    ),
    Setting(
        "api.token",
        str,
        None,
        "Bearer token for the JSON API (unset: the API answers 503).",
        env="LSQA_API_TOKEN",
        secret=True,
    ),
    Setting(
        "dashboard.username",
        str,
        None,
        "Login name for the dashboard (unset: the dashboard answers 503).",
        env="LSQA_DASHBOARD_USERNAME",
    ),
    Setting(
        "dashboard.password",
        str,
        None,
        "Password for the dashboard (unset: the dashboard answers 503).",
        env="LSQA_DASHBOARD_PASSWORD",
        secret=True,
    ),
    Setting(
        "dashboard.session_secret",
        str,
        None,
        "Key that signs dashboard session cookies, 32+ characters (unset: the dashboard answers 503).",
        env="LSQA_DASHBOARD_SESSION_SECRET",
        secret=True,
    ),
    Setting(
        "dashboard.secure_cookie",
        bool,
        True,
        "Send the session cookie over HTTPS only (browsers also accept it from http://localhost).",
    ),
    Setting("logging.level", str, "INFO", "Log level: DEBUG, INFO, WARNING or ERROR."),
)

_BY_KEY = {s.key: s for s in SETTINGS}
_SECTIONS = {s.key.rsplit(".", 1)[0] for s in SETTINGS}
_CHOICES = {
    "database.sqlite_synchronous": {"FULL", "NORMAL", "EXTRA"},
    "logging.level": {"DEBUG", "INFO", "WARNING", "ERROR"},
    "quality.preset": {"default", "safety_critical", "nlp"},
    "agreement.batch_mode": {"import", "every_n"},
}
# Upper bounds, kept beside the choices so that settings appended to SETTINGS need no edit here. Ratios
# stop at 1; ports at 65535; counts, sizes and intervals at values far past any real use, so that a typo
# (an extra zero or three) is caught rather than tying up memory, a thread or a core.
_MAXIMUM: dict[str, float] = {
    "label_studio.timeout": 600,
    "webhook.max_body_bytes": 2**30,
    "server.port": 65535,
    "server.workers": 64,
    "server.threads": 256,
    "worker.poll_interval": 60,
    "worker.batch_size": 10_000,
    "worker.max_attempts": 100,
    "worker.inbox_retention_days": 3650,
    "worker.sync_interval": 86_400,
    "gold.rate": 1,
    "gold.jitter": 1,
    "gold.onboarding_items": 1000,
    "gold.quiz_items": 1000,
    "quality.threshold": 1,
    "quality.min_answers": 100_000,
    "quality.window": 100_000,
    "quality.quiz_pass_mark": 1,
    "quality.quiz_retries": 100,
    "relabel.project_id": 2**63 - 1,
    "relabel.boundary_iou": 1,
    "relabel.boundary_f1": 1,
    "relabel.systematic_min_answers": 100_000,
    "relabel.systematic_accuracy": 1,
    "agreement.batch_size": 1_000_000,
    "agreement.sample_rate": 1,
    "agreement.kappa_threshold": 1,
    "agreement.bootstrap": 100_000,
    "alerts.smtp_port": 65535,
}
# Label Studio accepts ^[a-zA-Z0-9-_]+$ for webhook header names, but gunicorn (>= 22) drops every
# header whose name has "_" (header_map="drop"), so such a secret would never arrive: every event 401.
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]+")
# Framing and hop-by-hop headers: HTTP clients, proxies and servers set, rewrite or strip them.
_RESERVED_HEADERS = frozenset(
    {"content-length", "content-type", "content-encoding", "host", "connection", "keep-alive", "te"}
    | {"transfer-encoding", "trailer", "upgrade", "expect", "proxy-connection", "proxy-authorization"}
)


class Settings(Mapping[str, Any]):
    """Validated settings, read by dotted key: ``settings["webhook.secret"]``."""

    def __init__(self, values: dict[str, Any], source: str | None = None) -> None:
        self._values = values
        self.source = source

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:  # never print secrets
        shown = {k: ("***" if _BY_KEY[k].secret and v else v) for k, v in self._values.items()}
        return f"Settings({shown})"

    @property
    def webhook_url(self) -> str:
        """The full URL Label Studio must call."""
        base = self["webhook.public_url"] or f"http://{self['server.host']}:{self['server.port']}"
        return base.rstrip("/") + "/webhooks/label-studio"


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping")
    flat: dict[str, Any] = {}
    for name, value in tree.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and key not in _BY_KEY:
            flat.update(_flatten(value, key + "."))
        elif key in _SECTIONS:
            raise ConfigError(f"{key}: expected a mapping")
        else:
            flat[key] = value
    return flat


def _coerce(setting: Setting, value: Any, from_env: bool) -> Any:
    expected = setting.type
    if from_env:
        try:
            if expected is list:
                return [part.strip() for part in value.split(",") if part.strip()]
            if expected is bool:
                lowered = value.strip().lower()
                if lowered not in {"1", "0", "true", "false", "yes", "no"}:
                    raise ValueError(value)
                return lowered in {"1", "true", "yes"}
            return expected(value)
        except ValueError:
            raise ConfigError(f"{setting.key}: expected {expected.__name__} in ${setting.env}") from None
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
        raise ConfigError(f"{setting.key}: expected {expected.__name__}, got {type(value).__name__}")
    return value


def _check(setting: Setting, value: Any) -> None:
    if value is None:
        if setting.required:
            where = f" (or ${setting.env})" if setting.env else ""
            raise ConfigError(f"{setting.key}: required value missing{where}")
        return
    if setting.type in (int, float):
        _check_range(setting.key, value, setting.minimum, _MAXIMUM.get(setting.key))
    choices = _CHOICES.get(setting.key)
    if choices and value not in choices:
        raise ConfigError(f"{setting.key}: must be one of {', '.join(sorted(choices))}")
    if setting.type is list and not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{setting.key}: expected a list of strings")
    if setting.key == "quality.project_presets":
        for project, preset in value.items():
            if not isinstance(project, int) or preset not in _CHOICES["quality.preset"]:
                raise ConfigError(
                    f"{setting.key}: expected project id: preset pairs, got {project!r}: {preset!r}"
                )
            _check_range(f"{setting.key}.{project}", project, 1, 2**63 - 1)
    if setting.secret:
        _check_secret(setting.key, value)
    if setting.key == "webhook.header":
        _check_header_name(value)


def _check_range(key: str, value: float, minimum: float | None, maximum: float | None) -> None:
    if isinstance(value, float) and not math.isfinite(
        value
    ):  # NaN passes every comparison; `poll_interval: .nan` spun a core
        raise ConfigError(f"{key}: must be a finite number")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{key}: must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{key}: must be at most {maximum}")


def _check_secret(key: str, value: str) -> None:
    # Refused, not stripped: the value is compared byte for byte with what Label Studio, a browser or
    # an API client sends, and quietly using something other than what was written would make a
    # mismatch nobody can see. Never echo the value.
    if value != value.strip():
        raise ConfigError(f"{key}: has leading or trailing whitespace (a secret is used exactly as written)")
    minimum = {"webhook.secret": 16, "dashboard.session_secret": 32}.get(key)
    if minimum and len(value) < minimum:
        raise ConfigError(f"{key}: must be at least {minimum} characters")


def _check_header_name(name: str) -> None:
    if not _HEADER_NAME.fullmatch(name):
        raise ConfigError(
            "webhook.header: only letters, digits and '-' (Label Studio also allows '_', "
            "but gunicorn drops headers with '_')"
        )
    if name.lower() in _RESERVED_HEADERS:
        raise ConfigError(f"webhook.header: {name} is set by HTTP itself; choose another name")


def load_settings(path: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None) -> Settings:
    """Read the YAML file (optional), apply environment overrides, validate everything."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = read_settings_file(path)
        except SettingsFileError as exc:
            raise ConfigError(f"config: {exc}") from None
        raw = _flatten(loaded or {})
    unknown = sorted(set(raw) - set(_BY_KEY))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown setting")
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        value = raw.get(setting.key)
        value = None if value is None else _coerce(setting, value, from_env=False)
        if setting.env and env.get(setting.env):
            value = _coerce(setting, env[setting.env], from_env=True)
        if value is None:
            value = copy.copy(setting.default)  # never hand out the registry's own list or dict
        _check(setting, value)
        values[setting.key] = value
    return Settings(values, source=str(path) if path else None)


def review_settings(settings: Settings) -> Any:
    """The requalification settings, as the gold engine takes them."""
    from plugin.gold.review import ReviewSettings

    return ReviewSettings(
        default_preset=settings["quality.preset"],
        threshold=settings["quality.threshold"],
        project_presets=tuple(sorted(settings["quality.project_presets"].items())),
        min_answers=settings["quality.min_answers"],
        window=settings["quality.window"],
        quiz_items=settings["gold.quiz_items"],
        quiz_pass_mark=settings["quality.quiz_pass_mark"],
        quiz_retries=settings["quality.quiz_retries"],
    )


def alert_settings(settings: Settings) -> Any:
    """Where alerts go, as plugin.alerts takes it."""
    from plugin.alerts import AlertSettings

    return AlertSettings(
        slack_webhook_url=settings["alerts.slack_webhook_url"],
        smtp_host=settings["alerts.smtp_host"],
        smtp_port=settings["alerts.smtp_port"],
        smtp_starttls=settings["alerts.smtp_starttls"],
        smtp_username=settings["alerts.smtp_username"],
        smtp_password=settings["alerts.smtp_password"],
        email_from=settings["alerts.email_from"],
        email_to=tuple(settings["alerts.email_to"]),
    )
