"""Settings: `settings.toml` (or `--config FILE` / `GATEWAY_CONFIG`), overridden by
`GATEWAY__<SECTION>__<KEY>` environment variables (docs/interfaces.md §2).

Keys absent from the file take the defaults below. Secrets (SMPP password, Telegram
token, webhook secret, API token) are meant to come from the environment; they are
`SecretStr`, so they print as `**********` in logs and errors.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import tomllib
from datetime import time
from pathlib import Path
from typing import Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from storage.open import StoreTarget, parse_store_url, store_target, url_has_password

DEFAULT_CONFIG = Path("settings.toml")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(Exception):
    """A settings file or value is wrong; the message names the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServiceSettings(_Section):
    timezone: str = "Europe/Moscow"
    phone_region: str = "RU"
    # Name the customers see in greetings and notices.
    company: str = "ЭнергоСбыт"
    # The name signed under SMS notices; every notice fits two SMS parts with up to 12
    # characters here (docs/architecture.md). Empty: `company`.
    sms_signature: str = Field("", max_length=12)
    log_level: str = "INFO"
    # "text": one readable line a record; "json": one JSON object a line, for a log
    # collector (docs/operations.md).
    log_format: Literal["text", "json"] = "text"
    # Names this instance in logs, /healthz and /metrics; empty: "<host name>:<[api] port>".
    instance_id: str = ""
    # Several instances on one PostgreSQL store (docs/interfaces.md §13): how often this
    # instance says it is alive and a follower tries for leadership. Live instances are
    # those heard within 3 periods; a dead leader is replaced within about one period
    # (at most 10 s, so that takeover stays within 30 s; docs/operations.md).
    heartbeat_seconds: float = Field(5.0, gt=0, le=10)

    @field_validator("phone_region")
    @classmethod
    def _region(cls, value: str) -> str:
        # «XX» was accepted and then no phone without +7 could be read.
        if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {value!r} (a country code such as RU)")
        return value.upper()

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in _LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(_LOG_LEVELS)}")
        return value.upper()

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class StorageSettings(_Section):
    """`url` chooses the store (docs/interfaces.md §13): empty or `sqlite:///PATH` is the
    SQLite file (`path` is its short form; a sqlite url sets `path`), a
    `postgresql://USER@HOST[:PORT]/DB` url is PostgreSQL (the password from
    GATEWAY__STORAGE__URL or PGPASSWORD, never the file). `url` wins over `path`; with
    PostgreSQL, `path` is not used (SMS parts are kept in the store, shared by instances)."""

    path: Path = Path("var/gateway.db")
    url: SecretStr = SecretStr("")

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        parse_store_url(value.get_secret_value())  # ValueError with the password masked
        return SecretStr(value.get_secret_value().strip())

    @model_validator(mode="after")
    def _sqlite_url(self) -> Self:
        target = parse_store_url(self.url.get_secret_value())
        if target is not None and target.path is not None:
            self.path = self._file(target.path)
        return self

    @property
    def target(self) -> StoreTarget:
        return store_target(self.url.get_secret_value(), self.path)

    @field_validator("path")
    @classmethod
    def _file(cls, value: Path) -> Path:
        # An empty path (".") or a directory ended in a traceback from SQLite.
        if str(value) in ("", ".") or value.is_dir():
            raise ValueError(f"must name a database file, not the directory {str(value)!r}")
        return value


class DemoSettings(_Section):
    enabled: bool = True


class SmppSettings(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(2775, ge=0, le=65535)  # 0: ephemeral (simulator in tests)
    system_id: str = "gateway"
    password: SecretStr = SecretStr("")
    system_type: str = ""
    source_addr: str = "7555"
    simulator: bool = True
    # submit_sm per second on each bind (docs/interfaces.md §13).
    tps: float = Field(50, gt=0)
    # The operator's grant for the account, over every bind of every instance sharing
    # the database; 0: no cap.
    tps_total: float = Field(0, ge=0)
    # SMPP sessions this instance binds with the same credentials.
    binds: int = Field(1, ge=1, le=64)
    window: int = Field(10, ge=1, le=1000)
    enquire_link_interval: float = Field(30, gt=0)
    response_timeout: float = Field(10, gt=0)
    reconnect_max_delay: float = Field(60, gt=0)
    # Seconds to wait for missing parts of a concatenated MO before handling what came.
    reassembly_timeout: float = Field(300, gt=0)
    request_receipts: bool = True


class TelegramSettings(_Section):
    enabled: bool = False
    token: SecretStr = SecretStr("")
    api_base: str = "https://api.telegram.org"
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str = ""
    webhook_secret: SecretStr = SecretStr("")
    webhook_path: str = "/telegram/webhook"
    staff_ids: list[int] = Field(default_factory=list)
    # Chat that receives the staff digest (appeals approaching their due time).
    staff_chat_id: int | None = None


class MaxSettings(_Section):
    """The MAX messenger bot (docs/interfaces.md §14). `token` and `webhook_secret`
    come from the environment only (GATEWAY__MAX__TOKEN, GATEWAY__MAX__WEBHOOK_SECRET)."""

    enabled: bool = False
    token: SecretStr = SecretStr("")  # environment only
    # The address the official API schema (2026-07) gives.
    api_base: str = "https://platform-api2.max.ru"
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str = ""
    webhook_secret: SecretStr = SecretStr("")  # environment only
    webhook_path: str = "/max/webhook"

    @field_validator("webhook_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with /")
        return value


class ReadingsSettings(_Section):
    window_first_day: int = Field(18, ge=1, le=28)
    window_last_day: int = Field(25, ge=1, le=28)
    consumption_cap_kwh: int = Field(5000, gt=0)
    average_factor: float = Field(3.0, gt=1)
    account_digits: tuple[int, int] = (8, 12)
    # Export whole kWh to billing (truncate fractions) instead of the value as sent.
    export_truncate: bool = False

    @model_validator(mode="after")
    def _window(self) -> Self:
        # first 26, last 25 was accepted: no day was ever inside the window.
        if self.window_last_day < self.window_first_day:
            raise ValueError(
                f"window_first_day ({self.window_first_day}) is after "
                f"window_last_day ({self.window_last_day})"
            )
        return self

    @field_validator("account_digits")
    @classmethod
    def _digits(cls, value: tuple[int, int]) -> tuple[int, int]:
        low, high = value
        if not 4 <= low <= high <= 20:
            raise ValueError("must be [min, max] with 4 <= min <= max <= 20")
        return value


_HOURS = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def hours_window(text: str) -> tuple[time, time] | None:
    """«21:00-09:00» → (21:00, 09:00); None when it is not such a range of local times."""
    match = _HOURS.match(text.strip())
    if not match or int(match[1]) > 23 or int(match[3]) > 23:
        return None
    if int(match[2]) > 59 or int(match[4]) > 59:
        return None
    return time(int(match[1]), int(match[2])), time(int(match[3]), int(match[4]))


class NotificationsSettings(_Section):
    quiet_hours: str = "21:00-09:00"
    confirm_above: int = Field(1000, ge=0)
    telegram_rate: float = Field(30, gt=0)
    telegram_chat_rate: float = Field(1, gt=0)
    # MAX Bot API requests a second (its documented limit is about 30).
    max_rate: float = Field(30, gt=0)
    max_attempts: int = Field(5, ge=1)
    lease_seconds: float = Field(60, gt=0)
    batch_size: int = Field(200, ge=1)
    reminder_hour: int = Field(10, ge=0, le=23)
    # Receipts naming a message id not (yet) recorded are kept this long, then dropped.
    early_receipt_minutes: float = Field(10, gt=0)

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str) -> str:
        if hours_window(value) is None:
            raise ValueError("must look like 21:00-09:00")
        return value.strip()

    @property
    def quiet_window(self) -> tuple[time, time]:
        window = hours_window(self.quiet_hours)
        assert window is not None  # validated above
        return window


class AppealsSettings(_Section):
    urgent_hours: int = Field(24, ge=1)  # outage, power_quality
    working_days: int = Field(3, ge=1)  # every other category
    offices_file: Path | None = None  # None: the list shipped with the project


class StaffSettings(_Section):
    """People behind the bot: the inbox's working hours and answer time (docs/interfaces.md
    §12). `session_secret` signs staff web sessions; environment only, never logged."""

    working_hours: str = "09:00-18:00"  # local, on working days as for appeals
    answer_within_hours: int = Field(4, ge=1, le=200)  # working hours
    attachment_max_mb: int = Field(10, ge=0, le=100)
    session_secret: SecretStr = SecretStr("")
    # Frequent answers offered in the workspace's reply box (TOML, [[answer]] title/text);
    # None: the list shipped with the project (staff/data/answers.toml).
    answer_templates_file: Path | None = None

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        window = hours_window(value)
        if window is None:
            raise ValueError("must look like 09:00-18:00")
        if window[1] <= window[0]:
            raise ValueError("the working day must end after it starts (09:00-18:00)")
        return value.strip()

    @property
    def working_window(self) -> tuple[time, time]:
        window = hours_window(self.working_hours)
        assert window is not None  # validated above
        return window


class IdentitySettings(_Section):
    codes_per_day: int = Field(3, ge=1)
    code_ttl_minutes: int = Field(10, ge=1)
    code_tries: int = Field(3, ge=1)
    failed_attempts_per_hour: int = Field(5, ge=1)
    # Readings from a number not on the account, per sender: submissions an hour,
    # different accounts a day (the account's own contacts are never limited).
    unlinked_readings_per_hour: int = Field(5, ge=1)
    unlinked_accounts_per_day: int = Field(3, ge=1)
    # ...and per account from all such senders together (its own contacts never count)
    unlinked_per_account_per_day: int = Field(10, ge=1)


class ApiSettings(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    token: SecretStr = SecretStr("")

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


class EmailSettings(_Section):
    """The e-mail channel (docs/interfaces.md §14): inbound SMTP from the company mail
    server, outbound through the company relay."""

    enabled: bool = False
    address: str = ""  # ours, e.g. info@retailer.example; the only accepted recipient
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(2525, ge=0, le=65535)  # 0: ephemeral (tests)
    smtp_host: str = ""
    smtp_port: int = Field(25, ge=0, le=65535)
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")  # environment only
    smtp_starttls: bool = True
    smtp_timeout: float = Field(30, gt=0)
    # The relay whose Authentication-Results header counts (RFC 8601 authserv-id).
    authserv_id: str = ""
    max_mb: float = Field(10, gt=0, le=100)  # larger mails get SMTP 552
    rate: float = Field(5, gt=0)  # mails per second to the relay
    answers_per_hour: int = Field(10, ge=1)  # mails to one address per hour (floods, loops)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        value = value.strip().lower()
        if value and (value.count("@") != 1 or "." not in value.rpartition("@")[2]):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.enabled and not self.address:
            raise ValueError("address is required when the e-mail channel is enabled")
        if self.enabled and not self.smtp_host:
            raise ValueError("smtp_host (the company relay) is required when enabled")
        return self


class _TomlSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class Settings(BaseSettings):
    """All settings. Build with `load_settings`, not directly."""

    model_config = SettingsConfigDict(
        env_prefix="GATEWAY__",
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
    )

    service: ServiceSettings = Field(default_factory=ServiceSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    demo: DemoSettings = Field(default_factory=DemoSettings)
    smpp: SmppSettings = Field(default_factory=SmppSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    readings: ReadingsSettings = Field(default_factory=ReadingsSettings)
    notifications: NotificationsSettings = Field(default_factory=NotificationsSettings)
    appeals: AppealsSettings = Field(default_factory=AppealsSettings)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    staff: StaffSettings = Field(default_factory=StaffSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    max: MaxSettings = Field(default_factory=MaxSettings)

    @property
    def instance(self) -> str:
        """`[service] instance_id`, or `host:api_port` when it is empty."""
        return self.service.instance_id or f"{socket.gethostname()}:{self.api.port}"

    # Set by load_settings: the file the settings came from (None: defaults only).
    _source_file: Path | None = None

    def check_channels(self) -> None:
        """What `gateway run` needs beyond each key's own check, raised as a
        `SettingsError` before anything starts: Telegram enabled without a token used to
        fail only after the store and the simulator were up. (Other commands do not
        need the token: staff run them without the service's secrets.)"""
        if self.telegram.enabled and not self.telegram.token.get_secret_value():
            raise SettingsError(
                "telegram.token: required when [telegram] enabled = true "
                "(set GATEWAY__TELEGRAM__TOKEN in the environment)"
            )
        if self.max.enabled and not self.max.token.get_secret_value():
            raise SettingsError(
                "max.token: required when [max] enabled = true "
                "(set GATEWAY__MAX__TOKEN in the environment)"
            )

    @property
    def source_file(self) -> Path | None:
        """The settings file these settings were read from (None: defaults only)."""
        return self._source_file

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first (wins), then the file passed as init kwargs.
        return (env_settings, init_settings)


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"])
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        # The file was named even when the value came from the environment.
        env = "GATEWAY__" + "__".join(str(part).upper() for part in item["loc"][:2])
        if len(item["loc"]) >= 2 and any(name.upper() == env for name in os.environ):
            message += f" (from {env})"
        lines.append(f"{key}: {message}")
    return "; ".join(lines)


def resolve_config_path(explicit: str | Path | None) -> Path | None:
    """`--config` wins over `GATEWAY_CONFIG`, which wins over ./settings.toml if present."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("GATEWAY_CONFIG")
    if env:
        return Path(env)
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


ENV_PREFIX = "GATEWAY__"


def unknown_env_keys() -> list[str]:
    """`GATEWAY__…` variables that name no section (`GATEWAY__SMMP__PORT`) or have no key
    (`GATEWAY__SMPP`). An unknown key inside a known section is pydantic's to report."""
    sections = Settings.model_fields
    wrong = []
    for name in os.environ:
        if not name.upper().startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX):].split("__")
        if len(parts) < 2 or parts[0].lower() not in sections or not parts[1]:
            wrong.append(name)
    return sorted(wrong)


def load_settings(path: str | Path | None = None, *, use_default_file: bool = True) -> Settings:
    """Read settings; raise `SettingsError` with a message naming the bad key."""
    wrong = unknown_env_keys()
    if wrong:
        raise SettingsError(
            "unknown setting in the environment: " + ", ".join(wrong)
            + " (expected GATEWAY__<SECTION>__<KEY>, sections: "
            + ", ".join(Settings.model_fields) + ")"
        )
    config = resolve_config_path(path) if use_default_file or path else None
    data: dict[str, Any] = {}
    if config is not None:
        try:
            with config.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError as exc:
            raise SettingsError(f"settings file not found: {config}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{config}: not valid TOML: {exc}") from exc
        except OSError as exc:
            raise SettingsError(f"{config}: cannot read: {exc.strerror}") from exc
    if isinstance(data.get("email"), dict) and "smtp_password" in data["email"]:
        # A relay password in a file ends up in backups and repositories.
        raise SettingsError(
            f"{config}: email.smtp_password must come from the environment "
            "(GATEWAY__EMAIL__SMTP_PASSWORD), not the file"
        )
    storage = data.get("storage")
    url = storage.get("url") if isinstance(storage, dict) else None
    if isinstance(url, str) and url_has_password(url):
        # A database password in a file ends up in backups and repositories.
        raise SettingsError(
            f"{config}: storage.url must not hold the password: leave it out of the "
            "file and set PGPASSWORD (or the whole url in GATEWAY__STORAGE__URL)"
        )
    for key in ("token", "webhook_secret"):
        if isinstance(data.get("max"), dict) and key in data["max"]:
            # The bot token and the webhook secret in a file end up in backups.
            raise SettingsError(
                f"{config}: max.{key} must come from the environment "
                f"(GATEWAY__MAX__{key.upper()}), not the file"
            )
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        where = f"{config}: " if config else ""
        raise SettingsError(f"{where}invalid settings: {_describe(exc)}") from None
    settings._source_file = config
    return settings
