"""Settings from YAML plus environment, validated once at start.

Lookup order: ``--config FILE``, else ``$NEWSBOT_CONFIG``, else ``./config.yaml``, else the
built-in defaults (SQLite under ``./data/``, console adapter). String values may hold
``${ENV_VAR}`` references; a reference to an unset variable is an error naming the key.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.errors import ConfigError
from bot.redact import redact_url

log = logging.getLogger(__name__)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$", re.IGNORECASE)
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    None: 1,
}
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def parse_duration(value: Any, *, allow_zero: bool = False) -> float:
    """Seconds from ``30s``, ``5m``, ``1h``, ``1.5d``, ``250ms`` or a bare number of seconds.

    Zero is refused unless ``allow_zero`` (e.g. ``poll.jitter: 0s`` turns jitter off).
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, timedelta):
        seconds = value.total_seconds()
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration; use e.g. 30s, 5m, 1h")
        unit = match.group(2).lower() if match.group(2) else None
        seconds = float(match.group(1)) * _DURATION_UNITS[unit]
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError(
            f"{value!r} must be {'zero or more' if allow_zero else 'longer than zero'}"
        )
    return seconds


def parse_size(value: Any) -> int:
    """Bytes from ``5MB``, ``512KB``, ``1GiB`` or a bare number of bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a size; use e.g. 512KB, 5MB")
        unit = match.group(2).lower() if match.group(2) else None
        size = int(float(match.group(1)) * _SIZE_UNITS[unit])
    if size <= 0:
        raise ValueError(f"{value!r} must be larger than zero")
    return size


Duration = Annotated[float, BeforeValidator(parse_duration)]
DurationOrZero = Annotated[float, BeforeValidator(partial(parse_duration, allow_zero=True))]
Size = Annotated[int, BeforeValidator(parse_size)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _listen_address(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not host:port, e.g. 127.0.0.1:8080")
    return value


class PollSettings(_Section):
    interval: Duration = 300.0
    jitter: DurationOrZero = 10.0
    concurrency: int = Field(default=10, ge=1, le=200)
    # How long a replica's claim on a feed or an alert outlives it: a live replica
    # renews its claims every quarter of this, so another takes over a dead one's work
    # within about this long. Longer than a database hiccup, shorter than an interval.
    lease: Duration = Field(default=30.0, ge=1.0)


class FetchSettings(_Section):
    timeout: Duration = 20.0
    max_bytes: Size = 5_000_000
    max_items: int = Field(default=1_000, ge=1, le=100_000)  # entries per document, newest
    allow_private_addresses: bool = False
    user_agent: str = "newsbot/0.1 (+https://github.com/newsbot/newsbot)"


class FeedSettings(_Section):
    url: str
    name: str | None = None
    interval: Duration | None = None
    full_text: bool = False

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{redact_url(value)!r} is not an http(s) URL")
        return value


class TelegramSettings(_Section):
    token: SecretStr | None = None
    api_base_url: str = "https://api.telegram.org"
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    listen: Annotated[str, BeforeValidator(_listen_address)] = "0.0.0.0:8443"  # noqa: S104
    link_preview: bool = False

    @field_validator("webhook_secret")
    @classmethod
    def _secret_token_charset(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram accepts 1-256 characters of A-Z, a-z, 0-9, _ and - as secret_token.
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()
        ):
            raise ValueError("use 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @model_validator(mode="after")
    def _webhook_complete(self) -> TelegramSettings:
        if self.mode == "webhook" and self.token and not self.webhook_url:
            raise ValueError("mode webhook needs telegram.webhook_url")
        return self


class SlackSettings(_Section):
    bot_token: SecretStr | None = None
    app_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    listen: Annotated[str, BeforeValidator(_listen_address)] = "0.0.0.0:3000"  # noqa: S104
    api_base_url: str = "https://slack.com/api/"
    editors: Literal["anyone", "admins", "list"] = "anyone"
    editor_ids: list[str] = Field(default_factory=list)
    updates_in_thread: bool = False  # also post "also reported by" updates as thread replies


class LLMSettings(_Section):
    base_url: str
    model: str
    api_key: SecretStr | None = None
    timeout: Duration = 20.0


class SummarySettings(_Section):
    sentences: int = Field(default=3, ge=1, le=10)
    max_chars: int = Field(default=500, ge=80, le=3000)
    llm: LLMSettings | None = None


class RulesSettings(_Section):
    language: str = "english"
    max_length: int = Field(default=500, ge=10, le=10_000)
    max_terms: int = Field(default=50, ge=1, le=1000)
    min_prefix: int = Field(default=3, ge=1, le=20)
    max_per_chat: int = Field(default=100, ge=1)
    max_feeds_per_chat: int = Field(default=50, ge=0)


class SubscriptionSettings(_Section):
    platform: Literal["telegram", "slack", "console"]
    chat: str
    rules: list[str] = Field(default_factory=list)

    @field_validator("chat", mode="before")
    @classmethod
    def _chat_as_text(cls, value: Any) -> str:
        return str(value)


class ClustersSettings(_Section):
    """Event clustering: one alert per news event across outlets (see docs/events.md)."""

    enabled: bool = True
    window: Duration = 48 * 3600.0


class HealthSettings(_Section):
    listen: Annotated[str, BeforeValidator(_listen_address)] | None = "127.0.0.1:8080"


class Settings(_Section):
    database: str = "sqlite:///data/newsbot.db"
    poll: PollSettings = PollSettings()
    fetch: FetchSettings = FetchSettings()
    feeds: list[FeedSettings] = Field(default_factory=list)
    telegram: TelegramSettings = TelegramSettings()
    slack: SlackSettings = SlackSettings()
    summary: SummarySettings = SummarySettings()
    rules: RulesSettings = RulesSettings()
    subscriptions: list[SubscriptionSettings] = Field(default_factory=list)
    clusters: ClustersSettings = ClustersSettings()
    health: HealthSettings = HealthSettings()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("database")
    @classmethod
    def _database_url(cls, value: str) -> str:
        # "postgres://" is how Heroku, Render and many guides spell it; SQLAlchemy wants
        # "postgresql://". The value may carry a password: errors show it masked.
        value = re.sub(r"^postgres(?=(\+\w+)?://)", "postgresql", value)
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
            raise ValueError(
                f"{redact_url(value)!r} is not a database URL: "
                "use sqlite:///path/file.db or postgresql://user:pass@host/db"
            )
        return value

    @field_validator("feeds")
    @classmethod
    def _unique_feeds(cls, feeds: list[FeedSettings]) -> list[FeedSettings]:
        seen: set[str] = set()
        for feed in feeds:
            if feed.url in seen:
                raise ValueError(f"feed {feed.url} is listed twice")
            seen.add(feed.url)
        return feeds

    @property
    def secrets(self) -> list[str]:
        """Every configured secret value, to be masked wherever text is logged or shown:
        chat tokens, Telegram's webhook secret, Slack's signing secret, the LLM key and
        the database password."""
        found = [
            _secret(self.telegram.token),
            _secret(self.telegram.webhook_secret),
            _secret(self.slack.bot_token),
            _secret(self.slack.app_token),
            _secret(self.slack.signing_secret),
            _secret(self.summary.llm.api_key if self.summary.llm else None),
            _database_password(self.database),
        ]
        token = _secret(self.telegram.token)
        if ":" in token:  # bot id:secret; the id is public, the part after it is not
            found.append(token.partition(":")[2])
        return [value for value in found if value]

    @property
    def platforms(self) -> list[str]:
        """Chat platforms with credentials; ``console`` when there are none."""
        found = []
        if self.telegram.token and self.telegram.token.get_secret_value():
            found.append("telegram")
        if self.slack.bot_token and self.slack.bot_token.get_secret_value():
            found.append("slack")
        return found or ["console"]


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def _database_password(url: str) -> str:
    try:
        return make_url(url).password or ""
    except (ArgumentError, ValueError):
        return ""


_UNSET = object()


def _expand_env(value: Any, path: str, problems: list[str], unset: list[str]) -> Any:
    """Replace ``${VAR}`` references.

    A value that is only a reference to an unset variable is dropped, so the key keeps its
    default (an unset ``${TELEGRAM_BOT_TOKEN}`` means "no Telegram"); the caller logs it.
    A reference inside a longer string must be set.
    """
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            expanded = _expand_env(item, f"{path}.{key}" if path else str(key), problems, unset)
            if expanded is not _UNSET:
                out[key] = expanded
        return out
    if isinstance(value, list):
        items = [_expand_env(v, f"{path}[{i}]", problems, unset) for i, v in enumerate(value)]
        return [item for item in items if item is not _UNSET]
    if isinstance(value, str):
        whole = _ENV_REF.fullmatch(value)
        if whole and not os.environ.get(whole.group(1)):
            unset.append(f"{path}: ${{{whole.group(1)}}} is not set, using the default")
            return _UNSET

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                problems.append(f"{path}: environment variable {name} is not set")
                return ""
            return os.environ[name]

        return _ENV_REF.sub(substitute, value)
    return value


def _environment_defaults(raw: dict[str, Any], problems: list[str]) -> None:
    """Defaults the environment sets for keys the file leaves out: the container image
    sets ``NEWSBOT_HEALTH_LISTEN=0.0.0.0:8080`` so that its health port can be published."""
    listen = os.environ.get("NEWSBOT_HEALTH_LISTEN")
    health = raw.get("health")
    if not listen or (isinstance(health, dict) and "listen" in health):
        return
    try:
        _listen_address(listen)
    except ValueError as exc:
        problems.append(f"NEWSBOT_HEALTH_LISTEN: {exc}")
        return
    raw["health"] = {**(health if isinstance(health, dict) else {}), "listen": listen}


def _format_error(error: Any) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key; see config.example.yaml for the keys newsbot reads"
    return f"{key}: {message}"


def find_config_file(path: str | os.PathLike[str] | None) -> Path | None:
    """The config file to read: the given one, ``$NEWSBOT_CONFIG``, or ``./config.yaml``."""
    if path:
        return Path(path)
    if os.environ.get("NEWSBOT_CONFIG"):
        return Path(os.environ["NEWSBOT_CONFIG"])
    default = Path("config.yaml")
    return default if default.exists() else None


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read, expand and validate the configuration.

    Raises:
        ConfigError: with one line per problem, each naming its key.
    """
    file = find_config_file(path)
    raw: Any = {}
    if file is not None:
        try:
            raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ConfigError([f"config: cannot read {file}: {exc.strerror}"]) from exc
        except yaml.YAMLError as exc:
            raise ConfigError([redact_url(f"config: {file} is not valid YAML: {exc}")]) from exc
    if not isinstance(raw, dict):
        raise ConfigError([f"config: {file} must hold a mapping of keys, not {type(raw).__name__}"])
    return settings_from_dict(raw)


def settings_from_dict(raw: dict[str, Any]) -> Settings:
    """Validate a configuration mapping (after ``${ENV}`` expansion)."""
    problems: list[str] = []
    unset: list[str] = []
    expanded = _expand_env(raw, "", problems, unset)
    _environment_defaults(expanded, problems)
    try:
        settings = Settings.model_validate(expanded)
    except ValidationError as exc:
        problems.extend(_format_error(err) for err in exc.errors())
        raise ConfigError(problems) from exc
    if problems:
        raise ConfigError(problems)
    for line in unset:
        log.info("config %s", line)
    return settings
