"""From a feed on a local HTTP server to alerts on the console, end to end."""

from __future__ import annotations

import asyncio
import gzip
import io
import socket
import sys
import threading
from datetime import timedelta
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bot.adapters.console import ConsoleAdapter
from bot.app import App
from bot.delivery import outbox
from bot.models import OutboxStatus
from bot.store import utcnow
from tests.conftest import make_settings
from tests.feedserver import BELARUS, MARKETS, WEATHER, Item, rss

RULE = 'Belarus AND "prisoner release"'


class Feed:
    """A feed served by pytest-httpserver whose items a test can change."""

    def __init__(self, server: HTTPServer, path: str, title: str, items: list[Item]) -> None:
        self.title = title
        self.items = items
        self.requests: list[Request] = []
        self.url = server.url_for(path)
        server.expect_request(path).respond_with_handler(self._respond)

    def _respond(self, request: Request) -> Response:
        self.requests.append(request)
        return Response(rss(self.title, self.items), content_type="application/rss+xml")


async def make_app(
    database_url: str,
    feeds: list[str],
    rules: list[str] | None = None,
    full_text: bool = False,
    **extra: Any,
) -> tuple[App, ConsoleAdapter]:
    console = ConsoleAdapter(out=io.StringIO())
    settings = make_settings(
        database_url,
        feeds=[
            {"url": url, "name": f"Feed {n}", "full_text": full_text}
            for n, url in enumerate(feeds, 1)
        ],
        subscriptions=[{"platform": "console", "chat": "news-desk", "rules": rules or [RULE]}],
        **extra,
    )
    app = App(settings, adapters={"console": console}, health=False)
    await app.prepare()
    return app, console


async def poll_all(app: App) -> list[Any]:
    """Make every feed due and poll it once, as the scheduler would."""
    reports = []
    for feed in app.store.list_feeds():
        app.store.set_next_poll(feed.id, utcnow())
        reports.append(await app.pipeline.poll(feed.id))
    return reports


async def test_new_story_gives_exactly_one_alert(
    httpserver: HTTPServer, database_url: str, apps: Any
) -> None:
    feed = Feed(httpserver, "/world.xml", "World", [WEATHER])
    app, console = await apps(database_url, [feed.url])

    (first,) = await poll_all(app)
    assert (first.status, first.new, first.alerts) == (
        "ok",
        1,
        0,
    )  # first poll: no flood of old news

    feed.items = [BELARUS, WEATHER]
    (second,) = await poll_all(app)
    assert (second.new, second.alerts) == (1, 1)
    assert await app.dispatcher.run_once() == 1
    assert await app.dispatcher.run_once() == 0

    ((chat_id, alert),) = console.sent
    assert chat_id == "news-desk"
    assert alert.title == BELARUS.title
    assert alert.link == "https://news.example/belarus-1"
    assert alert.source == "Feed 1"
    assert alert.rule == RULE
    assert {w.lower() for w in alert.words} >= {"belarus", "prisoner release"}
    assert "political prisoners" in alert.summary.one_line()
    printed = console.out.getvalue()  # type: ignore[attr-defined]
    assert "*Belarus*" in printed and "*prisoner release*" in printed


async def test_nothing_is_repeated_after_restart_reorder_or_title_edit(
    httpserver: HTTPServer, database_url: str, apps: Any
) -> None:
    feed = Feed(httpserver, "/world.xml", "World", [WEATHER])
    app, console = await apps(database_url, [feed.url])
    await poll_all(app)
    feed.items = [BELARUS, WEATHER]
    await poll_all(app)
    await app.dispatcher.run_once()
    assert len(console.sent) == 1
    await app.stop()

    restarted, console2 = await apps(database_url, [feed.url])
    edited = Item(BELARUS.guid, BELARUS.title + " (updated)", BELARUS.body + " More to come.")
    feed.items = [WEATHER, edited]  # re-ordered, title edited, same guid
    (report,) = await poll_all(restarted)
    assert (report.new, report.alerts) == (0, 0)
    assert await restarted.dispatcher.run_once() == 0
    assert console2.sent == []


async def test_not_modified_costs_no_parse(
    httpserver: HTTPServer, database_url: str, apps: Any
) -> None:
    calls: list[Request] = []

    def handler(request: Request) -> Response:
        calls.append(request)
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304, headers={"ETag": '"v1"'})
        return Response(
            rss("World", [WEATHER]), content_type="application/rss+xml", headers={"ETag": '"v1"'}
        )

    httpserver.expect_request("/etag.xml").respond_with_handler(handler)
    app, _ = await apps(database_url, [httpserver.url_for("/etag.xml")])
    (first,) = await poll_all(app)
    (second,) = await poll_all(app)
    assert (first.status, second.status) == ("ok", "not_modified")
    assert calls[1].headers.get("If-None-Match") == '"v1"'


async def test_gzip_feed(httpserver: HTTPServer, database_url: str, apps: Any) -> None:
    body = gzip.compress(rss("World", [WEATHER, MARKETS]).encode())
    httpserver.expect_request("/gz.xml").respond_with_response(
        Response(body, content_type="application/rss+xml", headers={"Content-Encoding": "gzip"})
    )
    app, _ = await apps(database_url, [httpserver.url_for("/gz.xml")])
    (report,) = await poll_all(app)
    assert (report.status, report.stories) == ("ok", 2)


async def test_broken_feeds_do_not_stop_the_others_and_back_off(
    httpserver: HTTPServer, database_url: str, apps: Any
) -> None:
    good = Feed(httpserver, "/good.xml", "Good", [WEATHER])
    httpserver.expect_request("/500.xml").respond_with_data("oops", status=500)
    httpserver.expect_request("/garbage.xml").respond_with_data(
        "\x00\x01 not a feed <<<", content_type="text/xml"
    )
    httpserver.expect_request("/huge.xml").respond_with_data(
        "<rss>" + "x" * 200_000 + "</rss>", content_type="text/xml"
    )

    # A server that accepts connections and never answers (the kernel completes the
    # handshake from the listen backlog): the fetch must give up after fetch.timeout.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    silent_url = f"http://127.0.0.1:{silent.getsockname()[1]}/slow.xml"
    urls = [httpserver.url_for(p) for p in ("/500.xml", "/garbage.xml", "/huge.xml")] + [silent_url]
    app, console = await apps(
        database_url,
        [*urls, good.url],
        fetch={"max_bytes": "100KB", "timeout": "1s"},
        poll={"interval": "1m"},
    )
    try:
        await poll_all(app)
        good.items = [BELARUS, WEATHER]
        reports = {r.feed_id: r for r in await poll_all(app)}
    finally:
        silent.close()

    feeds = {f.url: f for f in app.store.list_feeds()}
    assert reports[feeds[good.url].id].alerts == 1
    assert await app.dispatcher.run_once() == 1
    expected = {
        httpserver.url_for("/500.xml"): "HTTP 500",
        httpserver.url_for("/garbage.xml"): "not a feed",
        httpserver.url_for("/huge.xml"): "larger",
        silent_url: "timed out",
    }
    for path, words in expected.items():
        broken = feeds[path]
        assert broken.error_count == 2, path
        assert broken.last_error and words in broken.last_error, (path, broken.last_error)
        # Backed off: the second error waits two intervals, not one.
        assert broken.next_poll_at > utcnow() + timedelta(seconds=100), path


async def test_one_alert_per_story_per_chat_across_rules_and_feeds(
    httpserver: HTTPServer, database_url: str, apps: Any
) -> None:
    one = Feed(httpserver, "/one.xml", "One", [WEATHER])
    two = Feed(httpserver, "/two.xml", "Two", [MARKETS])
    app, console = await apps(
        database_url, [one.url, two.url], rules=[RULE, "Lukashenko", "belarus"]
    )
    await poll_all(app)
    one.items = [BELARUS, WEATHER]
    two.items = [
        Item(
            "other-guid",
            BELARUS.title,
            BELARUS.body,
            link="https://news.example/belarus-1?utm_source=rss",
        )
    ]
    await poll_all(app)
    assert await app.dispatcher.run_once() == 1
    ((_, alert),) = console.sent
    assert alert.rule == RULE  # the chat's first matching rule
    assert alert.also_reported_by == ("Feed 2",)


async def test_a_copy_after_the_alert_was_sent_edits_it_to_name_the_other_feed(
    httpserver: HTTPServer, database_url: str, apps: Any
) -> None:
    one = Feed(httpserver, "/one.xml", "One", [WEATHER])
    two = Feed(httpserver, "/two.xml", "Two", [MARKETS])
    app, console = await apps(database_url, [one.url, two.url], rules=[RULE])
    await poll_all(app)
    one.items = [BELARUS, WEATHER]
    await poll_all(app)
    assert await app.dispatcher.run_once() == 1
    ((_, sent),) = console.sent
    assert sent.also_reported_by == ()
    # The same article (its link without tracking) from the second feed.
    link = "https://news.example/belarus-1?utm_source=rss"
    two.items = [Item("other-guid", BELARUS.title, BELARUS.body, link=link)]
    await poll_all(app)
    assert outbox.due_sends(app.store, utcnow(), 100) == []  # no second alert ...
    assert await app.dispatcher.run_once() == 0
    ((chat_id, message_id, edited),) = console.edited  # ... the first one names Feed 2
    assert (chat_id, message_id) == ("news-desk", "1")
    assert edited.also_reported_by == ("Feed 2",) and edited.title == sent.title
    await app.dispatcher.run_once()
    assert len(console.edited) == 1 and len(console.sent) == 1  # once


async def test_muted_and_unsubscribed_chats_get_nothing(
    httpserver: HTTPServer, database_url: str, apps: Any
) -> None:
    feed = Feed(httpserver, "/world.xml", "World", [WEATHER])
    app, console = await apps(database_url, [feed.url])
    await poll_all(app)
    chat = app.store.get_chat("console", "news-desk")
    assert chat is not None
    app.store.update_chat(chat.id, muted_until=utcnow() + timedelta(hours=1))
    feed.items = [BELARUS, WEATHER]
    (report,) = await poll_all(app)
    assert report.alerts == 0
    await app.dispatcher.run_once()
    assert console.sent == []


async def test_digest_gathers_alerts_into_one_message(
    httpserver: HTTPServer, database_url: str, apps: Any
) -> None:
    feed = Feed(httpserver, "/world.xml", "World", [WEATHER])
    app, console = await apps(database_url, [feed.url], rules=["prisoner OR stocks"])
    await poll_all(app)
    chat = app.store.get_chat("console", "news-desk")
    assert chat is not None
    app.store.update_chat(chat.id, digest="hourly")
    feed.items = [BELARUS, MARKETS, WEATHER]
    (report,) = await poll_all(app)
    assert report.alerts == 2
    assert await app.dispatcher.run_once() == 0  # held until the top of the hour
    for alert_id, _ in outbox.due_sends(app.store, utcnow() + timedelta(hours=1, minutes=1), 100):
        app.store.settle_alert(alert_id, OutboxStatus.PENDING, not_before=utcnow())
    assert await app.dispatcher.run_once() == 1
    assert len(console.sent) == 2
    assert "digest for news-desk: 2 stories" in console.out.getvalue()  # type: ignore[attr-defined]


async def test_the_running_service_polls_and_delivers_by_itself(
    httpserver: HTTPServer, sqlite_url: str
) -> None:
    feed = Feed(httpserver, "/world.xml", "World", [WEATHER])
    console = ConsoleAdapter(out=io.StringIO())
    settings = make_settings(
        sqlite_url,
        feeds=[{"url": feed.url, "interval": "1s"}],
        poll={"interval": "1s", "jitter": "1ms"},
        subscriptions=[{"platform": "console", "chat": "desk", "rules": [RULE]}],
    )
    app = App(settings, adapters={"console": console}, health=False)
    await app.start()
    try:
        for _ in range(100):
            if feed.requests:
                break
            await asyncio.sleep(0.05)
        feed.items = [BELARUS, WEATHER]
        for _ in range(100):
            if console.sent:
                break
            await asyncio.sleep(0.1)
    finally:
        await app.stop()
    assert [alert.title for _, alert in console.sent] == [BELARUS.title]


ARTICLE_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Belarus leader dampens hopes - News Example</title>
<script>var tracking = "Subscribe now for unlimited access";</script></head>
<body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>
<li><a href="/sport">Sport</a></li><li><a href="/login">Sign in to your account</a></li></ul></nav>
<main><article>
<h1>Belarus leader dampens hopes for mass prisoner release</h1>
<p>Alexander Lukashenko said on Tuesday that he would not free political prisoners en masse,
dashing hopes raised by a deal with Washington in September.</p>
<p>Rights groups count more than 1,300 political prisoners in Belarus, among them journalists,
lawyers and opposition politicians held since the disputed election of 2020.</p>
<p>Speaking at a meeting with security chiefs in Minsk, Lukashenko said each case would be
reviewed on its own merits and that pardons required a written plea from the prisoner.</p>
<p>The United States had pressed Minsk for a wider prisoner release after freeing dozens of
detainees in exchange for easing sanctions on the national airline Belavia.</p>
<p>Opposition leaders in exile called the remarks a bargaining tactic aimed at winning further
concessions from Western governments before talks resume next month.</p>
</article></main>
<aside>Most read: Sunny weekend ahead for the coast</aside>
<footer>Copyright News Example. Cookie settings. Terms of use.</footer>
</body></html>"""


async def alert_for_linked_story(
    server: HTTPServer, database_url: str, apps: Any, path: str, *, full_text: bool
) -> Any:
    """The one alert for BELARUS with a one-line description, linking to ``path`` on
    ``server``, from a feed with ``full_text`` as given."""
    feed = Feed(server, "/world.xml", "World", [WEATHER])
    app, console = await apps(database_url, [feed.url], full_text=full_text)
    await poll_all(app)  # the first poll only learns what is there
    story = Item(
        "belarus-page",
        BELARUS.title,
        "Lukashenko rules out a mass prisoner release.",
        link=server.url_for(path),
    )
    feed.items = [story, WEATHER]
    (report,) = await poll_all(app)
    assert report.alerts == 1
    assert await app.dispatcher.run_once() == 1
    ((_, alert),) = console.sent
    return alert


async def test_full_text_feeds_summarise_the_article_page(
    httpserver: HTTPServer, database_url: str, apps: Any
) -> None:
    pages: list[Request] = []

    def page(request: Request) -> Response:
        pages.append(request)
        return Response(ARTICLE_PAGE, content_type="text/html; charset=utf-8")

    httpserver.expect_request("/world/belarus-story").respond_with_handler(page)
    alert = await alert_for_linked_story(
        httpserver, database_url, apps, "/world/belarus-story", full_text=True
    )
    # Sentences only the page holds, and none of its navigation, script or footer.
    assert "1,300 political prisoners" in alert.summary.one_line()
    for chrome in ("Sign in", "Subscribe now", "Cookie settings", "Most read"):
        assert chrome not in alert.summary.one_line()
    assert len(pages) == 1  # only the story that alerts is fetched, once
    assert "text/html" in pages[0].headers["Accept"]
    # Matching and highlights still come from the feed's own text.
    assert alert.title == BELARUS.title


@pytest.mark.parametrize(
    ("status", "content_type", "body"),
    [
        (404, "text/html", "<html><body>Not found</body></html>"),
        (200, "application/pdf", "%PDF-1.7 not a page"),
        (200, "text/html", "<html><body><script>x()</script></body></html>"),
    ],
)
async def test_an_article_page_that_fails_leaves_the_feed_text(
    httpserver: HTTPServer,
    database_url: str,
    apps: Any,
    status: int,
    content_type: str,
    body: str,
) -> None:
    httpserver.expect_request("/world/gone").respond_with_data(
        body, status=status, content_type=content_type
    )
    alert = await alert_for_linked_story(
        httpserver, database_url, apps, "/world/gone", full_text=True
    )
    assert alert.summary.points == ("Lukashenko rules out a mass prisoner release.",)


async def test_feeds_without_full_text_never_fetch_the_page(
    httpserver: HTTPServer, database_url: str, apps: Any
) -> None:
    pages: list[Request] = []
    httpserver.expect_request("/world/belarus-story").respond_with_handler(
        lambda request: pages.append(request) or Response(ARTICLE_PAGE, content_type="text/html")
    )
    alert = await alert_for_linked_story(
        httpserver, database_url, apps, "/world/belarus-story", full_text=False
    )
    assert alert.summary.points == ("Lukashenko rules out a mass prisoner release.",)
    assert pages == []


async def test_a_broken_trafilatura_install_leaves_the_feed_text(
    httpserver: HTTPServer, sqlite_url: str, apps: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As with an older pip that skipped lxml_html_clean: `import trafilatura` fails.
    monkeypatch.setitem(sys.modules, "trafilatura", None)
    httpserver.expect_request("/world/belarus-story").respond_with_data(
        ARTICLE_PAGE, content_type="text/html"
    )
    alert = await alert_for_linked_story(
        httpserver, sqlite_url, apps, "/world/belarus-story", full_text=True
    )
    assert alert.summary.points == ("Lukashenko rules out a mass prisoner release.",)


async def test_rules_are_matched_off_the_event_loop(
    httpserver: HTTPServer, sqlite_url: str, apps: Any
) -> None:
    feed = Feed(httpserver, "/world.xml", "World", [WEATHER])
    app, _ = await apps(sqlite_url, [feed.url])
    await poll_all(app)  # the first poll matches nothing: it only learns what is there
    threads: list[threading.Thread] = []
    match = app.rulebook.match

    def watched(document: Any) -> Any:
        threads.append(threading.current_thread())
        return match(document)

    app.rulebook.match = watched  # type: ignore[method-assign]
    feed.items = [BELARUS, MARKETS, WEATHER]
    await poll_all(app)
    # A large rule book against many new stories must not stall chat handling.
    assert threads and threading.main_thread() not in threads
