"""Replicas sharing one bot: one of them polls Telegram, all of them keep its rate.

In-process replicas on one database, against the local Telegram stand-in; the scale test
with real ``newsbot run`` processes is tests/test_scale.py.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bot.adapters.console import ConsoleAdapter
from bot.adapters.telegram import TelegramAdapter
from bot.app import UPDATES_LEASE, App
from bot.config import TelegramSettings
from bot.delivery.platform import RateLimits
from bot.lease import Lease
from bot.store import Store, make_engine, migrate, utcnow
from tests.conftest import _reset_pg, make_settings
from tests.feedserver import WEATHER, rss
from tests.telegram_api import FakeBotAPI
from tests.test_dispatcher import queue

LEASE = timedelta(seconds=2)

Replica = tuple[App, TelegramAdapter]
StartReplica = Callable[..., Awaitable[Replica]]


def test_a_lease_has_one_holder_until_it_lapses_or_is_released(store: Store) -> None:
    now = utcnow()
    later = now + timedelta(seconds=30)
    assert store.take_lease("poll", "one", later, now)
    assert not store.take_lease("poll", "two", later, now)  # held by one
    assert store.take_lease("poll", "one", later + timedelta(seconds=5), now)  # renewed
    assert store.lease_holder("poll", now) == "one"
    # one stops renewing (it died): past its lease, two takes it.
    lapsed = later + timedelta(seconds=6)
    assert store.take_lease("poll", "two", lapsed + timedelta(seconds=30), lapsed)
    assert not store.take_lease("poll", "one", lapsed + timedelta(seconds=30), lapsed)
    store.release_lease("poll", "one")  # not its lease any more: nothing happens
    assert store.lease_holder("poll", lapsed) == "two"
    store.release_lease("poll", "two")
    assert store.lease_holder("poll", lapsed) is None
    assert store.take_lease("poll", "one", lapsed + timedelta(seconds=30), lapsed)


def test_send_slots_are_one_per_gap_for_every_caller(store: Store) -> None:
    now = utcnow()
    assert store.reserve_send_slot("telegram", now, 0.5) == 0.0
    # Other replicas at the same moment get the next slots, each half a second later.
    assert store.reserve_send_slot("telegram", now, 0.5) == pytest.approx(0.5)
    assert store.reserve_send_slot("telegram", now, 0.5) == pytest.approx(1.0)
    assert store.reserve_send_slot("slack", now, 0.5) == 0.0  # each platform its own rate
    # Once the reserved slots have passed, the next is now.
    assert store.reserve_send_slot("telegram", now + timedelta(seconds=2), 0.5) == 0.0


@pytest.fixture
async def start_replica(bot_api: FakeBotAPI, pg_database: str) -> AsyncIterator[StartReplica]:
    """Starts replicas of one bot on one PostgreSQL database (SQLite serves one process),
    each with the lease on getUpdates."""
    _reset_pg(pg_database)
    database_url = pg_database
    running: list[Replica] = []
    leases = Store(make_engine(database_url))

    async def start(worker: str, limits: RateLimits | None = None) -> Replica:
        options = {"token": bot_api.token, "api_base_url": bot_api.url}
        adapter = TelegramAdapter(
            TelegramSettings(**options),
            request_timeout=2.0,
            poll_timeout=1.0,
            start_attempts=1,
            updates_lease=Lease(leases, UPDATES_LEASE, worker, LEASE),
        )
        if limits is not None:
            adapter.limits = limits
        settings = make_settings(database_url, telegram=options, poll={"lease": "2s"})
        app = App(settings, adapters={"telegram": adapter}, health=False)
        await app.start()
        running.append((app, adapter))
        return app, adapter

    yield start
    for app, _ in running:
        await app.stop()
    leases.engine.dispose()


def polling(replicas: list[Replica]) -> list[Replica]:
    return [r for r in replicas if r[1].polls]


async def test_one_replica_polls_telegram_and_another_takes_over_when_it_stops(
    bot_api: FakeBotAPI, start_replica: StartReplica
) -> None:
    replicas = [await start_replica("one"), await start_replica("two")]
    await asyncio.sleep(LEASE.total_seconds())  # a few beats of both
    (holder,) = polling(replicas)
    (standby,) = [r for r in replicas if r is not holder]
    # Both are ready: the standby sends alerts, and only one may poll.
    assert [await app.readiness() for app, _ in replicas] == [[], []]
    bot_api.send_command(42, "/help")
    await bot_api.wait_for(lambda: bot_api.sent(42))

    await holder[0].stop()  # releases the lease: the standby takes it at its next beat
    await bot_api.wait_for(lambda: polling([standby]), within=LEASE.total_seconds())
    bot_api.send_command(43, "/help")
    await bot_api.wait_for(lambda: bot_api.sent(43), within=5)
    polls = bot_api.calls_of("getUpdates")
    assert len(polls) > 4
    assert not [c for c in polls if c.overlapped], "two replicas polled at once"


async def test_two_replicas_keep_one_platform_rate_together(
    bot_api: FakeBotAPI, start_replica: StartReplica
) -> None:
    rate = 5.0  # a lowered limit (Telegram's is 30 a second) keeps the test short
    limits = RateLimits(per_chat_interval=1.0, group_per_minute=20, global_per_second=rate)
    replicas = [await start_replica("one", limits), await start_replica("two", limits)]
    chats = [str(1000 + n) for n in range(20)]  # one alert per chat: no per-chat pacing
    for chat in chats:
        queue(replicas[0][0].store, chat, f"story for {chat}")
    # Both replicas' dispatchers drain the outbox, every half second.
    await bot_api.wait_for(lambda: len(bot_api.calls_of("sendMessage")) >= len(chats), 30)
    await asyncio.sleep(1)  # anything sent twice would show by now
    sends = sorted(c.at for c in bot_api.calls_of("sendMessage"))
    assert len(sends) == len(chats)  # each alert once
    # Any ``rate`` + 1 consecutive sends span at least a second (less a little for the
    # time between a slot being taken and its request arriving).
    burst = int(rate)
    spans = [sends[i + burst] - sends[i] for i in range(len(sends) - burst)]
    combined = (len(sends) - 1) / (sends[-1] - sends[0])
    print(f"two replicas sent {len(sends)} at {combined:.2f}/s together (limit {rate}/s)")
    assert min(spans) > 0.8, spans


async def test_on_sqlite_a_restart_polls_at_once_despite_a_killed_run_s_lease(
    bot_api: FakeBotAPI, sqlite_url: str
) -> None:
    engine = make_engine(sqlite_url)
    migrate(engine)
    now = utcnow()
    # The previous run was killed holding the lease, with 30 s left on it.
    assert Store(engine).take_lease(UPDATES_LEASE, "killed", now + timedelta(seconds=30), now)
    engine.dispose()
    options = {"token": bot_api.token, "api_base_url": bot_api.url}
    settings = make_settings(sqlite_url, telegram=options)
    app = App(settings, adapters=None, health=False)
    await app.start()
    try:
        (adapter,) = app.adapters.values()
        assert isinstance(adapter, TelegramAdapter)
        assert adapter.polls
        assert await app.readiness() == []
    finally:
        await app.stop()


async def test_replicas_started_together_share_the_feeds_evenly(
    httpserver: HTTPServer, pg_database: str
) -> None:
    """Whichever replica's tick comes first claimed every feed due before its next, so
    replicas whose ticks keep one order (started together) did not share the work: each
    got the time since the tick before it (239, 93 and 28 fetches of 120 feeds in 12 s)."""
    _reset_pg(pg_database)
    fetches: Counter[str] = Counter()

    def feed(request: Request) -> Response:
        fetches[request.headers["User-Agent"]] += 1
        return Response(rss("World", [WEATHER]), content_type="application/rss+xml")

    httpserver.expect_request(re.compile(r"/\d+\.xml")).respond_with_handler(feed)
    urls = [httpserver.url_for(f"/{n}.xml") for n in range(120)]
    # The feeds are there before the replicas start (ids 1 to 120), so each replica's part
    # (by a hash of the id) is a third; replicas seeding them together would leave gaps.
    engine = make_engine(pg_database)
    migrate(engine)
    for url in urls:
        Store(engine).ensure_feed(url, from_config=True)
    engine.dispose()
    replicas = [
        App(
            make_settings(
                pg_database,
                feeds=[{"url": url} for url in urls],
                # A lease of 4 s: each counts the live replicas every second (at its
                # start, those started before it).
                poll={"interval": "4s", "jitter": "1ms", "lease": "4s"},
                fetch={"user_agent": f"replica {n}", "allow_private_addresses": True},
            ),
            adapters={"console": ConsoleAdapter(io.StringIO())},
            health=False,
        )
        for n in range(3)
    ]
    try:
        await asyncio.gather(*(app.start() for app in replicas))
        await asyncio.sleep(6)  # the first polls, then on their phases
        fetches.clear()
        await asyncio.sleep(12)  # three polls of each feed
    finally:
        await asyncio.gather(*(app.stop() for app in replicas))
    counts = [fetches[f"replica {n}"] for n in range(3)]
    assert sum(counts) > 250, counts  # 30 fetches a second in all
    assert min(counts) > 0.9 * max(counts), counts
