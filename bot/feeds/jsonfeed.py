"""JSON Feed 1.0 and 1.1 documents to :class:`Entry` records."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.errors import FeedParseError
from bot.feeds import limits
from bot.feeds import messages as msg
from bot.feeds.entries import Entry, FeedDraft, clean_author
from bot.feeds.newest import newest, parse_date
from bot.feeds.text import html_to_text, normalize_space
from bot.feeds.urls import absolute_http_url
from bot.i18n import Text


def _json_date(value: Any) -> datetime | None:
    # RFC 3339 requires an offset; one without is taken as UTC.
    return parse_date(value[:64]) if isinstance(value, str) and value.strip() else None


def _item_date(item: Mapping[str, Any]) -> datetime | None:
    return _json_date(item.get("date_published")) or _json_date(item.get("date_modified"))


def _json_author(node: Mapping[str, Any]) -> str | None:
    """JSON Feed 1.1 ``authors`` (a list) or 1.0 ``author`` (one object)."""
    candidates = node.get("authors")
    if not isinstance(candidates, list):
        candidates = [node.get("author")]
    names = [str(c["name"]).strip() for c in candidates if isinstance(c, dict) and c.get("name")]
    return clean_author(", ".join(names)) if names else None


def _json_str(node: Mapping[str, Any], key: str, limit: int) -> str:
    """The string at ``key``, only as much of it as can matter for ``limit`` characters."""
    value = node.get(key)
    return limits.raw(value, limit) if isinstance(value, str) else ""


def _json_entry(item: Mapping[str, Any], base: str | None, feed_author: str | None) -> Entry:
    guid = item.get("id")
    text = limits.TEXT_MAX
    content = html_to_text(_json_str(item, "content_html", text)) or normalize_space(
        _json_str(item, "content_text", text), keep_lines=True
    )
    link = absolute_http_url(_json_str(item, "url", limits.LINK_MAX), base) or absolute_http_url(
        _json_str(item, "external_url", limits.LINK_MAX), base
    )
    return Entry(
        # The spec makes id a string, but numbers are common; bools and objects are not ids.
        guid=str(guid).strip() or None if isinstance(guid, str | int | float) else None,
        title=normalize_space(html_to_text(_json_str(item, "title", limits.TITLE_MAX))),
        link=link,
        published=_item_date(item),
        author=_json_author(item) or feed_author,
        summary=html_to_text(_json_str(item, "summary", text)),
        content=content,
    )


def parse_json_feed(text: str, *, url: str, max_items: int = limits.MAX_ITEMS) -> FeedDraft:
    """Reads a JSON Feed document; items that are not objects are skipped.

    Args:
        text: The decoded document, starting with ``{`` or ``[``.
        url: The document's URL; the base for relative links.
        max_items: How many items to read, newest first.

    Returns:
        The feed's title and home page link and one entry per item object, for the
        newest ``max_items`` of them.

    Raises:
        FeedParseError: The text is not JSON, or has no JSON Feed ``items`` list.
    """
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise FeedParseError(Text(msg.INVALID_JSON, detail=exc)) from exc
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise FeedParseError(Text(msg.NO_JSON_ITEMS))
    link = absolute_http_url(_json_str(document, "home_page_url", limits.LINK_MAX), url)
    base = link or absolute_http_url(_json_str(document, "feed_url", limits.LINK_MAX), url) or url
    feed_author = _json_author(document)
    items = newest(
        [item for item in document["items"] if isinstance(item, dict)], _item_date, max_items
    )
    return FeedDraft(
        title=normalize_space(html_to_text(_json_str(document, "title", limits.TITLE_MAX))) or None,
        link=link,
        entries=[_json_entry(item, base, feed_author) for item in items],
    )
