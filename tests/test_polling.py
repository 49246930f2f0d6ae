"""Polling at scale: feeds on their own phases, a catch-up after a cold start, an
unchanged feed that costs one UPDATE, a first poll that matches nothing."""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, event, func, select
from werkzeug import Request, Response

from bot.adapters.console import ConsoleAdapter
from bot.app import App
from bot.feeds import messages as feed_messages
from bot.feeds import pipeline
from bot.feeds.phase import next_poll, phase
from bot.feeds.unchanged import UnchangedBatch
from bot.i18n import Text
from bot.store import Store, make_engine, migrate, utcnow
from bot.store.schema import story_clusters
from tests.conftest import make_settings
from tests.feedserver import BELARUS, MARKETS, WEATHER, Item, rss
from tests.test_pipeline import Feed, poll_all

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _windows(times: list[datetime], start: datetime, width: float, count: int) -> list[int]:
    """How many of ``times`` fall in each of ``count`` windows of ``width`` s from ``start``."""
    seen = Counter(int((t - start).total_seconds() // width) for t in times)
    return [seen[n] for n in range(count)]


def _even(counts: list[int], within: float = 0.2) -> bool:
    mean = sum(counts) / len(counts)
    return all(abs(c - mean) <= within * mean for c in counts)


# --------------------------------------------------------------------------- phases


def test_phases_spread_any_run_of_feeds_evenly() -> None:
    # 10,000 feeds every 5 minutes first polled at one instant (a cold start): their next
    # polls fall about 1,000 to each 30-second window, not 10,000 in one.
    for ids, interval in ((range(1, 10_001), 300.0), (range(5_000, 5_200), 60.0)):
        polls = [next_poll(i, interval, T0) for i in ids]
        counts = _windows(polls, T0, 30.0, int(interval // 30))
        assert sum(counts) == len(ids) and _even(counts, 0.05), counts


def test_a_poll_on_time_is_next_due_an_interval_later_and_a_late_one_sooner() -> None:
    slot = next_poll(7, 60.0, T0)
    assert 0 < (slot - T0).total_seconds() <= 60.0
    assert next_poll(7, 60.0, slot) == slot + timedelta(seconds=60)
    # Polled 50 s late (a catch-up): back on its phase 10 s later, not a whole interval.
    late = slot + timedelta(seconds=50)
    assert next_poll(7, 60.0, late) == slot + timedelta(seconds=60)
    assert (phase(7, 60.0) - slot.timestamp()) % 60.0 == pytest.approx(0.0, abs=1e-6)
    # Jitter moves the feed's slots by a fixed part of it: still one interval apart.
    moved = next_poll(7, 60.0, T0, jitter=5.0)
    assert slot < moved < slot + timedelta(seconds=5)
    assert next_poll(7, 60.0, moved, jitter=5.0) == moved + timedelta(seconds=60)
    assert next_poll(7, 60.0, moved + timedelta(seconds=59), jitter=5.0) == moved + timedelta(
        seconds=60
    )


def test_jitter_keeps_the_phases_even() -> None:
    polls = [next_poll(i, 300.0, T0, jitter=10.0) for i in range(1, 10_001)]
    assert _even(_windows(polls, T0, 30.0, 10), 0.05)


# --------------------------------------------------------------------------- the running app


async def test_a_cold_start_catches_up_then_every_feed_keeps_its_phase(
    httpserver: HTTPServer, sqlite_url: str
) -> None:
    count, interval = 120, 30.0
    fetched: dict[str, list[datetime]] = {}

    def handler(request: Request) -> Response:
        fetched.setdefault(request.url, []).append(utcnow())
        return Response(rss(request.path, [WEATHER]), content_type="application/rss+xml")

    for n in range(count):
        httpserver.expect_request(f"/f{n}.xml").respond_with_handler(handler)
    settings = make_settings(
        sqlite_url,
        feeds=[{"url": httpserver.url_for(f"/f{n}.xml")} for n in range(count)],
        poll={"interval": f"{interval:g}s", "jitter": "0s", "concurrency": 4},
    )
    app = App(settings, adapters={"console": ConsoleAdapter(io.StringIO())}, health=False)
    start = utcnow()
    await app.start()
    try:
        for _ in range(1200):  # every feed is due at once: caught up at the concurrency limit
            feeds = await asyncio.to_thread(app.store.list_feeds)
            if all(f.initialised for f in feeds):
                break
            await asyncio.sleep(0.05)
    finally:
        await app.stop()
    caught_up = max(f.last_polled_at or start for f in feeds)
    assert all(f.initialised for f in feeds)
    assert (caught_up - start).total_seconds() < interval, "the catch-up outlasted an interval"
    # Caught up, then back on its own phase: no feed waits a whole extra interval after
    # its catch-up poll, and none is fetched again before its slot (a feed whose slot came
    # during the catch-up was fetched on it).
    for feed in feeds:
        first, *again = fetched[feed.url]
        slot = next_poll(feed.id, interval, first - timedelta(seconds=1))
        assert len(again) <= 1 and all(t >= slot for t in again), (feed.id, first, again)
        assert feed.last_polled_at is not None
        if feed.last_polled_at >= feed.next_poll_at:
            continue  # claimed on its slot, and that poll cut short by the stop
        # The slot after the poll began: it began after its claim, before its fetch.
        last = fetched[feed.url][-1]
        assert feed.next_poll_at in (
            next_poll(feed.id, interval, feed.last_polled_at),
            next_poll(feed.id, interval, last),
        )
        assert feed.next_poll_at - last <= timedelta(seconds=interval)
    # Every round from now on is spread evenly: per tenth of the interval (on the clock's
    # cycle of intervals), within ±20% of the mean.
    cycle = Counter(int(f.next_poll_at.timestamp() % interval // (interval / 10)) for f in feeds)
    counts = [cycle[n] for n in range(10)]
    assert sum(counts) == count and _even(counts), counts


# --------------------------------------------------------------------------- unchanged feeds


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements run on ``engine`` meanwhile."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        seen.append(sql.split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """URLs the pipeline parsed."""
    seen: list[str] = []
    parse = pipeline._parse

    def counted(fetched: Any, max_items: int) -> Any:
        seen.append(fetched.url)
        return parse(fetched, max_items)

    monkeypatch.setattr(pipeline, "_parse", counted)
    return seen


async def test_the_same_bytes_again_are_not_parsed_and_cost_one_update(
    httpserver: HTTPServer, database_url: str, apps: Any, parses: list[str]
) -> None:
    feed = Feed(httpserver, "/world.xml", "World", [WEATHER])  # no ETag: a 200 every time
    app, _ = await apps(database_url, [feed.url])
    (first,) = await poll_all(app)
    assert first.status == "ok" and len(parses) == 1
    (feed_row,) = app.store.list_feeds()
    app.store.set_next_poll(feed_row.id, utcnow())

    with statements(app.engine) as seen:
        report = await app.pipeline.poll(feed_row.id)
    assert report.status == "not_modified" and len(parses) == 1
    assert seen == ["UPDATE", "UPDATE"]  # the claim, then the outcome: nothing else

    feed.items = [BELARUS, WEATHER]  # new bytes are parsed, and the new story is found
    (changed,) = await poll_all(app)
    assert changed.new == 1 and len(parses) == 2


async def test_a_304_costs_one_update_after_the_claim(
    httpserver: HTTPServer, database_url: str, apps: Any, parses: list[str]
) -> None:
    document = rss("World", [WEATHER])

    def handler(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304)
        return Response(document, content_type="application/rss+xml", headers={"ETag": '"v1"'})

    httpserver.expect_request("/world.xml").respond_with_handler(handler)
    app, _ = await apps(database_url, [httpserver.url_for("/world.xml")])
    await poll_all(app)
    (feed_row,) = app.store.list_feeds()
    app.store.set_next_poll(feed_row.id, utcnow())
    with statements(app.engine) as seen:
        report = await app.pipeline.poll(feed_row.id)
    assert report.status == "not_modified" and len(parses) == 1
    assert seen == ["UPDATE", "UPDATE"]
    polled = app.store.get_feed(feed_row.id)
    assert polled is not None and polled.etag == '"v1"' and polled.next_poll_at > utcnow()


def _conditional(httpserver: HTTPServer, path: str, etag: str) -> str:
    """A feed that answers 304 to its ETag."""
    document = rss(path, [WEATHER])

    def handler(request: Request) -> Response:
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304)
        return Response(document, content_type="application/rss+xml", headers={"ETag": etag})

    httpserver.expect_request(path).respond_with_handler(handler)
    return str(httpserver.url_for(path))


REFUSED = Text(feed_messages.CONNECTION_REFUSED)


async def _polled_once_and_failing(app: App) -> list[Any]:
    """Every feed polled once (ETag and body hash known), then left with two errors in a
    row and due now, as a feed whose server was away for a while."""
    await poll_all(app)
    for feed in app.store.list_feeds():
        app.store.record_feed_error(feed.id, REFUSED, utcnow())
        app.store.record_feed_error(feed.id, REFUSED, utcnow())
    return app.store.list_feeds()


def _claim_all(app: App, now: datetime) -> list[Any]:
    until = now + timedelta(seconds=app.settings.poll.lease)
    return app.store.claim_due_feeds(app.worker, now, now, until, 100)


async def test_a_ticks_unchanged_feeds_are_recorded_together_in_one_statement(
    httpserver: HTTPServer, database_url: str, apps: Any, parses: list[str]
) -> None:
    urls = [_conditional(httpserver, f"/c{n}.xml", f'"v{n}"') for n in range(3)]
    urls.append(Feed(httpserver, "/same.xml", "Same", [WEATHER]).url)  # no ETag: same bytes
    app, _ = await apps(database_url, urls)
    before = {f.id: f for f in await _polled_once_and_failing(app)}
    assert all(f.error_count == 2 for f in before.values())
    now = utcnow()
    claimed = _claim_all(app, now)
    assert len(claimed) == 4

    with statements(app.engine) as seen:
        reports = [await app.pipeline.poll_claimed(feed, now) for feed in claimed]
    assert {r.status for r in reports} == {"not_modified"} and len(parses) == 4
    assert seen == []  # no statement of their own: the outcomes wait for the tick
    waiting = {f.id: f for f in app.store.list_feeds()}
    assert all(f.error_count == 2 and f.next_poll_at <= now for f in waiting.values())

    with statements(app.engine) as seen:
        assert await app.pipeline.unchanged.flush() == 4
    assert seen == ["UPDATE"]
    for feed in app.store.list_feeds():
        assert feed.next_poll_at == next_poll(feed.id, 3600.0, now, jitter=1.0)
        assert (feed.error_count, feed.last_error, feed.last_error_text) == (0, None, None)
        assert feed.etag == before[feed.id].etag  # a 304 keeps the ETag; no ETag stays none
        assert feed.body_hash == before[feed.id].body_hash
    assert [f.etag for f in app.store.list_feeds()] == ['"v0"', '"v1"', '"v2"', None]
    assert _claim_all(app, utcnow()) == []  # released, and not due again before its slot


async def test_a_crash_before_the_batch_is_written_leaves_the_feed_to_be_polled_again(
    httpserver: HTTPServer, database_url: str, apps: Any
) -> None:
    url = _conditional(httpserver, "/world.xml", '"v1"')
    app, _ = await apps(database_url, [url])
    (feed,) = await _polled_once_and_failing(app)
    now = utcnow()
    (claimed,) = _claim_all(app, now)
    report = await app.pipeline.poll_claimed(claimed, now)
    assert report.status == "not_modified" and len(app.pipeline.unchanged) == 1
    # The process dies here, its batch unwritten: the feed is still claimed and due.
    crashed = app.pipeline.unchanged
    app.pipeline.unchanged = UnchangedBatch(app.store, app.worker)
    lapsed = now + timedelta(seconds=app.settings.poll.lease + 1)
    assert app.store.claim_due_feeds("another", now, now, lapsed, 10) == []  # held till then
    (again,) = app.store.claim_due_feeds("another", lapsed, lapsed, lapsed, 10)
    assert again.id == feed.id and again.next_poll_at <= now and again.error_count == 2
    # The dead worker's outcome, were it written late, would not touch the new claim.
    await crashed.flush()
    taken = app.store.get_feed(feed.id)
    assert taken is not None and taken.next_poll_at == again.next_poll_at
    assert taken.error_count == 2


async def test_the_running_app_records_its_unchanged_feeds_each_tick(
    httpserver: HTTPServer, database_url: str
) -> None:
    urls = [_conditional(httpserver, f"/c{n}.xml", f'"v{n}"') for n in range(4)]
    settings = make_settings(
        database_url,
        feeds=[{"url": url} for url in urls],
        poll={"interval": "2s", "jitter": "0s", "lease": "120s"},
    )
    app = App(settings, adapters={"console": ConsoleAdapter(io.StringIO())}, health=False)
    await app.start()
    try:
        # A third poll of a feed shows its second one, a 304, was recorded: until then the
        # feed stays claimed (for poll.lease) and due.
        for _ in range(800):
            hits = Counter(r.path for r, _ in httpserver.log)
            if len(hits) == 4 and min(hits.values()) >= 3:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"unchanged feeds not polled again: {hits}")
    finally:
        await app.stop()
    assert len(app.pipeline.unchanged) == 0  # the last ones written on the way out
    feeds = app.store.list_feeds()
    app.engine.dispose()
    # A feed claimed for its coming slot when the app stopped keeps that slot, polled
    # or not: its last recorded poll (last_ok_at) is what lies before it.
    assert all(f.etag and f.error_count == 0 and f.next_poll_at > f.last_ok_at for f in feeds)


# --------------------------------------------------------------------------- first poll


async def test_the_first_poll_records_stories_without_matching_them(
    httpserver: HTTPServer, database_url: str, apps: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = Feed(httpserver, "/world.xml", "World", [BELARUS, WEATHER, MARKETS])
    app, console = await apps(database_url, [feed.url])
    matched: list[str] = []
    match = app.rulebook.match

    def counted(document: Any) -> Any:
        matched.append(document.title)
        return match(document)

    monkeypatch.setattr(app.rulebook, "match", counted)
    (first,) = await poll_all(app)
    assert first.status == "ok" and first.new == 3 and first.alerts == 0
    assert matched == []
    (feed_row,) = app.store.list_feeds()
    assert app.store.known_uids(feed_row.id, ["belarus-1", "weather-1", "markets-1"]) == {
        "belarus-1",
        "weather-1",
        "markets-1",
    }
    news = Item("belarus-2", "Belarus: a prisoner release after all", "Minsk freed 20 people.")
    feed.items = [news, BELARUS, WEATHER, MARKETS]
    (second,) = await poll_all(app)
    assert matched == [news.title] and second.alerts == 1


async def test_the_first_poll_places_no_story_in_events(
    httpserver: HTTPServer, database_url: str, apps: Any
) -> None:
    """A cold start of thousands of feeds would otherwise take turns at the lock on event
    decisions for stories that alert nobody."""
    feed = Feed(httpserver, "/world.xml", "World", [BELARUS, WEATHER, MARKETS])
    app, _ = await apps(database_url, [feed.url])
    placed = select(func.count()).select_from(story_clusters)
    await poll_all(app)
    with app.engine.connect() as conn:
        assert conn.execute(placed).scalar() == 0
    news = Item("belarus-2", "Belarus: a prisoner release after all", "Minsk freed 20 people.")
    feed.items = [news, BELARUS, WEATHER, MARKETS]
    (second,) = await poll_all(app)
    assert second.alerts == 1
    with app.engine.connect() as conn:
        assert conn.execute(placed).scalar() == 1


def test_a_tick_claims_the_due_feeds_in_one_statement_and_no_feed_twice(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    store = Store(engine)
    ids = [store.ensure_feed(f"https://feeds.example/{n}", from_config=True).id for n in range(6)]
    now = utcnow()
    for n, feed_id in enumerate(ids):
        store.set_next_poll(feed_id, now + timedelta(seconds=n - 3))  # 3 overdue, 3 due soon
    store.set_next_poll(ids[5], now + timedelta(minutes=5))  # not due within the horizon
    horizon, until = now + timedelta(seconds=3), now + timedelta(seconds=30)
    with statements(engine) as seen:
        first = store.claim_due_feeds("a", now, horizon, until, 3)
    assert seen == ["UPDATE"]
    assert [f.id for f in first] == ids[:3]  # the most overdue first
    second = store.claim_due_feeds("b", now, horizon, until, 10)
    assert [f.id for f in second] == ids[3:5]  # the rest due; none of a's
    assert store.claim_due_feeds("a", now, horizon, until, 10) == []
    # A feed due later is held for its time, and counts as polled then.
    assert second[0].last_polled_at == second[0].next_poll_at
    engine.dispose()
