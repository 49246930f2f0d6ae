"""A poll's LLM summaries are written at once, under one deadline, against a slow local
OpenAI-compatible stand-in."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from pytest_httpserver import HTTPServer
from werkzeug import Response

from bot.adapters.console import ConsoleAdapter
from bot.app import App
from bot.store import utcnow
from tests.conftest import make_settings
from tests.feedserver import WEATHER, Item, rss


class SlowLLM:
    """Chat completions that each take ``delay`` seconds; counts requests in flight."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.in_flight = 0
        self.most_in_flight = 0
        self.requests = 0
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._complete)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/v1"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _complete(self, request: web.Request) -> web.Response:
        self.requests += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        answer = {"choices": [{"message": {"content": "LLM summary."}}]}
        return web.json_response(answer)


@pytest.fixture
async def slow_llm(request: pytest.FixtureRequest) -> AsyncIterator[SlowLLM]:
    llm = SlowLLM(delay=request.param)
    await llm.start()
    yield llm
    await llm.stop()


STORIES = [
    Item(f"belarus-{n}", f"Belarus story number {n}", f"Minsk said {n} things today. " * 5)
    for n in range(4)
]


async def _alerts(httpserver: HTTPServer, sqlite_url: str, llm: SlowLLM) -> list[Any]:
    items = [WEATHER]
    httpserver.expect_request("/world.xml").respond_with_handler(
        lambda _request: Response(rss("World", items), content_type="application/rss+xml")
    )
    console = ConsoleAdapter(io.StringIO())
    settings = make_settings(
        sqlite_url,
        feeds=[{"url": httpserver.url_for("/world.xml")}],
        subscriptions=[{"platform": "console", "chat": "desk", "rules": ["Belarus"]}],
        summary={"llm": {"base_url": llm.base_url, "model": "m", "timeout": "1s"}},
    )
    app = App(settings, adapters={"console": console}, health=False)
    await app.prepare()
    try:
        (feed,) = app.store.list_feeds()
        await app.pipeline.poll(feed.id)  # learns what is there
        items[:0] = STORIES
        app.store.set_next_poll(feed.id, utcnow())
        report = await app.pipeline.poll(feed.id)
        assert report.alerts == len(STORIES)
        while await app.dispatcher.run_once():
            pass
        return [alert for _, alert in console.sent]
    finally:
        await app.stop()


@pytest.mark.parametrize("slow_llm", [0.3], indirect=True)
async def test_a_poll_s_summaries_are_written_at_once(
    httpserver: HTTPServer, sqlite_url: str, slow_llm: SlowLLM
) -> None:
    alerts = await _alerts(httpserver, sqlite_url, slow_llm)
    assert slow_llm.most_in_flight == len(STORIES)  # not one after another
    assert [a.summary.points for a in alerts] == [("LLM summary.",)] * len(STORIES)


@pytest.mark.parametrize("slow_llm", [5.0], indirect=True)
async def test_summaries_past_the_deadline_fall_back_and_the_alerts_go_out(
    httpserver: HTTPServer, sqlite_url: str, slow_llm: SlowLLM
) -> None:
    alerts = await _alerts(httpserver, sqlite_url, slow_llm)
    # Every call started at once and met the one 1 s deadline: extractive summaries.
    assert slow_llm.most_in_flight == len(STORIES)
    assert len(alerts) == len(STORIES)
    assert all(a.summary and a.summary.points != ("LLM summary.",) for a in alerts)
