"""Bounds on what one feed document may cost: items taken, field sizes, batches, locks.

docs/feeds.md ("Limits on input") states the same figures for readers.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from pytest_httpserver import HTTPServer
from werkzeug import Response

from bot.adapters.console import ConsoleAdapter
from bot.app import App
from bot.errors import FetchError, StoreBusy
from bot.feeds import limits
from bot.feeds.article import extract_text
from bot.feeds.discover import MAX_FEED_LINKS, feed_links, is_feed
from bot.feeds.fetch import Fetcher, FetchResult
from bot.feeds.newest import cut_xml_items
from bot.feeds.parse import parse_feed
from bot.feeds.pipeline import RECORD_BATCH
from bot.scheduler import Scheduler
from bot.store import make_engine, migrate, utcnow
from bot.store.store import Store
from tests.conftest import make_settings

URL = "https://feeds.example/"
START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def rss_items(count: int, *, oldest_first: bool = False, dated: bool = True) -> bytes:
    """An RSS document of ``count`` items numbered by age: item 0 is the newest."""
    ages = range(count - 1, -1, -1) if oldest_first else range(count)
    items = "".join(
        f"<item><guid>n{age}</guid><title>Story {age}</title>"
        + (f"<pubDate>{format_datetime(START - timedelta(minutes=age))}</pubDate>" if dated else "")
        + "</item>"
        for age in ages
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>'
    ).encode()


def uids(body: bytes, max_items: int, **kwargs: Any) -> set[str]:
    return {s.uid for s in parse_feed(body, url=URL, max_items=max_items, **kwargs).stories}


# --------------------------------------------------------------------------- items


@pytest.mark.parametrize("oldest_first", [False, True])
def test_a_document_gives_at_most_max_items_the_newest(oldest_first: bool) -> None:
    body = rss_items(2_500, oldest_first=oldest_first)
    assert uids(body, 1_000) == {f"n{age}" for age in range(1_000)}


def test_the_default_is_a_thousand_items() -> None:
    stories = parse_feed(rss_items(1_200), url=URL).stories
    assert len(stories) == limits.MAX_ITEMS == 1_000


def test_undated_items_are_taken_in_document_order() -> None:
    assert uids(rss_items(30, dated=False), 10) == {f"n{age}" for age in range(10)}


def test_atom_entries_and_json_items_are_bounded_too() -> None:
    entries = "".join(
        f"<entry><id>a{n}</id><title>A {n}</title><updated>2026-11-01T{n % 24:02}:00:00Z</updated>"
        "</entry>"
        for n in range(48)
    )
    atom = f'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>{entries}</feed>'
    # Hours 23, 22 (both twice) are the newest.
    assert uids(atom.encode(), 4) == {"a23", "a47", "a22", "a46"}
    items = [
        {"id": f"j{n}", "title": f"J {n}", "date_published": f"2026-11-{n + 1:02}T00:00:00Z"}
        for n in range(20)
    ]
    document = {"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": items}
    assert uids(json.dumps(document).encode(), 3) == {"j19", "j18", "j17"}


def test_the_cut_happens_before_the_xml_parser_and_keeps_everything_else() -> None:
    # A CDATA section and a comment that look like items are not items.
    text = (
        "<rss><channel><title>T</title><!-- <item>no</item> -->"
        "<item><title>keep</title><description><![CDATA[<item> not an item]]></description></item>"
        "<item><title>drop 1</title></item><item/><link>http://x.example/</link></channel></rss>"
    )
    assert cut_xml_items(text, 1) == (
        "<rss><channel><title>T</title><!-- <item>no</item> -->"
        "<item><title>keep</title><description><![CDATA[<item> not an item]]></description></item>"
        "<link>http://x.example/</link></channel></rss>"
    )
    assert cut_xml_items(text, 3) is text


def test_unclosed_items_are_cut_one_by_one() -> None:
    # Parsed whole, 100,000 of these took 38 s and 300 MB in feedparser's loose parser.
    items = "".join(f"<item><title>u{n}</title>" for n in range(30))
    text = f"<rss><channel><title>T</title>{items}</channel></rss>"
    cut = cut_xml_items(text, 10)
    assert cut.count("<item>") == 10 and cut.endswith("<title>u9</title></channel></rss>")
    assert uids(text.encode(), 10) == uids(cut.encode(), 10)
    assert len(uids(text.encode(), 10)) == 10


def test_max_items_is_a_config_key() -> None:
    assert make_settings("sqlite://", fetch={"max_items": 50}).fetch.max_items == 50
    assert make_settings("sqlite://").fetch.max_items == 1_000


# --------------------------------------------------------------------------- fields


def test_every_stored_field_is_bounded_at_parse_time() -> None:
    huge = "word " * 800_000  # 4 MB
    long_url = "https://news.example/" + "a" * 3_000
    body = (
        '<rss version="2.0"><channel><title>' + huge + "</title><item>"
        f"<title>{huge}</title><author>{huge}</author><link>{long_url}</link>"
        f"<guid>{'g' * 5_000}</guid><description>{huge}</description>"
        f"<content:encoded xmlns:content='http://purl.org/rss/1.0/modules/content/'>{huge}"
        "</content:encoded></item></channel></rss>"
    ).encode()
    feed = parse_feed(body, url=URL)
    (story,) = feed.stories
    assert feed.title is not None and len(feed.title) <= limits.TITLE_MAX
    assert len(story.title) <= limits.TITLE_MAX and story.title.endswith("…")
    assert story.author is not None and len(story.author) <= limits.AUTHOR_MAX
    assert story.link is None  # a cut URL would lead elsewhere
    assert len(story.uid) <= limits.GUID_MAX and story.uid.startswith("sha256:")
    assert 0 < len(story.summary) <= limits.TEXT_MAX
    assert 0 < len(story.content) <= limits.TEXT_MAX


def test_json_feed_fields_are_bounded() -> None:
    huge = "<b>word</b> " * 400_000
    item = {"id": "1", "title": huge, "content_html": huge, "summary": huge,
            "url": "https://j.example/" + "b" * 3_000}  # fmt: skip
    document = {"version": "https://jsonfeed.org/version/1", "title": huge, "items": [item]}
    feed = parse_feed(json.dumps(document).encode(), url=URL)
    (story,) = feed.stories
    assert feed.title is not None and len(feed.title) <= limits.TITLE_MAX
    assert len(story.title) <= limits.TITLE_MAX
    assert len(story.summary) <= limits.TEXT_MAX and len(story.content) <= limits.TEXT_MAX
    assert story.link is None


def test_html_that_never_closes_a_tag_is_read_in_linear_time() -> None:
    # Python's HTMLParser rescans the rest of the input for each "<" that opens no tag:
    # 90,000 characters of "<a " in a JSON Feed item took about a minute.
    item = {"id": "1", "title": "<x" * 2_500, "content_html": "<p>start</p>" + "<a " * 30_000}
    document = {"version": "https://jsonfeed.org/version/1.1", "items": [item]}
    started = time.monotonic()
    (story,) = parse_feed(json.dumps(document).encode(), url=URL).stories
    assert time.monotonic() - started < 5
    assert story.content.startswith("start\n\n<a <a")
    assert story.title.startswith("<x<x")


# --------------------------------------------------------------------------- the pipeline


def served(httpserver: HTTPServer, path: str, body: bytes) -> str:
    httpserver.expect_request(path).respond_with_handler(
        lambda request: Response(body, content_type="application/rss+xml")
    )
    return httpserver.url_for(path)


@pytest.fixture
async def app_for(
    sqlite_url: str,
) -> AsyncIterator[Any]:
    made: list[App] = []

    async def factory(urls: list[str], **fetch: Any) -> App:
        settings = make_settings(
            sqlite_url,
            fetch=fetch,
            feeds=[{"url": url, "name": f"Feed {n}"} for n, url in enumerate(urls, 1)],
            subscriptions=[{"platform": "console", "chat": "desk", "rules": ["story"]}],
        )
        app = App(settings, adapters={"console": ConsoleAdapter(out=io.StringIO())}, health=False)
        await app.prepare()
        made.append(app)
        return app

    yield factory
    for app in made:
        await app.stop()


async def test_the_pipeline_takes_fetch_max_items(httpserver: HTTPServer, app_for: Any) -> None:
    app = await app_for([served(httpserver, "/big.xml", rss_items(30))], max_items=12)
    (feed,) = app.store.list_feeds()
    report = await app.pipeline.poll(feed.id)
    assert (report.stories, report.new) == (12, 12)


async def test_stories_are_recorded_in_batches_with_the_feed_state_last(
    httpserver: HTTPServer, app_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = RECORD_BATCH * 2 + 10
    app = await app_for([served(httpserver, "/big.xml", rss_items(count))])
    (feed,) = app.store.list_feeds()
    calls: list[tuple[int, bool]] = []
    record = app.store.record_poll
    crash = True

    def spy(feed_id: int, **kwargs: Any) -> int:
        calls.append((len(kwargs["new_stories"]), kwargs["final"]))
        if crash and len(calls) == 2:
            raise RuntimeError("crash after the first batch")
        return record(feed_id, **kwargs)

    monkeypatch.setattr(app.store, "record_poll", spy)
    crashed = await app.pipeline.poll(feed.id)
    assert crashed.status == "error" and "RuntimeError" in (crashed.error or "")
    # The first batch is kept, but the feed is not marked as polled: a crash loses nothing,
    # and the first poll of the feed is still to come (no flood of old news after it).
    after_crash = app.store.get_feed(feed.id)
    assert after_crash is not None and not after_crash.initialised
    assert len(app.store.known_uids(feed.id, [f"n{age}" for age in range(count)])) == RECORD_BATCH

    crash = False
    calls.clear()
    app.store.set_next_poll(feed.id, utcnow())
    report = await app.pipeline.poll(feed.id)
    assert report.new == count - RECORD_BATCH
    assert calls == [(RECORD_BATCH, False), (count - 2 * RECORD_BATCH, True)]
    polled = app.store.get_feed(feed.id)
    assert polled is not None and polled.initialised


async def test_a_good_feed_is_polled_while_a_huge_one_is_processed(
    httpserver: HTTPServer, app_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    documents = {"/huge.xml": rss_items(0), "/good.xml": rss_items(0)}
    for path in documents:
        httpserver.expect_request(path).respond_with_handler(
            lambda request: Response(documents[request.path], content_type="application/rss+xml")
        )
    app = await app_for([httpserver.url_for("/huge.xml"), httpserver.url_for("/good.xml")])
    huge_feed, good_feed = app.store.list_feeds()
    for feed in (huge_feed, good_feed):  # the first, quiet poll matches nothing
        assert (await app.pipeline.poll(feed.id)).status == "ok"
        app.store.set_next_poll(feed.id, utcnow())
    documents["/huge.xml"] = rss_items(3 * RECORD_BATCH)
    documents["/good.xml"] = rss_items(1).replace(b"Story 0", b"Good")
    huge_matching, good_done = threading.Event(), threading.Event()
    loop_thread = threading.get_ident()
    match = app.rulebook.match
    on_loop = []

    def slow_match(doc: Any) -> Any:
        # The huge feed's first story waits until the good feed is through; matching on
        # the event loop would hold the loop itself, and the good feed would wait.
        on_loop.append(threading.get_ident() == loop_thread)
        if doc.title.startswith("Story") and not huge_matching.is_set():
            huge_matching.set()
            good_done.wait(timeout=10)
        return match(doc)

    monkeypatch.setattr(app.rulebook, "match", slow_match)
    huge_poll = asyncio.create_task(app.pipeline.poll(huge_feed.id))
    assert await asyncio.to_thread(huge_matching.wait, 10)
    good_report = await asyncio.wait_for(app.pipeline.poll(good_feed.id), timeout=10)
    good_done.set()
    assert good_report.status == "ok" and not huge_poll.done()
    assert (await huge_poll).new == 3 * RECORD_BATCH
    assert on_loop and not any(on_loop)


# --------------------------------------------------------------------------- SQLite busy


def hold_write_lock(
    path: str, seconds: float, started: threading.Event, release: threading.Event
) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    started.set()
    release.wait(seconds)
    conn.execute("ROLLBACK")
    conn.close()


def locked_store(
    tmp_path: Any, seconds: float, release: threading.Event
) -> tuple[Store, int, threading.Thread]:
    path = f"{tmp_path}/busy.db"
    engine = make_engine(f"sqlite:///{path}", busy_timeout=0.05)
    migrate(engine)
    store = Store(engine)
    feed = store.ensure_feed("https://x.example/", name="X", from_config=True)
    started = threading.Event()
    holder = threading.Thread(target=hold_write_lock, args=(path, seconds, started, release))
    holder.start()
    started.wait()
    return store, feed.id, holder


def test_a_busy_sqlite_database_is_waited_for_and_retried(tmp_path: Any) -> None:
    # The lock outlasts the busy timeout several times over, but not the retries.
    store, feed_id, holder = locked_store(tmp_path, 0.3, threading.Event())
    claimed = store.claim_feed(feed_id, "w", utcnow(), utcnow() + timedelta(minutes=1))
    holder.join()
    assert claimed is not None and claimed.id == feed_id


def test_the_heartbeat_and_the_release_of_claims_wait_out_a_busy_database(
    tmp_path: Any,
) -> None:
    # A cold start keeps SQLite's write lock busy; a heartbeat that gave up would let
    # the claims of polls in flight lapse, and a stop would leave its claims behind.
    store, feed_id, holder = locked_store(tmp_path, 0, threading.Event())
    holder.join()
    now = utcnow()
    assert store.claim_feed(feed_id, "w", now, now + timedelta(minutes=1))
    for step in (
        lambda: store.renew_claims("w", now + timedelta(minutes=2), [feed_id], []),
        lambda: store.release_feed_claims("w"),
    ):
        started = threading.Event()
        holder = threading.Thread(
            target=hold_write_lock,
            args=(f"{tmp_path}/busy.db", 0.3, started, threading.Event()),
        )
        holder.start()
        started.wait()
        step()  # raised OperationalError ("database is locked") before
        holder.join()
    assert store.claim_feed(feed_id, "other", now, now + timedelta(minutes=1))


def test_a_database_locked_for_good_is_one_clear_error_logged_without_traceback(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    release = threading.Event()
    store, feed_id, holder = locked_store(tmp_path, 10, release)
    with pytest.raises(StoreBusy, match="stayed locked .* use PostgreSQL") as raised:
        store.claim_feed(feed_id, "w", utcnow(), utcnow() + timedelta(minutes=1))
    release.set()
    holder.join()
    event = JobExecutionEvent(EVENT_JOB_ERROR, "feed:1", None, utcnow(), exception=raised.value)
    with caplog.at_level(logging.WARNING):
        Scheduler._funnel(event)
    (line,) = [r for r in caplog.records if r.name == "bot.scheduler"]
    assert line.levelno == logging.WARNING and line.exc_info is None
    assert "stayed locked" in line.getMessage()


# --------------------------------------------------------------------------- other input


def page_result(body: bytes, content_type: str = "text/html") -> FetchResult:
    return FetchResult(
        url="https://example.org/",
        status=200,
        body=body,
        headers={"content-type": content_type},
        etag=None,
        last_modified=None,
    )


def test_discovery_keeps_a_bounded_number_of_feed_links() -> None:
    links = "".join(
        f'<link rel="alternate" type="application/rss+xml" href="/f{n}">' for n in range(5_000)
    )
    long_link = '<link rel="alternate" type="application/rss+xml" href="/{}">'.format("x" * 3_000)
    body = f"<!DOCTYPE html><html><head>{long_link}{links}</head></html>".encode()
    found = feed_links(page_result(body))
    assert found[0] == "https://example.org/f0" and len(found) == MAX_FEED_LINKS


def test_discovery_survives_json_nested_past_the_recursion_limit() -> None:
    assert is_feed(page_result(b"[" * 100_000, "application/json")) is False


def test_article_text_is_bounded() -> None:
    paragraphs = "".join(
        f"<p>Paragraph {n} of a very long article about the news of the day, "
        "with enough words in it to count as text.</p>"
        for n in range(2_000)
    )
    page = f"<html><body><article><h1>Title</h1>{paragraphs}</article></body></html>"
    text = extract_text(page.encode(), "https://example.org/a")
    assert text is not None and "Paragraph 0 " in text
    assert len(text) <= limits.TEXT_MAX


async def test_server_text_kept_or_quoted_is_bounded(httpserver: HTTPServer) -> None:
    huge_etag = '"' + "e" * 5_000 + '"'
    httpserver.expect_request("/feed").respond_with_response(
        Response(b"<rss/>", headers={"ETag": huge_etag, "Last-Modified": "x" * 5_000})
    )
    httpserver.expect_request("/odd").respond_with_response(
        Response(b"", status="599 " + "Reason " * 1_000)
    )
    async with Fetcher(timeout=5, allow_private_addresses=True) as fetcher:
        fetched = await fetcher.fetch(httpserver.url_for("/feed"))
        assert (fetched.etag, fetched.last_modified) == (None, None)
        with pytest.raises(FetchError) as error:
            await fetcher.fetch(httpserver.url_for("/odd"))
    assert str(error.value).startswith("HTTP 599 Reason") and len(str(error.value)) < 300


async def test_a_url_too_long_to_store_is_refused_before_any_request() -> None:
    async with Fetcher(timeout=5, allow_private_addresses=True) as fetcher:
        with pytest.raises(FetchError, match="URL of 3,021 characters; at most 2,048"):
            await fetcher.fetch("https://news.example/" + "a" * 3_000)
