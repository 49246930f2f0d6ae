"""The health endpoint a container orchestrator and Prometheus read: /healthz, /readyz,
/metrics, and the `newsbot health` probe of a container's HEALTHCHECK."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlalchemy import create_engine, text
from werkzeug import Response

from bot.adapters.console import ConsoleAdapter
from bot.adapters.slack import SlackAdapter
from bot.app import App
from bot.cli import main
from bot.config import SlackSettings
from bot.delivery.alert import Alert
from bot.delivery.platform import RateLimits, RetryAfter, TransientError
from bot.metrics import Metrics
from bot.models import AlertDraft, NewStory, Summary
from bot.store import Store, utcnow
from bot.store.stats import read_stats
from tests.conftest import PG_ADMIN_URL, _pg_available, free_port, make_settings
from tests.feedserver import BELARUS, WEATHER, rss
from tests.slack_api import SlackApiStandIn
from tests.telegram_api import FakeBotAPI

RULE = 'Belarus AND "prisoner release"'
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(exposition: str) -> Samples:
    """Every sample of a Prometheus text exposition, by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 10.0) -> Any:
    """``check()``'s first truthy result, trying every 50 ms for ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.05)


async def test_a_story_shows_in_every_series(httpserver: HTTPServer, sqlite_url: str) -> None:
    items = [WEATHER]
    httpserver.expect_request("/world.xml").respond_with_handler(
        lambda _request: Response(rss("World", items), content_type="application/rss+xml")
    )
    port = free_port()
    settings = make_settings(
        sqlite_url,
        health={"listen": f"127.0.0.1:{port}"},
        feeds=[{"url": httpserver.url_for("/world.xml"), "interval": "1s"}],
        subscriptions=[{"platform": "console", "chat": "desk", "rules": [RULE]}],
    )
    console = ConsoleAdapter(io.StringIO())
    app = App(settings, adapters={"console": console})
    await app.start()
    try:
        # The scheduler polls the feed every second or two; the first poll only learns it.
        assert await eventually(lambda: asyncio.to_thread(_initialised, app.store))
        items.insert(0, BELARUS)

        async def sent() -> bool:
            return bool(console.sent)

        assert await eventually(sent)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            health = await client.get("/healthz")
            ready = await client.get("/readyz")
            metrics = await client.get("/metrics")
    finally:
        await app.stop()
    assert (health.status_code, health.text) == (200, "ok\n")
    assert (ready.status_code, ready.text) == (200, "ready\n")
    assert metrics.headers["content-type"].startswith("text/plain")
    found = samples(metrics.text)
    assert value(found, "newsbot_polls_total", outcome="ok") >= 2
    assert value(found, "newsbot_fetch_duration_seconds_count", kind="feed", outcome="ok") >= 2
    assert value(found, "newsbot_stories_seen_total") == 2
    assert value(found, "newsbot_alerts_queued_total") == 1
    assert value(found, "newsbot_alerts", status="sent") == 1
    assert value(found, "newsbot_outbox_depth", platform="console", due="yes") == 0
    assert value(
        found, "newsbot_send_duration_seconds_count", platform="console", kind="alert", outcome="ok"
    ) == (1)
    assert value(found, "newsbot_rules") == 1
    assert value(found, "newsbot_chats", platform="console", state="subscribed") == 1
    assert value(found, "newsbot_feeds", state="ok") == 1
    assert value(found, "newsbot_database_up") == 1
    assert value(found, "process_resident_memory_bytes") > 0  # the library's process series


def _initialised(store: Store) -> bool:
    return all(f.initialised for f in store.list_feeds())


async def test_two_apps_in_one_process_keep_their_own_series(sqlite_url: str) -> None:
    one, two = (App(make_settings(sqlite_url), adapters={}, health=False) for _ in range(2))
    try:
        one.metrics.fetched("feed", "ok", 0.2)
        first = samples(one.metrics.exposition().decode())
        second = samples(two.metrics.exposition().decode())
    finally:
        await one.stop()
        await two.stop()
    name = "newsbot_fetch_duration_seconds_count"
    assert value(first, name, kind="feed", outcome="ok") == 1
    assert (name, frozenset({"kind": "feed", "outcome": "ok"}.items())) not in second


def test_outbox_backlog_and_age_of_the_oldest_due_alert(store: Store) -> None:
    chat = store.ensure_chat("telegram", "42")
    feed = store.ensure_feed("https://example.org/rss")
    now = utcnow()
    stories = [NewStory(u, f"fp-{u}", u, None, None, None, "") for u in ("a", "b", "c")]
    store.record_poll(
        feed.id,
        new_stories=stories,
        alerts=[
            AlertDraft(chat.id, "a", None, "q", [], {}, Summary(), now),  # due now
            AlertDraft(chat.id, "b", None, "q", [], {}, Summary(), now),  # due now
            AlertDraft(
                chat.id, "c", None, "q", [], {}, Summary(), now + timedelta(hours=1)
            ),  # digest
        ],
        feed_title=None,
        etag=None,
        last_modified=None,
        next_poll_at=now,
    )
    store.add_rule(chat.id, "Belarus", limit=10)
    later = now + timedelta(minutes=10)
    stats = read_stats(store.engine, later)
    backlog = stats.backlog["telegram"]
    assert (backlog.due, backlog.waiting) == (2, 1)
    assert 595 < backlog.oldest_due_age < 605
    assert stats.alerts == {"pending": 3}
    assert stats.rules == 1
    assert stats.chats == {("telegram", "unsubscribed"): 1}
    assert stats.feeds == {"ok": 1}


class Flaky:
    """A platform whose next sends fail as scripted."""

    platform = "telegram"
    limits = RateLimits()

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)

    async def send_alert(self, chat_id: str, alert: Alert) -> str | None:
        if self.failures:
            raise self.failures.pop(0)
        return "1"


async def test_send_durations_are_labelled_by_platform_and_outcome() -> None:
    metrics = Metrics()
    adapter = metrics.timed(Flaky(RetryAfter(3), TransientError("502")))  # type: ignore[arg-type]
    alert: Any = None
    for _ in range(3):
        with contextlib.suppress(RetryAfter, TransientError):
            await adapter.send_alert("1", alert)
    found = samples(metrics.exposition().decode())
    name = "newsbot_send_duration_seconds_count"
    for outcome in ("RetryAfter", "TransientError", "ok"):
        assert value(found, name, platform="telegram", kind="alert", outcome=outcome) == 1


# -- /readyz ---------------------------------------------------------------------------


async def get(port: int, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        return await client.get(path)


async def test_readyz_is_503_while_the_database_is_down() -> None:
    if not _pg_available():
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not running")
    name = f"newsbot_down_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    port = free_port()
    url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    app = App(
        make_settings(url, health={"listen": f"127.0.0.1:{port}"}),
        adapters={"console": ConsoleAdapter(io.StringIO())},
    )
    await app.start()
    try:
        assert (await get(port, "/readyz")).status_code == 200
        with admin.connect() as conn:  # the database goes away under the running service
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        ready = await get(port, "/readyz")
        health = await get(port, "/healthz")
        metrics = await get(port, "/metrics")
    finally:
        await app.stop()
        admin.dispose()
    assert ready.status_code == 503
    assert ready.text.startswith("not ready:\n- database: ")
    assert name in ready.text  # the driver's reason: the database does not exist
    assert health.status_code == 200  # alive all the same: a restart would not help
    assert metrics.status_code == 200
    assert value(samples(metrics.text), "newsbot_database_up") == 0


async def test_readyz_is_503_while_telegram_polling_fails(
    sqlite_url: str, bot_api: FakeBotAPI
) -> None:
    port = free_port()
    settings = make_settings(
        sqlite_url,
        health={"listen": f"127.0.0.1:{port}"},
        telegram={"token": bot_api.token, "api_base_url": bot_api.url},
    )
    app = App(settings)
    await app.start()
    try:
        assert (await get(port, "/readyz")).status_code == 200
        polls = len(bot_api.calls_of("getUpdates"))
        # Another process polls the same token: Telegram answers 409 to our next two polls.
        bot_api.fail("getUpdates", 409, "Conflict: terminated by other getUpdates", times=2)
        bot_api.send_command(5, "/help")  # ends the long poll in flight

        async def state(code: int) -> httpx.Response | None:
            answer = await get(port, "/readyz")
            return answer if answer.status_code == code else None

        refused = await eventually(lambda: state(503))
        assert refused is not None
        assert "telegram: getUpdates answered 409 Conflict" in refused.text
        assert bot_api.token not in refused.text
        # PTB retries on its own. Its third poll is accepted and held open (long polling):
        # the first poll that completes makes the service ready again.
        await bot_api.wait_for(lambda: len(bot_api.calls_of("getUpdates")) >= polls + 3)
        assert (await get(port, "/readyz")).status_code == 503
        bot_api.send_command(5, "/help")
        assert await eventually(lambda: state(200))
    finally:
        await app.stop()


async def test_slack_is_connected_while_its_socket_mode_session_is_open(
    slack_api: SlackApiStandIn,
) -> None:
    adapter = SlackAdapter(
        SlackSettings(
            bot_token=SecretStr(slack_api.token),
            app_token=SecretStr(slack_api.app_token),
            api_base_url=slack_api.api_base_url,
        )
    )
    assert await adapter.connection_problem() == "slack: not started"
    await adapter.start(service=None)  # type: ignore[arg-type]  # no command is sent
    try:
        await asyncio.wait_for(slack_api.connected(), 5)

        async def problem(expected: str | None) -> bool:
            return await adapter.connection_problem() == expected

        assert await eventually(lambda: problem(None))
        await slack_api.stop()  # Slack goes away; slack_sdk keeps trying to reconnect
        assert await eventually(lambda: problem("slack: Socket Mode is not connected"))
    finally:
        await adapter.stop()


async def test_readyz_is_503_before_start_and_after_stop(sqlite_url: str) -> None:
    app = App(make_settings(sqlite_url), adapters={"console": ConsoleAdapter(io.StringIO())})
    assert await app.readiness() == ["not started (or stopping)"]
    await app.start()
    assert await app.readiness() == []
    await app.stop()
    assert await app.readiness() == ["not started (or stopping)"]


# -- `newsbot health` ------------------------------------------------------------------


def write_config(tmp_path: Path, **raw: Any) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return str(path)


async def test_health_command_probes_the_configured_address(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    listen = f"0.0.0.0:{port}"  # as in the image: probed on loopback  # noqa: S104
    config = write_config(tmp_path, database=sqlite_url, health={"listen": listen})
    app = App(make_settings(sqlite_url, health={"listen": listen}), adapters={})
    await app.start()
    try:
        healthy = await asyncio.to_thread(main, ["health", "--config", config])
    finally:
        await app.stop()
    stopped = await asyncio.to_thread(main, ["health", "--config", config])
    out, err = capsys.readouterr()
    assert (healthy, stopped) == (0, 1)
    assert f"healthy: http://127.0.0.1:{port}/healthz answered 200" in out
    assert f"unhealthy: http://127.0.0.1:{port}/healthz: " in err


def test_health_command_with_the_endpoint_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, health={"listen": None})
    assert main(["health", "--config", config]) == 0
    assert "nothing to probe, the endpoint is off" in capsys.readouterr().out


def test_health_command_with_a_bad_config_exits_1_as_docker_expects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, health={"listen": "8080"})
    assert main(["health", "--config", config]) == 1
    assert "health.listen: '8080' is not host:port" in capsys.readouterr().err
