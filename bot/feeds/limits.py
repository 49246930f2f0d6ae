"""Bounds on what one feed document may put into the bot.

A feed is text written by someone else. Whatever it holds, the bot keeps at most
``fetch.max_items`` entries of one document (the newest) and at most these many
characters of each field, so that one document can cost only a bounded amount of
memory, time, storage and chat space. docs/feeds.md lists the same figures.
"""

from __future__ import annotations

from bot.summarize.clip import clip_text

MAX_ITEMS = 1_000  # entries taken from one document, newest first (fetch.max_items)
TITLE_MAX = 500  # characters of an entry's or a feed's title
AUTHOR_MAX = 200  # characters of an author name
LINK_MAX = 2_048  # characters of a link; a longer one is dropped, a cut URL is wrong
GUID_MAX = 512  # characters of a uid; a longer guid is replaced by its SHA-256
TEXT_MAX = 20_000  # characters of an entry's summary, and of its content
# Markup a field may carry before it is turned into text: a title of 4 MB of HTML would
# otherwise cost seconds to convert only to be clipped afterwards.
MARKUP_RATIO = 10


def raw(value: str, limit: int) -> str:
    """The part of a field's markup that can matter for a text of ``limit`` characters.

    Args:
        value: The field as the feed wrote it (HTML or plain text).
        limit: The bound of the text it becomes.

    Returns:
        ``value``, cut to ``limit`` × :data:`MARKUP_RATIO` characters.
    """
    return value[: limit * MARKUP_RATIO]


def clip(text: str, limit: int) -> str:
    """A field's text cut to ``limit`` characters at a word boundary, ending in "…".

    Args:
        text: Plain text.
        limit: The bound, in characters, ellipsis included.

    Returns:
        ``text`` when it fits, else its clipped form.
    """
    return text if len(text) <= limit else clip_text(text, limit)


def link(url: str | None) -> str | None:
    """The link, or None when it is longer than :data:`LINK_MAX`."""
    return url if url is None or len(url) <= LINK_MAX else None
