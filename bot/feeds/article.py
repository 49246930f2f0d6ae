"""The text of a story's article page, for feeds set to ``full_text: true``.

Many feeds carry a line or two per story; the page behind the link holds the article.
The page is fetched with the feed fetcher (same address guard, timeout and size limit)
and its main text is pulled out of the navigation, ads and comments with trafilatura.
Anything that goes wrong leaves the feed's own text in place: an article page never
stops an alert.
"""

from __future__ import annotations

import asyncio
import logging

from bot.errors import FeedError
from bot.feeds import limits
from bot.feeds.fetch import Fetcher

log = logging.getLogger(__name__)

_ACCEPT_HTML = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
_HTML_TYPES = ("text/html", "application/xhtml+xml")


async def article_text(fetcher: Fetcher, url: str) -> str | None:
    """The main text of the page at ``url``, one paragraph per line.

    Returns:
        The text, or None when the page cannot be fetched, is not HTML, or holds no
        article text that trafilatura can find. Never raises: whatever fails is logged
        and the feed's own text is used.
    """
    try:
        fetched = await fetcher.fetch(url, accept=_ACCEPT_HTML)
    except FeedError as exc:
        log.info("article page %s not fetched: %s; the feed's text is used", url, exc)
        return None
    except Exception:
        log.exception("fetching the article page %s failed; the feed's text is used", url)
        return None
    content_type = fetched.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and content_type not in _HTML_TYPES:
        log.info("article page %s is %s, not HTML; the feed's text is used", url, content_type)
        return None
    return await asyncio.to_thread(extract_text, fetched.body, fetched.url)


def extract_text(page: bytes, url: str) -> str | None:
    """The main text of an HTML page (trafilatura; charset from the page itself); None
    when there is none or extraction fails."""
    try:
        # Imported here: it costs 0.15 s and 14 MB, which only feeds set to full_text
        # need; and inside the guard, since a broken install (an older pip skipped
        # lxml_html_clean) fails at import.
        import trafilatura

        text = trafilatura.extract(
            page,
            url=url,
            include_comments=False,
            include_tables=False,
            include_images=False,
            favor_precision=True,
        )
    except Exception:  # a parser bug on one odd page must not lose the alert
        log.exception("extracting the article text of %s failed; the feed's text is used", url)
        return None
    if not text:
        return None
    # A page of megabytes of text would be summarised whole; the feed's own text is
    # bounded the same way.
    return limits.clip(text.strip(), limits.TEXT_MAX) or None
