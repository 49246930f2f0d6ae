"""Feed bytes to a :class:`ParsedFeed`: RSS 0.9x/1.0/2.0, Atom 0.3/1.0 and JSON Feed.

:func:`parse_feed` is the single entry point and reads top-down:

1. :func:`~bot.feeds.charset.decode_document` turns the bytes into text, choosing the
   charset the way a reader would want rather than the way the labels say.
2. The text is JSON Feed (:mod:`bot.feeds.jsonfeed`) or RSS/Atom, which this module
   reads with feedparser after :mod:`bot.feeds.xmlprep` made it safe to parse; both
   yield :class:`~bot.feeds.entries.Entry` records with plain text and absolute links.
   Only the newest ``max_items`` entries are read (:mod:`bot.feeds.newest`), and
   every field is bounded (:mod:`bot.feeds.limits`).
3. :func:`~bot.feeds.entries.finish_entries` gives every entry a stable ``uid`` and a
   title, and builds the :class:`Story` values.

feedparser never opens a URL or a file: it is handed a stream of bytes we prepared.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import feedparser

from bot.errors import FeedParseError
from bot.feeds import limits
from bot.feeds import messages as msg
from bot.feeds.charset import content_type_charset, decode_document
from bot.feeds.entries import BARE_EMAIL, Entry, FeedDraft, clean_author, finish_entries
from bot.feeds.jsonfeed import parse_json_feed
from bot.feeds.newest import cut_xml_items, newest
from bot.feeds.text import decode_entities, html_to_text, normalize_space
from bot.feeds.urls import absolute_http_url
from bot.feeds.xmlprep import prepare_xml
from bot.i18n import Text
from bot.models import ParsedFeed


def parse_feed(
    body: bytes,
    *,
    url: str,
    headers: Mapping[str, str] | None = None,
    max_items: int = limits.MAX_ITEMS,
) -> ParsedFeed:
    """Parses a fetched feed document into plain-text stories.

    Args:
        body: The response body, exactly as received (after transfer decoding).
        url: The URL the body was fetched from; the base for relative links.
        headers: The HTTP response headers, any case. ``Content-Type`` supplies a
            charset and marks JSON; ``Content-Location`` is the document's own URL.
        max_items: How many entries to take from the document, newest first.

    Returns:
        The feed's title and link and one :class:`Story` per usable entry (at most
        ``max_items``), in document order, with uids unique within the document and
        every field within the bounds of :mod:`bot.feeds.limits`.

    Raises:
        FeedParseError: The body is empty, binary garbage, an HTML page, or otherwise
            no RSS, Atom or JSON Feed document. A feed that is merely ill-formed but
            still yields entries is accepted.
    """
    lowered = {key.lower(): value for key, value in (headers or {}).items()}
    if not body.strip():
        raise FeedParseError(Text(msg.EMPTY_BODY))
    text, _ = decode_document(body, content_type_charset(lowered.get("content-type")))
    text = text.lstrip("\ufeff \t\r\n")
    location = lowered.get("content-location")
    content_location = absolute_http_url(location, url) if location else None
    if text.startswith(("{", "[")):
        draft = parse_json_feed(text, url=content_location or url, max_items=max_items)
    else:
        text = cut_xml_items(text, max_items)
        draft = _parse_xml(text, url=url, content_location=content_location)
    # Again after parsing: items the cut could not see (an unusual element name) count too.
    entries = newest(draft.entries, lambda entry: entry.published, max_items)
    return ParsedFeed(
        title=limits.clip(draft.title, limits.TITLE_MAX) if draft.title else None,
        link=limits.link(draft.link),
        stories=finish_entries(entries),
    )


# --------------------------------------------------------------------------- RSS / Atom

# Root elements of every format feedparser knows; without one, feedparser's slow
# fallback parser would only confirm that an HTML page or garbage is not a feed.
_FEED_ROOT = re.compile(r"<(?:[\w.-]+:)?(?:rss|feed|rdf|channel)[\s>/]", re.IGNORECASE)
_HTML_PAGE = re.compile(r"<(?:!doctype\s+html|html[\s>])", re.IGNORECASE)


def _text(detail: Mapping[str, Any] | None, fallback: str | None, limit: int) -> str:
    """Plain text of a feedparser text construct, honouring its declared type; only
    as much of it is read as can matter for a text of ``limit`` characters."""
    if detail is None:
        return html_to_text(limits.raw(fallback or "", limit))
    value = limits.raw(str(detail.get("value") or ""), limit)
    if detail.get("type") == "text/plain":
        # Plain by declaration, so "<tag>" is text; only doubly escaped entities go.
        return normalize_space(decode_entities(value), keep_lines=True)
    return html_to_text(value)


def _struct_to_datetime(value: Any) -> datetime | None:
    try:
        year, month, day, hour, minute, second = value[:6]
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _entry_link(entry: Mapping[str, Any]) -> str | None:
    """The page the entry is about: feedburner's original, else rel=alternate."""
    original = entry.get("feedburner_origlink")
    if original and absolute_http_url(original, None):
        # FeedBurner's <link> is a click-tracking redirect; the original is the article.
        return str(original)
    href: str | None = entry.get("link")
    for link in entry.get("links") or []:
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            href = str(link["href"])
            break
    if href and entry.get("guidislink") and href == entry.get("id"):
        # An RSS guid counts as a permalink unless it says otherwise; feedparser then
        # copies it into link. "x-1" is an id, not a path to resolve.
        return absolute_http_url(href, None)
    return href


def _xml_entry(parsed: Mapping[str, Any], base: str | None, feed_author: str | None) -> Entry:
    # A plain dict: FeedParserDict maps missing keys to others ("published_parsed" to
    # "updated_parsed") and warns each time.
    entry = dict(parsed)
    published = None
    for key in ("published_parsed", "updated_parsed"):
        if entry.get(key):
            published = _struct_to_datetime(entry[key])
            if published:
                break
    contents = [c for c in entry.get("content") or [] if c.get("value")]
    content = max((_text(c, None, limits.TEXT_MAX) for c in contents), key=len, default="")
    summary = _text(entry.get("summary_detail"), entry.get("summary"), limits.TEXT_MAX)
    guid = str(entry.get("id") or "").strip() or None
    title = _text(entry.get("title_detail"), entry.get("title"), limits.TITLE_MAX)
    return Entry(
        guid=guid,
        title=normalize_space(title),
        link=absolute_http_url(_entry_link(entry), base),
        published=published,
        author=clean_author(entry.get("author")) or feed_author,
        summary=summary,
        content=content,
    )


def _parse_xml(text: str, *, url: str, content_location: str | None) -> FeedDraft:
    headers = {"content-type": "application/xml; charset=utf-8"}
    if content_location:
        # feedparser resolves xml:base and relative links against this document URI.
        headers["content-location"] = content_location
    if not _FEED_ROOT.search(text):
        raise FeedParseError(_why_not_xml(text))
    # A stream, never bytes or str: feedparser.parse() treats a str as a URL to fetch
    # and even bytes as a possible local file name.
    result = feedparser.parse(
        io.BytesIO(prepare_xml(text)), response_headers=headers, sanitize_html=True
    )
    feed = dict(result.get("feed", {}))  # plain dict: no key remapping, no warnings
    entries = result.get("entries", [])
    feed_title = _text(feed.get("title_detail"), feed.get("title"), limits.TITLE_MAX)
    title = normalize_space(feed_title) or None
    if not entries and not result.get("version"):
        raise FeedParseError(_why_not_xml(text, result.get("bozo_exception")))
    doc_base = content_location or url
    link = absolute_http_url(feed.get("link"), doc_base)
    if result.get("bozo") and not (entries or title or link):
        # Broken XML that yielded nothing (a truncated download, a stray tag): say so,
        # so that `status` shows the feed as failing rather than merely quiet.
        raise FeedParseError(Text(msg.BROKEN_XML, detail=result.get("bozo_exception")))
    # Relative entry links resolve against the site link first, as miniflux does: a
    # feed served from a CDN or FeedBurner still means pages on its own site.
    entry_base = link or doc_base
    feed_author = clean_author(feed.get("author"))
    if feed_author and BARE_EMAIL.match(feed_author):
        # RSS managingEditor is the desk's mailbox, not who wrote each story.
        feed_author = None
    return FeedDraft(
        title=title,
        link=link,
        entries=[_xml_entry(e, entry_base, feed_author) for e in entries],
    )


def _why_not_xml(text: str, error: object = None) -> Text:
    if _HTML_PAGE.search(text[:4096]):
        return Text(msg.HTML_PAGE)
    return Text(msg.NO_FEED_CONTENT_DETAIL, detail=error) if error else Text(msg.NO_FEED_CONTENT)
