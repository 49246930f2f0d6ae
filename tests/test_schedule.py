"""A feed is fetched at its interval, and a failing one at its backoff, by the running app."""

from __future__ import annotations

import asyncio
import io
import time

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bot.adapters.console import ConsoleAdapter
from bot.app import App
from tests.conftest import make_settings
from tests.feedserver import WEATHER, rss


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
    # Fetches begin 2 s apart (± the 1 s scheduling tick), not 4 s.
    assert len(fetched) >= 4, _gaps(fetched)
    assert all(1.0 <= gap <= 3.0 for gap in _gaps(fetched)), _gaps(fetched)


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
