"""Feed discovery: turn the web page address a user pastes into ``addfeed`` into its feed's URL.

Order of attempts: the URL itself (is it already a feed?), the page's
``<link rel="alternate">`` feed links, then a few paths where blogs put feeds.
"""

from __future__ import annotations

import asyncio
import json
import re
from html.parser import HTMLParser
from typing import NamedTuple
from urllib.parse import urljoin

from bot.errors import FetchError
from bot.feeds import messages as msg
from bot.feeds.fetch import Fetcher, FetchResult
from bot.feeds.limits import LINK_MAX
from bot.i18n import Text

COMMON_PATHS = ("/feed", "/rss", "/rss.xml", "/atom.xml", "/feed.xml")
# How many <link rel="alternate"> candidates are fetched before giving up on them.
MAX_LINK_CANDIDATES = 3
# A page is read for feed links only this far, and only this many links are kept: the
# links sit in the <head>, and a page of 100,000 of them is not looking for readers.
PAGE_SCAN_BYTES = 1_000_000
MAX_FEED_LINKS = 20

# Link types in preference order: RSS/Atom/RDF first, JSON Feed last. Plain
# application/json is left out on purpose: WordPress and others use it for REST API links.
_XML_FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/x-rss+xml",
    "application/x-atom+xml",
)
_JSON_FEED_TYPES = ("application/feed+json", "application/x.feed+json")
_FEED_CONTENT_TYPES = frozenset(_XML_FEED_TYPES + _JSON_FEED_TYPES)

# Leading noise before the root element of an XML or HTML document.
_PROLOG = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>)", re.S | re.I)
_ROOT_TAG = re.compile(r"\s*<([A-Za-z_][\w:.-]*)")
_SNIFF_BYTES = 65_536


class FoundFeed(NamedTuple):
    """A discovered feed: its URL and the response that proved it is one."""

    url: str
    response: FetchResult


async def find_feed(fetcher: Fetcher, url: str) -> FoundFeed:
    """Find the feed behind ``url``, keeping the response so the caller need not fetch
    the feed a second time.

    Args:
        fetcher: The shared fetcher (its limits and address guard apply to every try).
        url: What the user typed: a feed URL or a web page URL.

    Returns:
        ``url`` itself when it serves a feed, else the URL of the page's first working
        feed link (RSS/Atom before JSON Feed), else the first common feed path that
        serves a feed; with that feed's response.

    Raises:
        FetchError: ``url`` itself cannot be fetched (the message says why), or no feed
            was found (``messages.NO_FEED``).
    """
    page = await fetcher.fetch(url)
    # Parsing a page of megabytes takes a while: in a thread, off the event loop.
    if await asyncio.to_thread(is_feed, page):
        return FoundFeed(url, page)
    if _sniff(page.body) == "html" or _content_type(page) in ("text/html", "application/xhtml+xml"):
        links = await asyncio.to_thread(feed_links, page)
        for candidate in links[:MAX_LINK_CANDIDATES]:
            response = await _feed_at(fetcher, candidate)
            if response is not None:
                return FoundFeed(candidate, response)
    found = await _first_common_path(fetcher, page.url)
    if found is not None:
        return found
    raise FetchError(Text(msg.NO_FEED, url=url))


def is_feed(result: FetchResult) -> bool:
    """Tell whether a fetched body is an RSS, Atom, RDF or JSON feed.

    The bytes decide when they are recognisable; the Content-Type decides otherwise,
    because many servers label feeds text/xml or text/html and some label pages as feeds.

    Args:
        result: A fetch result with a body.

    Returns:
        True for a feed.
    """
    kind = _sniff(result.body)
    if kind is not None:
        return kind == "feed"
    return _content_type(result) in _FEED_CONTENT_TYPES


def feed_links(page: FetchResult) -> list[str]:
    """List the feed URLs an HTML page advertises, best first, resolved to absolute URLs.

    Args:
        page: A fetched HTML page.

    Returns:
        Absolute http(s) URLs from ``<link rel="alternate" type="...feed type...">``,
        XML feeds before JSON feeds, each in page order, without duplicates; from the
        first ``PAGE_SCAN_BYTES`` of the page, at most ``MAX_FEED_LINKS`` of them.
    """
    collector = _LinkCollector()
    collector.feed(_decode_html(page))
    collector.close()
    base = urljoin(page.url, collector.base_href) if collector.base_href else page.url
    ranked = sorted(
        enumerate(collector.links),
        key=lambda item: (item[1][0] not in _XML_FEED_TYPES, item[0]),
    )
    urls: list[str] = []
    for _index, (_type, href) in ranked:
        absolute = urljoin(base, _unfeedify(href))
        if absolute.startswith(("http://", "https://")) and absolute not in urls:
            urls.append(absolute)
    return urls


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self.base_href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: (value or "").strip() for name, value in attrs}
        if tag == "base" and self.base_href is None and values.get("href"):
            self.base_href = values["href"]
        if tag != "link" or len(self.links) >= MAX_FEED_LINKS:
            return
        rel = values.get("rel", "").lower().split()
        link_type = values.get("type", "").lower().split(";")[0].strip()
        href = values.get("href", "")
        if "alternate" in rel and link_type in _FEED_CONTENT_TYPES and 0 < len(href) <= LINK_MAX:
            self.links.append((link_type, href))

    handle_startendtag = handle_starttag


def _unfeedify(href: str) -> str:
    # The old feed: pseudo-scheme ("feed://host/x", "feed:https://host/x") still appears.
    if href.lower().startswith("feed://"):
        return "http://" + href[len("feed://") :]
    if href.lower().startswith("feed:"):
        return href[len("feed:") :]
    return href


async def _feed_at(fetcher: Fetcher, url: str) -> FetchResult | None:
    """The response of ``url`` if it serves a feed."""
    try:
        response = await fetcher.fetch(url)
    except FetchError:
        # A dead candidate is not the user's mistake; the next candidate may work.
        return None
    return response if is_feed(response) else None


async def _first_common_path(fetcher: Fetcher, page_url: str) -> FoundFeed | None:
    """Try the common paths at the site root at once; the first in COMMON_PATHS order wins."""
    urls = [urljoin(page_url, path) for path in COMMON_PATHS]
    checks = [asyncio.create_task(_feed_at(fetcher, candidate)) for candidate in urls]
    try:
        for candidate, check in zip(urls, checks, strict=True):
            response = await check
            if response is not None:
                return FoundFeed(candidate, response)
        return None
    finally:
        for check in checks:
            check.cancel()
        await asyncio.gather(*checks, return_exceptions=True)


def _sniff(body: bytes) -> str | None:
    """Say "feed", "html" or None (unknown) from the first bytes of a body."""
    text = _decode_head(body[:_SNIFF_BYTES]).lstrip("\ufeff \t\r\n")
    if text.startswith(("{", "[")):
        return "feed" if _is_json_feed(body) else None
    position = 0
    while match := _PROLOG.match(text, position):
        if match.group(0).lstrip().lower().startswith("<!doctype html"):
            return "html"
        position = match.end()
    root = _ROOT_TAG.match(text, position)
    if root is None:
        return None
    local_name = root.group(1).rsplit(":", 1)[-1].lower()
    if local_name in ("rss", "feed", "rdf"):
        return "feed"
    if local_name in ("html", "head", "body"):
        return "html"
    return None


def _is_json_feed(body: bytes) -> bool:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False  # RecursionError: "[[[[…" nested past Python's limit
    version = document.get("version") if isinstance(document, dict) else None
    return isinstance(version, str) and version.startswith("https://jsonfeed.org/version/")


def _decode_head(head: bytes) -> str:
    # Only the markup's ASCII skeleton matters here, so latin-1 (which never fails) is
    # enough once UTF-16 and UTF-32 byte order marks are handled.
    for bom, codec in (
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if head.startswith(bom):
            return head[len(bom) :].decode(codec, errors="ignore")
    return head.decode("latin-1")


def _decode_html(page: FetchResult) -> str:
    charset = "utf-8"
    for parameter in page.headers.get("content-type", "").split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip("\"'")
    head = page.body[:PAGE_SCAN_BYTES]
    try:
        return head.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name from the server
        return head.decode("utf-8", errors="replace")


def _content_type(result: FetchResult) -> str:
    return result.headers.get("content-type", "").split(";")[0].strip().lower()
