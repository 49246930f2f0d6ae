"""Several replicas on one database: one poll per feed, one alert per story and chat."""

from __future__ import annotations

import asyncio
import io

from pytest_httpserver import HTTPServer
from werkzeug import Response

from bot.adapters.console import ConsoleAdapter
from bot.app import App
from bot.store import utcnow
from tests.conftest import make_settings
from tests.feedserver import BELARUS, WEATHER, rss


async def test_two_replicas_send_each_alert_once(httpserver: HTTPServer, database_url: str) -> None:
    items = [WEATHER]
    httpserver.expect_request("/world.xml").respond_with_handler(
        lambda _request: Response(rss("World", items), content_type="application/rss+xml")
    )
    settings = make_settings(
        database_url,
        feeds=[{"url": httpserver.url_for("/world.xml")}],
        subscriptions=[{"platform": "console", "chat": "desk", "rules": ['"prisoner release"']}],
    )
    consoles = [ConsoleAdapter(io.StringIO()), ConsoleAdapter(io.StringIO())]
    replicas = [App(settings, adapters={"console": c}, health=False) for c in consoles]
    for app in replicas:
        await app.prepare()
    try:
        (feed,) = replicas[0].store.list_feeds()
        first = await asyncio.gather(*(app.pipeline.poll(feed.id) for app in replicas))
        assert sorted(r.status for r in first) == ["ok", "skipped"]  # one claim wins

        items.insert(0, BELARUS)
        for _ in range(3):  # each replica gets its chance; the feed is due every time
            replicas[0].store.set_next_poll(feed.id, utcnow())
            await asyncio.gather(*(app.pipeline.poll(feed.id) for app in replicas))
        # Both dispatchers race for the one queued alert.
        sent = await asyncio.gather(*(app.dispatcher.run_once() for app in replicas))
        assert sum(sent) == 1
        assert sum(len(c.sent) for c in consoles) == 1
    finally:
        for app in replicas:
            await app.stop()


async def test_rule_changes_reach_the_other_replicas(database_url: str) -> None:
    from bot.commands.parse import Command
    from bot.commands.service import Caller

    settings = make_settings(database_url)
    one, two = (App(settings, adapters={}, health=False) for _ in range(2))
    for app in (one, two):
        await app.prepare()
    try:
        caller = Caller("console", "desk")
        await one.service.handle(caller, Command("watch", "Belarus"))
        await one.service.handle(caller, Command("watch", "sanctions"))
        assert (len(one.rulebook), len(two.rulebook)) == (2, 0)
        two.rulebook.sync()
        assert len(two.rulebook) == 2
        await one.service.handle(caller, Command("unwatch", "1"))
        two.rulebook.sync()
        assert len(two.rulebook) == 1
    finally:
        for app in (one, two):
            await app.stop()
