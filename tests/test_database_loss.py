"""PostgreSQL connections cut under a running bot: it reconnects and keeps polling and
sending."""

from __future__ import annotations

import asyncio
import io

from pytest_httpserver import HTTPServer
from sqlalchemy import create_engine, text
from werkzeug import Request, Response

from bot.adapters.console import ConsoleAdapter
from bot.app import App
from tests.conftest import _reset_pg, make_settings
from tests.feedserver import BELARUS, MARKETS, WEATHER, rss


def terminate_connections(url: str) -> int:
    """pg_terminate_backend on every other connection to the database at ``url``."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            return len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).all()
            )
    finally:
        engine.dispose()


async def _until(check: object, within: float) -> bool:
    for _ in range(int(within / 0.1)):
        if check():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.1)
    return False


async def test_terminated_connections_are_replaced_and_alerts_still_go_out(
    httpserver: HTTPServer, pg_database: str
) -> None:
    _reset_pg(pg_database)
    items = [WEATHER]
    fetches: list[int] = []

    def feed(_request: Request) -> Response:
        fetches.append(1)
        return Response(rss("World", items), content_type="application/rss+xml")

    httpserver.expect_request("/world.xml").respond_with_handler(feed)
    console = ConsoleAdapter(io.StringIO())
    settings = make_settings(
        pg_database,
        feeds=[{"url": httpserver.url_for("/world.xml"), "interval": "1s"}],
        poll={"interval": "1s", "jitter": "1ms", "lease": "4s"},
        subscriptions=[{"platform": "console", "chat": "desk", "rules": ["Belarus", "Stocks"]}],
    )
    app = App(settings, adapters={"console": console}, health=False)
    await app.start()
    try:
        assert await _until(lambda: len(fetches) >= 2, within=10)
        items.insert(0, BELARUS)
        assert await _until(lambda: len(console.sent) == 1, within=10)
        for _ in range(3):  # cut every pooled connection, three times over
            assert terminate_connections(pg_database) >= 1
            await asyncio.sleep(0.5)
        seen = len(fetches)
        items.insert(0, MARKETS)
        # It keeps polling, and the new story's alert is queued and sent.
        assert await _until(lambda: len(console.sent) == 2, within=15), len(fetches) - seen
        assert len(fetches) > seen
        assert [a.title for _, a in console.sent] == [BELARUS.title, MARKETS.title]
    finally:
        await app.stop()
