"""Configuration: every documented key accepted, wrong values named, ${ENV} expanded."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_settings, parse_duration, parse_size, settings_from_dict
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("1.5d", 129600),
        ("250ms", 0.25),
        (45, 45),
        ("10", 10),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5x", "", "-1s", "0s", "soon", "m5"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration|longer than zero"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "size"),
    [("5MB", 5_000_000), ("512KB", 512_000), ("1MiB", 1_048_576), (1000, 1000), ("2gb", 2 * 10**9)],
)
def test_sizes(text: object, size: int) -> None:
    assert parse_size(text) == size


def test_defaults_without_any_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NEWSBOT_CONFIG", raising=False)
    settings = load_settings()
    assert settings.database == "sqlite:///data/newsbot.db"
    assert settings.platforms == ["console"]
    assert settings.poll.interval == 300
    assert settings.fetch.max_bytes == 5_000_000


def test_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "LLM_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(ROOT / "config.example.yaml")
    assert settings.platforms == ["console"]
    assert [f.name for f in settings.feeds] == ["BBC World", "Guardian World"]
    assert settings.feeds[0].interval == 300
    assert settings.subscriptions[0].rules[0] == 'Belarus AND "prisoner release"'


def test_env_references_expand(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_TOKEN", "123:hunter2")
    monkeypatch.setenv("PGHOST", "db.internal")
    settings = settings_from_dict(
        {"telegram": {"token": "${TG_TOKEN}"}, "database": "postgresql://bot@${PGHOST}/news"}
    )
    assert settings.platforms == ["telegram"]
    assert settings.telegram.token is not None
    assert settings.telegram.token.get_secret_value() == "123:hunter2"
    assert "hunter2" not in repr(settings)  # secrets never show in logs
    assert settings.database == "postgresql://bot@db.internal/news"


def test_unset_whole_value_reference_keeps_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_TOKEN", raising=False)
    settings = settings_from_dict({"slack": {"bot_token": "${NOT_SET_TOKEN}"}})
    assert settings.slack.bot_token is None
    assert settings.platforms == ["console"]


def test_unset_reference_inside_a_string_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_HOST", raising=False)
    with pytest.raises(ConfigError) as info:
        settings_from_dict({"database": "postgresql://bot@${NOT_SET_HOST}/news"})
    assert info.value.problems == ["database: environment variable NOT_SET_HOST is not set"]


def test_every_problem_is_one_line_naming_its_key() -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_dict(
            {
                "poll": {"interval": "5x"},
                "fetch": {"max_bytes": "lots", "timeout": "-3s"},
                "database": "mysql://x",
                "telegram": {"mode": "carrier-pigeon"},
                "feeds": [{"url": "ftp://example.org/feed"}],
                "colour": "blue",
                "health": {"listen": "8080"},
            }
        )
    problems = info.value.problems
    keys = sorted(line.split(":", 1)[0] for line in problems)
    assert keys == sorted(
        [
            "poll.interval",
            "fetch.max_bytes",
            "fetch.timeout",
            "database",
            "telegram.mode",
            "feeds.0.url",
            "colour",
            "health.listen",
        ]
    )
    assert any("use e.g. 30s, 5m, 1h" in line for line in problems)
    assert any("colour: unknown key" in line for line in problems)


def test_yaml_syntax_error_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "config.yaml"
    bad.write_text("poll: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(bad)


def test_config_file_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "custom.yaml"
    file.write_text("poll:\n  interval: 2m\n")
    monkeypatch.setenv("NEWSBOT_CONFIG", str(file))
    assert load_settings().poll.interval == 120


def test_webhook_mode_needs_url() -> None:
    with pytest.raises(ConfigError, match="webhook_url"):
        settings_from_dict({"telegram": {"token": "1:x", "mode": "webhook"}})


def test_duplicate_feeds_refused() -> None:
    with pytest.raises(ConfigError, match="listed twice"):
        settings_from_dict(
            {"feeds": [{"url": "https://a.example/rss"}, {"url": "https://a.example/rss"}]}
        )


def test_webhook_secret_must_be_what_telegram_accepts() -> None:
    with pytest.raises(ConfigError, match="telegram.webhook_secret: use 1-256 characters"):
        settings_from_dict({"telegram": {"webhook_secret": "not allowed!"}})


def test_health_listen_default_comes_from_the_image_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert settings_from_dict({}).health.listen == "127.0.0.1:8080"
    monkeypatch.setenv("NEWSBOT_HEALTH_LISTEN", "0.0.0.0:8080")
    assert settings_from_dict({}).health.listen == "0.0.0.0:8080"
    assert settings_from_dict({"health": {}}).health.listen == "0.0.0.0:8080"
    # The config file still decides: another port, or the endpoint off.
    assert settings_from_dict({"health": {"listen": "0.0.0.0:9000"}}).health.listen == (
        "0.0.0.0:9000"
    )
    assert settings_from_dict({"health": {"listen": None}}).health.listen is None
    monkeypatch.setenv("NEWSBOT_HEALTH_LISTEN", "8080")
    with pytest.raises(ConfigError, match="NEWSBOT_HEALTH_LISTEN: '8080' is not host:port"):
        settings_from_dict({})


def test_jitter_can_be_turned_off() -> None:
    assert settings_from_dict({"poll": {"jitter": "0s"}}).poll.jitter == 0
    assert settings_from_dict({"poll": {"jitter": 0}}).poll.jitter == 0
    with pytest.raises(ConfigError, match=r"poll\.interval: '0s' must be longer than zero"):
        settings_from_dict({"poll": {"interval": "0s"}})
    with pytest.raises(ConfigError, match=r"poll\.jitter"):
        settings_from_dict({"poll": {"jitter": "-1s"}})
