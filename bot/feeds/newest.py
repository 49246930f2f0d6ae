"""Keeping the newest entries of a document that holds more than ``fetch.max_items``.

A feed of 100,000 items is either broken or hostile; parsed whole it costs a minute of
CPU and hundreds of MB. :func:`cut_xml_items` therefore removes the surplus RSS/Atom
items from the text before the XML parser sees it, and :func:`newest` applies the same
bound to whatever a parser returned (JSON Feed items, entries the cut could not see).

Newest means by the entry's date; entries without a date come after dated ones, in
document order, since feeds list their newest entries first.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

T = TypeVar("T")

# The start or end tag of an item (RSS) or entry (Atom), and the two constructs whose
# text may look like one: CDATA sections and comments, which are skipped whole.
_ITEM_MARK = re.compile(
    r"<!\[CDATA\[|<!--|<(/?)(?:[A-Za-z_][\w.-]*:)?(?:item|entry)(?=[\s/>])", re.IGNORECASE
)
_FEED_END = re.compile(r"</(?:[A-Za-z_][\w.-]*:)?(?:channel|feed|rdf|rss)\s*>", re.IGNORECASE)
_ITEM_DATE = re.compile(
    r"<(?:[A-Za-z_][\w.-]*:)?(?:pubDate|published|updated|date|issued|modified)(?=[\s>])"
    r"[^>]{0,200}>\s*(?:<!\[CDATA\[\s*)?([^<\]]{4,64})",
    re.IGNORECASE,
)


def newest(items: Sequence[T], when: Callable[[T], datetime | None], limit: int) -> list[T]:
    """The ``limit`` newest of ``items``, in their original order.

    Args:
        items: Entries in document order.
        when: An entry's date, or None when it has none.
        limit: How many to keep.

    Returns:
        ``items`` itself (as a list) when it fits, else the newest ``limit`` of them.
    """
    if len(items) <= limit:
        return list(items)
    return [items[i] for i in _newest_indices([when(item) for item in items], limit)]


def cut_xml_items(text: str, limit: int) -> str:
    """Removes all but the newest ``limit`` items or entries from an RSS/Atom document.

    The document is scanned for item and entry elements (CDATA sections and comments
    are skipped); when there are more than ``limit``, the surplus ones are cut out of
    the text, everything else is left as it was.

    Args:
        text: The decoded document.
        limit: How many items to keep.

    Returns:
        The document with at most ``limit`` items; ``text`` itself when it had no more.
    """
    spans = _item_spans(text)
    if len(spans) <= limit:
        return text
    dates = [_item_date(text, start, end) for start, end in spans]
    keep = set(_newest_indices(dates, limit))
    parts = []
    position = 0
    for index, (start, end) in enumerate(spans):
        if index not in keep:
            parts.append(text[position:start])
            position = end
    parts.append(text[position:])
    return "".join(parts)


def _newest_indices(dates: Sequence[datetime | None], limit: int) -> list[int]:
    def age(index: int) -> tuple[bool, float, int]:
        date = dates[index]
        # Dated entries first, newest first; then undated ones in document order.
        return (date is None, -date.timestamp() if date else 0.0, index)

    return sorted(sorted(range(len(dates)), key=age)[:limit])


def _item_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every item or entry element, in document order.

    Items never nest, so a start tag inside an open item ends that item where it begins,
    as HTML does with ``<p>``: 100,000 unclosed items are 100,000 items, not one.
    """
    spans = []
    start = -1  # the open item's start, or -1
    position = 0
    while mark := _ITEM_MARK.search(text, position):
        opener = mark.group(0)
        if opener in ("<![CDATA[", "<!--"):
            closer = "]]>" if opener == "<![CDATA[" else "-->"
            end = text.find(closer, mark.end())
            if end < 0:
                break
            position = end + len(closer)
            continue
        tag_end = text.find(">", mark.end())
        if tag_end < 0:
            break
        position = tag_end + 1
        if mark.group(1):  # an end tag
            if start >= 0:
                spans.append((start, position))
                start = -1
            continue
        if start >= 0:
            spans.append((start, mark.start()))
            start = -1
        if text[tag_end - 1] == "/":  # <item/>
            spans.append((mark.start(), position))
        else:
            start = mark.start()
    if start >= 0:  # the last item is unclosed too: it ends where its feed does
        end_of_feed = _FEED_END.search(text, start)
        if end_of_feed:
            spans.append((start, end_of_feed.start()))
    return spans


def _item_date(text: str, start: int, end: int) -> datetime | None:
    match = _ITEM_DATE.search(text, start, end)
    return parse_date(match.group(1)) if match else None


def parse_date(value: str) -> datetime | None:
    """An RFC 822 (RSS) or ISO 8601 (Atom, JSON Feed) date as aware UTC, else None.

    Args:
        value: The date as a feed writes it.

    Returns:
        The date in UTC (one without an offset is taken as UTC), or None.
    """
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
