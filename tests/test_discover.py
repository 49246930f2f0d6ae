"""Feed discovery against a real HTTP server on 127.0.0.1 (pytest-httpserver)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from pytest_httpserver import HTTPServer

from bot.errors import FetchError
from bot.feeds import messages as feed_messages
from bot.feeds.discover import feed_links, find_feed, is_feed
from bot.feeds.fetch import Fetcher, FetchResult

RSS = b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel/></rss>'
ATOM = b'<?xml version="1.0"?><!-- generator --><feed xmlns="http://www.w3.org/2005/Atom"/>'
RDF = b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>'
JSON_FEED = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": []}).encode()


def page(head: str) -> bytes:
    return f"<!DOCTYPE html><html><head>{head}</head><body>news</body></html>".encode()


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(timeout=2.0, allow_private_addresses=True) as f:
        yield f


def serve_html(httpserver: HTTPServer, path: str, body: bytes) -> str:
    httpserver.expect_request(path).respond_with_data(body, content_type="text/html")
    return httpserver.url_for(path)


# --- find_feed -----------------------------------------------------------------------------


async def discover_feed(fetcher: Fetcher, url: str) -> str:
    """The URL ``find_feed`` settles on."""
    return (await find_feed(fetcher, url)).url


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (RSS, "application/rss+xml"),
        (RSS, "text/html; charset=utf-8"),  # mislabelled, recognised by its bytes
        (ATOM, "application/xml"),
        (RDF, "text/xml"),
        (JSON_FEED, "application/json"),
        ("\ufeff".encode() + RSS, "text/plain"),  # UTF-8 byte order mark
        ('<?xml version="1.0" encoding="utf-16"?><rss/>'.encode("utf-16"), "text/xml"),
    ],
)
async def test_a_feed_url_is_returned_as_is(
    httpserver: HTTPServer, fetcher: Fetcher, body: bytes, content_type: str
) -> None:
    httpserver.expect_request("/feed").respond_with_data(body, content_type=content_type)
    url = httpserver.url_for("/feed")
    assert await discover_feed(fetcher, url) == url
    assert len(httpserver.log) == 1


async def test_relative_link_alternate_is_resolved_and_checked(
    httpserver: HTTPServer, fetcher: Fetcher
) -> None:
    url = serve_html(
        httpserver,
        "/blog/post.html",
        page(
            '<link rel="alternate" type="application/rss+xml" title="Blog" href="feeds/main.xml">'
        ),
    )
    httpserver.expect_request("/blog/feeds/main.xml").respond_with_data(
        RSS, content_type="application/rss+xml"
    )
    assert await discover_feed(fetcher, url) == httpserver.url_for("/blog/feeds/main.xml")


async def test_rss_or_atom_link_is_preferred_to_json_feed(
    httpserver: HTTPServer, fetcher: Fetcher
) -> None:
    url = serve_html(
        httpserver,
        "/",
        page(
            '<link rel="alternate" type="application/feed+json" href="/feed.json">'
            '<link rel="alternate" type="application/json" href="/wp-json/wp/v2/pages/2">'
            '<link rel="Alternate Home" type="application/atom+xml" href="/atom">'
        ),
    )
    httpserver.expect_request("/atom").respond_with_data(ATOM)
    httpserver.expect_request("/feed.json").respond_with_data(JSON_FEED)
    assert await discover_feed(fetcher, url) == httpserver.url_for("/atom")


async def test_dead_link_falls_through_to_the_next_one(
    httpserver: HTTPServer, fetcher: Fetcher
) -> None:
    url = serve_html(
        httpserver,
        "/",
        page(
            '<link rel="alternate" type="application/rss+xml" href="/gone.xml">'
            '<link rel="alternate" type="application/rss+xml" href="/news.xml">'
        ),
    )
    httpserver.expect_request("/gone.xml").respond_with_data("", status=404)
    httpserver.expect_request("/news.xml").respond_with_data(RSS)
    assert await discover_feed(fetcher, url) == httpserver.url_for("/news.xml")


async def test_common_path_is_tried_when_the_page_has_no_link(
    httpserver: HTTPServer, fetcher: Fetcher
) -> None:
    url = serve_html(httpserver, "/section/", page("<title>No feed links here</title>"))
    httpserver.expect_request("/feed").respond_with_data("", status=404)
    httpserver.expect_request("/rss").respond_with_data(page(""), content_type="text/html")
    httpserver.expect_request("/rss.xml").respond_with_data(RSS, content_type="text/xml")
    httpserver.expect_request("/atom.xml").respond_with_data(ATOM)
    httpserver.expect_request("/feed.xml").respond_with_data("", status=404)
    # /rss.xml and /atom.xml both work; the earlier path in the list wins.
    assert await discover_feed(fetcher, url) == httpserver.url_for("/rss.xml")


async def test_no_feed_found(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    url = serve_html(httpserver, "/", page('<link rel="stylesheet" href="/style.css">'))
    for path in ("/feed", "/rss", "/rss.xml", "/atom.xml", "/feed.xml"):
        httpserver.expect_request(path).respond_with_data("not here", status=404)
    with pytest.raises(FetchError) as caught:
        await discover_feed(fetcher, url)
    assert str(caught.value) == feed_messages.NO_FEED.format(url=url)
    assert str(caught.value) == f"no feed found at {url} — give the feed's own address"
    # The page, then each usual feed address once (a set: the shared server's log may also
    # hold a late request of an earlier test).
    paths = {request.path for request, _ in httpserver.log}
    assert {"/", "/feed", "/rss", "/rss.xml", "/atom.xml", "/feed.xml"} <= paths


async def test_the_pages_own_fetch_error_is_reported(
    httpserver: HTTPServer, fetcher: Fetcher
) -> None:
    httpserver.expect_request("/missing").respond_with_data("", status=404)
    with pytest.raises(FetchError, match="^HTTP 404 Not Found$"):
        await discover_feed(fetcher, httpserver.url_for("/missing"))


async def test_discovery_is_bound_by_the_address_guard(httpserver: HTTPServer) -> None:
    async with Fetcher(allow_private_addresses=False) as guarded:
        with pytest.raises(FetchError, match="blocked loopback address 127.0.0.1"):
            await discover_feed(guarded, httpserver.url_for("/"))
    assert httpserver.log == []


# --- feed_links and is_feed, pure -----------------------------------------------------------


def result(
    body: bytes, *, url: str = "https://example.org/a/b", content_type: str = ""
) -> FetchResult:
    headers = {"content-type": content_type} if content_type else {}
    return FetchResult(
        url=url, status=200, body=body, headers=headers, etag=None, last_modified=None
    )


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (
            '<link rel="alternate" type="application/rss+xml" href="/rss">',
            ["https://example.org/rss"],
        ),
        (
            "<link rel=alternate type=application/atom+xml href=atom.xml />",
            ["https://example.org/a/atom.xml"],
        ),
        (
            '<base href="https://cdn.example.net/x/"><link rel="alternate" '
            'type="application/rss+xml" href="feed.xml">',
            ["https://cdn.example.net/x/feed.xml"],
        ),
        (
            '<link rel="alternate" type="application/rss+xml" href="feed://example.org/f">',
            ["http://example.org/f"],
        ),
        (
            '<link rel="alternate" type="application/rss+xml" href="/f?a=1&amp;b=2">'
            '<link rel="alternate" type="application/rss+xml" href="/f?a=1&b=2">',
            ["https://example.org/f?a=1&b=2"],
        ),
        ('<link rel="alternate" type="text/html" hreflang="de" href="/de/">', []),
        ('<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">', []),
        ('<link rel="alternate" type="application/rss+xml">', []),
    ],
)
def test_feed_links(head: str, expected: list[str]) -> None:
    assert feed_links(result(page(head))) == expected


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (RSS, "", True),
        (ATOM, "text/html", True),
        (b'<!DOCTYPE rss PUBLIC "-//Netscape//DTD RSS 0.91//EN" "x">\n<rss/>', "", True),
        (page(""), "application/rss+xml", False),  # bytes beat a wrong label
        (b"<html><body>hi</body></html>", "", False),
        (b'{"version": "1"}', "application/json", False),  # JSON that is not a JSON Feed
        (b"plain words", "application/atom+xml", True),  # unrecognisable: the label decides
        (b"plain words", "text/plain", False),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml", False),
    ],
)
def test_is_feed(body: bytes, content_type: str, expected: bool) -> None:
    assert is_feed(result(body, content_type=content_type)) is expected
