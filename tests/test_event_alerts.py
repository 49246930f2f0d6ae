"""One alert per news event, end to end: local feeds of several outlets → App → console.

The stories are the labelled set's versions (``benchmarks/clusters_eval.json``): the seed
event as five outlets wrote it, and near misses (same topic, another event) with their
own dates, the clustering's clock walking through them.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer

from bot.adapters.console import ConsoleAdapter
from bot.app import App
from bot.events import EventClusters
from bot.store import utcnow
from bot.store.clusters import ClusterStore
from tests.conftest import make_settings
from tests.feedserver import WEATHER, Item
from tests.test_pipeline import Feed, poll_all

DATA = Path(__file__).resolve().parents[1] / "benchmarks" / "clusters_eval.json"
RULES = ["Lukashenko OR Belarus"]
SEED = "by-refusal"


def _events() -> dict[str, list[dict[str, Any]]]:
    doc = json.loads(DATA.read_text(encoding="utf-8"))
    return {event["id"]: event["stories"] for event in doc["events"]}


EVENTS = _events()


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _dated(event: str, shift: timedelta = timedelta(0)) -> list[tuple[str, Item]]:
    """(outlet, item) of an event's stories, first published first, ``shift`` later."""
    stories = sorted(EVENTS[event], key=lambda s: _at(s["published"]))
    return [
        (s["outlet"], Item(s["id"], s["title"], s["text"], s["link"], _at(s["published"]) + shift))
        for s in stories
    ]


def _items(event: str) -> list[tuple[str, Item]]:
    """(outlet, item) of an event's stories, its last one published half an hour ago."""
    last = max(_at(s["published"]) for s in EVENTS[event])
    return _dated(event, utcnow() - timedelta(minutes=30) - last)


async def _app(
    database_url: str,
    feeds: list[tuple[str, Feed]],
    clock: Callable[[], datetime] | None = None,
    **extra: Any,
) -> tuple[App, ConsoleAdapter]:
    console = ConsoleAdapter(out=io.StringIO())
    settings = make_settings(
        database_url,
        feeds=[{"url": feed.url, "name": name} for name, feed in feeds],
        subscriptions=[{"platform": "console", "chat": "news-desk", "rules": RULES}],
        **extra,
    )
    app = App(settings, adapters={"console": console}, health=False)
    if clock is not None:  # the window's "now" follows the stories' dates
        window = timedelta(seconds=settings.clusters.window)
        app.pipeline.clusters = EventClusters(ClusterStore(app.engine), window, clock=clock)
    await app.prepare()
    await poll_all(app)  # the first poll only learns what is there
    return app, console


def _outlet_feeds(httpserver: HTTPServer, outlets: list[str]) -> list[tuple[str, Feed]]:
    return [
        (name, Feed(httpserver, f"/outlet-{n}.xml", name, [WEATHER]))
        for n, name in enumerate(outlets)
    ]


async def test_five_outlets_of_one_event_make_one_alert_naming_the_other_four(
    httpserver: HTTPServer, database_url: str
) -> None:
    """The set's Belarus stories as they came, in rounds on the clock of their dates."""
    seed = _dated(SEED)
    assert len(seed) == 5
    feeds = _outlet_feeds(httpserver, [outlet for outlet, _ in seed])
    clock = [_at("2025-08-16T09:00:00Z")]
    app, console = await _app(database_url, feeds, clock=lambda: clock[0])
    try:
        seed_items = [item for _, item in seed]  # seed_items[n] on outlet n's own feed
        rounds: list[tuple[str, list[Item | None]]] = [
            ("2025-08-16T14:00:00Z", [i for _, i in _dated("by-pardon-30")]),  # a week before
            ("2025-08-20T10:00:00Z", [i for _, i in _dated("by-call-analysis")]),
            ("2025-08-22T13:00:00Z", seed_items[:1]),  # the first outlet: alerted and sent
            ("2025-08-22T21:00:00Z", [None, *seed_items[1:]]),  # the other four
            ("2025-09-11T19:00:00Z", [i for _, i in _dated("by-52-freed")]),  # the follow-up
        ]
        for when, items in rounds:
            clock[0] = _at(when)
            for n, (_, feed) in enumerate(feeds):
                feed.items = [WEATHER, *filter(None, items[n :: len(feeds)])]
            await poll_all(app)
            while await app.dispatcher.run_once():
                pass

        titles = [alert.title for _, alert in console.sent]
        first = seed[0][1].title
        expected = [_dated(event)[0][1].title for event in ("by-pardon-30", "by-call-analysis")]
        assert titles == [*expected, first, _dated("by-52-freed")[0][1].title], titles
        # The seed's message was edited to name the four other outlets.
        edits = [alert for _, _, alert in console.edited if alert.title == first]
        assert edits and edits[-1].source == seed[0][0]
        assert sorted(edits[-1].also_reported_by) == sorted(outlet for outlet, _ in seed[1:])
    finally:
        await app.stop()


async def test_the_fullest_report_gives_the_summary_while_the_alert_waits(
    httpserver: HTTPServer, database_url: str
) -> None:
    stories = {outlet: item for outlet, item in _items(SEED)}
    short, full = "Devdiscourse", "Reuters (via The Straits Times)"
    assert len(stories[short].body) < len(stories[full].body)
    feeds = _outlet_feeds(httpserver, [short, full])
    app, console = await _app(database_url, feeds)
    try:
        feeds[0][1].items = [stories[short], WEATHER]  # the three-sentence copy comes first
        feeds[1][1].items = [stories[full], WEATHER]
        await poll_all(app)
        assert await app.dispatcher.run_once() == 1
        ((_, alert),) = console.sent
        assert (alert.source, alert.also_reported_by) == (short, (full,))
        points = [point.rstrip("…") for point in alert.summary.points]  # long ones are cut
        assert points and all(p in stories[full].body for p in points), points
        assert not any(p in stories[short].body for p in points)
    finally:
        await app.stop()


async def test_a_sent_alert_keeps_its_summary_when_a_fuller_report_comes(
    httpserver: HTTPServer, database_url: str
) -> None:
    stories = {outlet: item for outlet, item in _items(SEED)}
    short, full = "Devdiscourse", "Reuters (via The Straits Times)"
    feeds = _outlet_feeds(httpserver, [short, full])
    app, console = await _app(database_url, feeds)
    try:
        feeds[0][1].items = [stories[short], WEATHER]
        await poll_all(app)
        assert await app.dispatcher.run_once() == 1
        ((_, sent),) = console.sent
        feeds[1][1].items = [stories[full], WEATHER]
        await poll_all(app)
        await app.dispatcher.run_once()
        ((_, _, edited),) = console.edited
        assert edited.also_reported_by == (full,)
        assert edited.summary == sent.summary  # the message read stays as it was read
    finally:
        await app.stop()


async def test_with_clustering_off_each_outlet_gets_its_own_alert(
    httpserver: HTTPServer, database_url: str
) -> None:
    seed = _items(SEED)
    feeds = _outlet_feeds(httpserver, [outlet for outlet, _ in seed])
    app, console = await _app(database_url, feeds, clusters={"enabled": False})
    try:
        for (_, feed), (_, item) in zip(feeds, seed, strict=True):
            feed.items = [item, WEATHER]
        await poll_all(app)
        while await app.dispatcher.run_once():
            pass
        assert sorted(a.title for _, a in console.sent) == sorted(i.title for _, i in seed)
        assert not console.edited
    finally:
        await app.stop()


async def test_replicas_polling_two_outlets_of_one_event_at_once_queue_one_alert(
    httpserver: HTTPServer, database_url: str
) -> None:
    seed = _items(SEED)
    feeds = _outlet_feeds(httpserver, [outlet for outlet, _ in seed])
    settings = make_settings(
        database_url,
        feeds=[{"url": feed.url, "name": name} for name, feed in feeds],
        subscriptions=[{"platform": "console", "chat": "news-desk", "rules": RULES}],
    )
    consoles = [ConsoleAdapter(out=io.StringIO()) for _ in range(2)]
    replicas = [App(settings, adapters={"console": c}, health=False) for c in consoles]
    for app in replicas:
        await app.prepare()
    try:
        await poll_all(replicas[0])
        for (_, feed), (_, item) in zip(feeds, seed, strict=True):
            feed.items = [item, WEATHER]
        ids = [feed.id for feed in replicas[0].store.list_feeds()]
        for feed_id in ids:
            replicas[0].store.set_next_poll(feed_id, utcnow())
        # Each replica polls every other outlet, all at once.
        await asyncio.gather(
            *(replicas[n % 2].pipeline.poll(feed_id) for n, feed_id in enumerate(ids))
        )
        for app in replicas:
            while await app.dispatcher.run_once():
                pass
        sent = [alert for console in consoles for _, alert in console.sent]
        assert len(sent) == 1, [a.title for a in sent]
        named = {sent[0].source, *sent[0].also_reported_by}
        edits = [alert for console in consoles for _, _, alert in console.edited]
        if edits:  # the names that came after the send
            named |= set(edits[-1].also_reported_by)
        assert named == {outlet for outlet, _ in seed}
    finally:
        for app in replicas:
            await app.stop()


async def test_a_copy_of_a_story_alerted_with_clustering_off_names_its_outlet_once_on(
    httpserver: HTTPServer, database_url: str
) -> None:
    """Turning clustering on (or upgrading to it) keeps the alerts queued before."""
    (outlet, item), *_ = _items(SEED)
    feeds = _outlet_feeds(httpserver, [outlet, "Copy"])
    before, console = await _app(database_url, feeds, clusters={"enabled": False})
    try:
        feeds[0][1].items = [item, WEATHER]
        await poll_all(before)
        assert await before.dispatcher.run_once() == 1
    finally:
        await before.stop()
    after, console = await _app(database_url, feeds)
    try:
        copy = Item("copy-guid", item.title, item.body, f"{item.link}?utm_source=rss")
        feeds[1][1].items = [copy, WEATHER]
        await poll_all(after)
        await after.dispatcher.run_once()
        assert console.sent == []
        ((_, _, edited),) = console.edited
        assert (edited.source, edited.also_reported_by) == (outlet, ("Copy",))
    finally:
        await after.stop()
