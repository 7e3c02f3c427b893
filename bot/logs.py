"""Logging set-up: text or JSON lines on stderr, timestamps with their zone, secrets
never written.

`[service] log_format = "text"` writes one readable line a record; `"json"` one JSON
object a line (python-json-logger) for a log collector, with the fields `time`, `level`,
`logger`, `message`, `instance` and every `extra={…}` field the call passed. Phones and
names are masked by the code that logs them (`bot.core.mask_phone`, `mask_name`), so
they stay masked in either format; secret values (passwords, tokens) are replaced by
`***` in the message, in `extra` fields and in tracebacks.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pythonjsonlogger.json import JsonFormatter

if TYPE_CHECKING:
    from bot.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# Loggers that log request URLs at DEBUG (Telegram's carry the token) or chatter.
_NOISY = ("aiohttp.access", "aiogram.event", "aiosqlite", "pymorphy3")


def _timestamp(record: logging.LogRecord) -> str:
    """ISO 8601 with the machine's UTC offset: `2026-11-20T10:15:00.123+03:00`."""
    moment = datetime.fromtimestamp(record.created, UTC).astimezone()
    return moment.isoformat(timespec="milliseconds")


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


class RedactSecrets(logging.Filter):
    """Replaces secret values (passwords, tokens) in every log record: its message and
    its string `extra` fields."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = _redact(message, self.secrets)
        if redacted != message:
            record.msg, record.args = redacted, None
        for key, value in list(vars(record).items()):
            if key not in _RECORD_ATTRS and isinstance(value, str):
                setattr(record, key, _redact(value, self.secrets))
        return True


# The attributes every LogRecord has; anything else came from `extra`.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime",
}


class TextFormatter(logging.Formatter):
    """One readable line: zone-aware time, level, logger, message (secrets redacted
    from the traceback too)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__(TEXT_FORMAT)
        self.secrets = [s for s in secrets if s and len(s) >= 4]

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return _timestamp(record)

    def format(self, record: logging.LogRecord) -> str:
        return _redact(super().format(record), self.secrets)


class JsonLineFormatter(JsonFormatter):
    """One JSON object a line: `time`, `level`, `logger`, `message`, `instance`, the
    record's `extra` fields, and `exc_info` when there is a traceback."""

    def __init__(self, instance: str, secrets: list[str]) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            static_fields={"instance": instance},
            json_ensure_ascii=False,
        )
        self.secrets = [s for s in secrets if s and len(s) >= 4]

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["time"] = _timestamp(record)
        super().add_fields(log_data, record, message_dict)

    def format(self, record: logging.LogRecord) -> str:
        return _redact(super().format(record), self.secrets)


def _url_password(url: str) -> str:
    """The password inside a `[storage] url` (masked like the other secrets), or ""."""
    from urllib.parse import unquote, urlsplit

    try:
        password = urlsplit(url).password
    except ValueError:
        return ""
    return "" if password is None else unquote(password)


def secrets_of(settings: Settings) -> list[str]:
    url_password = _url_password(settings.storage.url.get_secret_value())
    return [
        url_password,
        os.environ.get("PGPASSWORD", "") if settings.storage.url.get_secret_value() else "",
        settings.smpp.password.get_secret_value(),
        settings.telegram.token.get_secret_value(),
        settings.telegram.webhook_secret.get_secret_value(),
        settings.api.token.get_secret_value(),
        settings.email.smtp_password.get_secret_value(),
        settings.staff.session_secret.get_secret_value(),
        settings.max.token.get_secret_value(),
        settings.max.webhook_secret.get_secret_value(),
    ]


def setup_logging(settings: Settings, *, quiet: bool = False) -> None:
    """Route every log record to stderr in the format `[service] log_format` names."""
    secrets = secrets_of(settings)
    handler = logging.StreamHandler(sys.stderr)
    formatter: logging.Formatter
    if settings.service.log_format == "json":
        formatter = JsonLineFormatter(settings.instance, secrets)
    else:
        formatter = TextFormatter(secrets)
    handler.setFormatter(formatter)
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    level = logging.WARNING if quiet else getattr(logging, settings.service.log_level.upper(), 20)
    root.setLevel(level)
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
