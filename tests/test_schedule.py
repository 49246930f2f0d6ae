"""A feed is fetched at its interval, and a failing one at its backoff, by the running app."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bot.adapters.console import ConsoleAdapter
from bot.app import DISPATCH_EVERY, App
from bot.store import utcnow
from tests.conftest import make_settings
from tests.feedserver import BELARUS, MARKETS, WEATHER, Item, rss


def _gaps(times: list[float]) -> list[float]:
    return [round(b - a, 1) for a, b in zip(times, times[1:], strict=False)]


async def _run_for(settings_url: str, feed_url: str, fetched: list[float], seconds: float) -> None:
    """Runs the app until ``seconds`` after the first fetch (start-up time aside)."""
    settings = make_settings(
        settings_url,
        feeds=[{"url": feed_url, "interval": "2s"}],
        poll={"interval": "2s", "jitter": "1ms"},
    )
    app = App(settings, adapters={"console": ConsoleAdapter(io.StringIO())}, health=False)
    await app.start()
    try:
        for _ in range(200):
            if fetched:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(seconds)
    finally:
        await app.stop()


async def test_a_feed_is_fetched_at_its_interval(httpserver: HTTPServer, sqlite_url: str) -> None:
    fetched: list[float] = []

    def handler(_request: Request) -> Response:
        fetched.append(time.monotonic())
        return Response(rss("World", [WEATHER]), content_type="application/rss+xml")

    httpserver.expect_request("/world.xml").respond_with_handler(handler)
    await _run_for(sqlite_url, httpserver.url_for("/world.xml"), fetched, 6.5)
    # Fetches begin 2 s apart (± the 1 s scheduling tick), not 4 s. The first fetch, of a
    # new feed, is at once; the second on the feed's first slot after it, which its phase
    # puts anywhere up to 2 s later: the gaps are counted from the second.
    assert len(fetched) >= 4, _gaps(fetched)
    assert all(1.0 <= gap <= 3.0 for gap in _gaps(fetched)[1:]), _gaps(fetched)


async def test_a_failing_feed_is_retried_at_its_backoff(
    httpserver: HTTPServer, sqlite_url: str
) -> None:
    fetched: list[float] = []

    def handler(_request: Request) -> Response:
        fetched.append(time.monotonic())
        return Response("down", status=500)

    httpserver.expect_request("/world.xml").respond_with_handler(handler)
    await _run_for(sqlite_url, httpserver.url_for("/world.xml"), fetched, 6.8)
    # Backoff after one error is one interval (2 s), after two errors two (4 s).
    gaps = _gaps(fetched)
    assert len(gaps) >= 2, gaps
    assert 1.0 <= gaps[0] <= 3.0, gaps
    assert 3.0 <= gaps[1] <= 5.0, gaps


async def _until(check: Callable[[], bool], within: float = 10.0) -> None:
    for _ in range(int(within / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {within} s")


class SlowConsole(ConsoleAdapter):
    """A platform that takes longer over a send than the drain's round."""

    async def send_alert(self, chat_id: str, alert: Any) -> str | None:
        await asyncio.sleep(3 * DISPATCH_EVERY)
        return await super().send_alert(chat_id, alert)


async def test_a_slow_drain_is_followed_by_the_next_not_warned_about(
    httpserver: HTTPServer, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    items = [WEATHER]
    httpserver.expect_request("/world.xml").respond_with_handler(
        lambda _: Response(rss("World", items), content_type="application/rss+xml")
    )
    settings = make_settings(
        sqlite_url,
        feeds=[{"url": httpserver.url_for("/world.xml"), "interval": "1s"}],
        subscriptions=[{"platform": "console", "chat": "desk", "rules": ["Belarus OR markets"]}],
        poll={"interval": "1s", "jitter": "1ms"},
    )
    console = SlowConsole(io.StringIO())
    app = App(settings, adapters={"console": console}, health=False)
    await app.start()
    try:
        await _until(lambda: app.store.list_feeds()[0].initialised)  # the first poll: silent
        items[:0] = [BELARUS, MARKETS]  # two alerts: drains of 1.5 s each
        await _until(lambda: len(console.sent) == 2)
        items[:0] = [Item("belarus-2", "Belarus frees 52 prisoners", "Belarus freed 52.")]
        await _until(
            lambda: sum(app.store.alert_counts(None, utcnow() - timedelta(hours=1)).values()) == 3
        )
        await asyncio.sleep(DISPATCH_EVERY)  # the third alert's send is under way
    finally:
        await app.stop()
    # Stopping let the send under way end: the third alert went out, and was recorded.
    assert [alert.title for _, alert in console.sent][-1] == "Belarus frees 52 prisoners"
    assert app.store.alert_counts(None, utcnow() - timedelta(hours=1)).get("sent") == 3
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.records
