"""Secrets never reach a log line, a printed error or a chat reply.

The Telegram stand-in answers 500 with the request path (token included) in its error
description, as a misbehaving proxy or Bot API server does; the log written through the
real logging set-up must not show the token, nor must the "cannot start" line.
"""

from __future__ import annotations

import asyncio
import io
import logging
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Response

from bot.adapters.console import ConsoleAdapter
from bot.app import App
from bot.cli import main
from bot.commands.parse import parse_slash
from bot.commands.service import Caller
from bot.config import settings_from_dict
from bot.errors import ConfigError
from bot.feeds import messages as feed_messages
from bot.i18n import Text
from bot.logs import TRACEBACK_FRAMES, setup_logging
from bot.redact import Redactor, redact_url
from bot.store import utcnow
from tests.conftest import make_settings
from tests.feedserver import BELARUS, WEATHER, rss
from tests.telegram_api import FakeBotAPI

TOKEN = "123456789:AAFsecretPartOfTheTokenXYZ"
SECRET_PART = TOKEN.partition(":")[2]


@pytest.fixture
def logs_to_stderr() -> Iterator[None]:
    """Lets a test call setup_logging (as the CLI does); the root logger is restored after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
async def secret_bot_api() -> AsyncIterator[FakeBotAPI]:
    server = FakeBotAPI(token=TOKEN)
    await server.start()
    yield server
    await server.stop()


def leak_description(token: str) -> str:
    return f"Internal Server Error: upstream failed for path=/bot{token}/sendMessage"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "postgres://postgres:SuperSecret1@127.0.0.1:5432/test",
            "postgres://postgres:***@127.0.0.1:5432/test",
        ),
        ("'postgresq://u:pw@db/x' is bad", "'postgresq://u:***@db/x' is bad"),
        ("feed https://reader:p@ss@news.example/feed.xml", "feed https://reader:***@news.example/feed.xml"),
        ("postgresql://nobody@127.0.0.1:5999/x", "postgresql://nobody@127.0.0.1:5999/x"),
        ("http://news.example:8080/a@b", "http://news.example:8080/a@b"),
    ],
)  # fmt: skip
def test_url_passwords_are_masked(text: str, shown: str) -> None:
    assert redact_url(text) == shown


def test_every_configured_secret_is_known_and_masked() -> None:
    settings = settings_from_dict(
        {
            "database": "postgresql://bot:DbPassword9@db.example/newsbot",
            "telegram": {"token": TOKEN, "webhook_secret": "hook-secret-value"},
            "slack": {
                "bot_token": "xoxb-1-slack-bot",
                "app_token": "xapp-1-slack-app",
                "signing_secret": "signing-secret-value",
            },
            "summary": {"llm": {"base_url": "http://llm", "model": "m", "api_key": "sk-llm-key"}},
        }
    )
    redact = Redactor(settings.secrets)
    for secret in (
        "DbPassword9",
        TOKEN,
        SECRET_PART,
        "hook-secret-value",
        "xoxb-1-slack-bot",
        "xapp-1-slack-app",
        "signing-secret-value",
        "sk-llm-key",
    ):
        assert redact(f"before {secret} after") == "before *** after", secret
    assert redact("123456789%3A" + SECRET_PART) == "***"  # as it appears inside a URL


@pytest.mark.parametrize(
    "url",
    [
        "postgres://postgres:SuperSecret1@127.0.0.1:5432/test",  # now accepted
        "postgresq://postgres:SuperSecret1@127.0.0.1:5432/test",  # a typo, refused
        "mysql://postgres:SuperSecret1@127.0.0.1:5432/test",
    ],
)
def test_a_database_password_is_not_in_config_errors(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBURL", url)
    # A second problem makes the accepted spelling fail too, so its error lines are seen.
    with pytest.raises(ConfigError) as caught:
        settings_from_dict({"database": "${DBURL}", "poll": {"interval": "often"}})
    text = "\n".join(caught.value.problems)
    assert "SuperSecret1" not in text
    if not url.startswith("postgres://"):
        assert "database: 'postgres" in text or "database: 'mysql" in text
        assert ":***@127.0.0.1" in text


def test_postgres_scheme_is_postgresql() -> None:
    settings = settings_from_dict({"database": "postgres://u:p@127.0.0.1:5432/db"})
    assert settings.database == "postgresql://u:p@127.0.0.1:5432/db"
    plus = settings_from_dict({"database": "postgres+psycopg://u@h/db"})
    assert plus.database == "postgresql+psycopg://u@h/db"


def test_the_log_filter_masks_messages_tracebacks_and_context(
    logs_to_stderr: None, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_logging("INFO", [TOKEN, "DbPassword9"])
    log = logging.getLogger("bot.test")
    log.warning("server said %s", leak_description(TOKEN), extra={"chat": f"x{TOKEN}"})
    try:
        raise RuntimeError(f"connect postgresql://bot:DbPassword9@db/x with {TOKEN}")
    except RuntimeError:
        log.exception("failed")
    logging.getLogger("some.library").error("https://u:pw-in-url@feeds.example/rss")
    err = capsys.readouterr().err
    assert TOKEN not in err and "DbPassword9" not in err and "pw-in-url" not in err
    assert "path=/bot***/sendMessage" in err and "chat=x***" in err
    assert "RuntimeError: connect postgresql://bot:***@db/x with ***" in err
    assert "https://u:***@feeds.example/rss" in err


async def test_a_token_quoted_by_a_500_is_not_logged(
    secret_bot_api: FakeBotAPI,
    httpserver: HTTPServer,
    sqlite_url: str,
    logs_to_stderr: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    items = [WEATHER]
    httpserver.expect_request("/world.xml").respond_with_handler(
        lambda request: Response(rss("World", items), content_type="application/rss+xml")
    )
    settings = make_settings(
        sqlite_url,
        telegram={"token": TOKEN, "api_base_url": secret_bot_api.url},
        feeds=[{"url": httpserver.url_for("/world.xml")}],
        subscriptions=[{"platform": "telegram", "chat": "42", "rules": ['"prisoner release"']}],
    )
    setup_logging("INFO", settings.secrets)
    app = App(settings, health=False)
    await app.prepare()
    try:
        await app.adapters["telegram"].start(app.service)
        (feed,) = app.store.list_feeds()
        await app.pipeline.poll(feed.id)  # the first poll learns what is there
        items.insert(0, BELARUS)
        app.store.set_next_poll(feed.id, utcnow())
        assert (await app.pipeline.poll(feed.id)).alerts == 1
        secret_bot_api.fail("sendMessage", 500, leak_description(TOKEN))
        await app.dispatcher.run_once()
        assert [c.outcome for c in secret_bot_api.calls_of("sendMessage")] == ["failed 500"]
    finally:
        await app.stop()
    err = capsys.readouterr().err
    assert "send failed, will retry" in err, err
    assert "path=/bot***/sendMessage" in err
    assert TOKEN not in err and SECRET_PART not in err


def test_cannot_start_line_masks_the_token(
    tmp_path: Path, logs_to_stderr: None, capsys: pytest.CaptureFixture[str]
) -> None:
    api = FakeBotAPI(token=TOKEN)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(api.start(), loop).result(10)
    try:
        api.fail("getMe", 500, leak_description(TOKEN), times=5)
        config = tmp_path / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "database": f"sqlite:///{tmp_path}/bot.db",
                    "health": {"listen": None},
                    "telegram": {"token": TOKEN, "api_base_url": api.url},
                }
            )
        )
        code = main(["run", "--config", str(config)])
    finally:
        asyncio.run_coroutine_threadsafe(api.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
    err = capsys.readouterr().err
    assert code == 1
    assert "newsbot: cannot start: telegram: cannot reach" in err
    assert "path=/bot***/sendMessage" in err
    assert TOKEN not in err and SECRET_PART not in err


async def test_replies_mask_secrets_and_url_passwords(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url, telegram={"token": TOKEN, "api_base_url": "http://x"})
    app = App(settings, adapters={"console": ConsoleAdapter(io.StringIO())}, health=False)
    await app.prepare()
    try:
        feed = app.store.ensure_feed("https://reader:FeedPass99@news.example/feed.xml")
        chat = app.store.ensure_chat("console", "room")
        app.store.add_chat_feed(chat.id, feed.id, limit=10)
        error = Text(feed_messages.CONNECTION_FAILED, detail=f"HTTP 500 from /bot{TOKEN}/x")
        app.store.record_feed_error(feed.id, error, utcnow())
        for text in ("/feeds", "/status"):
            command = parse_slash(text)
            assert command is not None
            reply = await app.service.answer(Caller("console", "room"), command)
            assert "FeedPass99" not in reply.text and TOKEN not in reply.text, reply.text
        assert "https://reader:***@news.example/feed.xml" in reply.text or "***" in reply.text
    finally:
        await app.stop()


def test_a_feed_password_is_not_in_config_errors() -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_dict({"feeds": [{"url": "ftp://reader:FeedPass99@news.example/rss"}]})
    (problem,) = caught.value.problems
    assert problem == "feeds.0.url: 'ftp://reader:***@news.example/rss' is not an http(s) URL"


def test_check_masks_a_feed_password(tmp_path: Path, httpserver: HTTPServer) -> None:
    url = httpserver.url_for("/feed.xml").replace("http://", "http://reader:FeedPass99@")
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": f"sqlite:///{tmp_path}/bot.db",
                "health": {"listen": None},
                "fetch": {"allow_private_addresses": True},
                "feeds": [{"url": url}],
            }
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "FeedPass99" not in result.stdout + result.stderr
    assert "== feed 1 http://reader:***@localhost:" in result.stdout


def test_a_deep_traceback_is_logged_short(
    logs_to_stderr: None, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_logging("INFO")

    def dive(depth: int) -> int:
        return dive(depth + 1) + 1

    try:
        dive(0)
    except RecursionError:
        logging.getLogger("bot.test").exception("command watch failed")
    err = capsys.readouterr().err
    assert "command watch failed" in err and "RecursionError" in err
    assert len(err.splitlines()) < 2 * TRACEBACK_FRAMES + 10, len(err.splitlines())
