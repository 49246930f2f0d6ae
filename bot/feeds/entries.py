"""Feed entries before they are stories, and the rules that make them stories.

Both the RSS/Atom and the JSON Feed readers yield :class:`Entry` records with plain
text and absolute links; :func:`finish_entries` gives every entry a stable ``uid`` and a
title and builds the :class:`Story` values.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.feeds import limits
from bot.feeds.text import html_to_text, normalize_space
from bot.feeds.urls import canonical_url
from bot.models import Story, fullest


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry in plain text, before it has a uid and a guaranteed title."""

    guid: str | None
    title: str
    link: str | None
    published: datetime | None
    author: str | None
    summary: str
    content: str

    @property
    def body(self) -> str:
        """The longer of content and summary: the fullest text the feed gave."""
        return fullest(self.summary, self.content)


@dataclass(frozen=True, slots=True)
class FeedDraft:
    """A parsed document's title, link and entries, before the entries are finished."""

    title: str | None
    link: str | None
    entries: list[Entry]


_EMAIL = r"(?:mailto:)?[^\s@()<>]+@[^\s@()<>]+"
_AUTHOR_FORMS = (
    re.compile(rf"^{_EMAIL}\s*\((?P<name>[^()]+)\)$"),  # RSS: "jo@example.org (Jo Doe)"
    re.compile(rf"^(?P<name>.+?)\s*\({_EMAIL}\)$"),  # "Jo Doe (mailto:jo@example.org)"
    re.compile(rf"^(?P<name>.+?)\s*<{_EMAIL}>$"),  # "Jo Doe <jo@example.org>"
)
UNTITLED = "(no title)"
BARE_EMAIL = re.compile(rf"^{_EMAIL}$")
_SENTENCE_END = re.compile(r"(?<=[.!?…。])\s")
_TITLE_MAX = 100
_AUTHOR_MAX = 300


def clean_author(raw: str | None) -> str | None:
    """Reduces the author forms feeds use to a display name.

    Args:
        raw: The author as the feed wrote it: a name, an e-mail address, or both.

    Returns:
        The name alone, or None when nothing is left.
    """
    if not raw:
        return None
    # Capped: a real name is short, and the patterns below backtrack on long input.
    author = normalize_space(html_to_text(raw[:_AUTHOR_MAX]))
    for form in _AUTHOR_FORMS:
        match = form.match(author)
        if match:
            return match.group("name").strip()
    if author.lower().startswith("mailto:"):
        author = author[len("mailto:") :]
    return author or None


def _fallback_title(entry: Entry) -> str:
    """A title for an entry that has none: its first sentence, else its link."""
    first_line = entry.body.strip().split("\n", 1)[0]
    sentence = _SENTENCE_END.split(first_line, maxsplit=1)[0].strip()
    if len(sentence) > _TITLE_MAX:
        cut = sentence[:_TITLE_MAX].rsplit(" ", 1)[0]
        sentence = cut.rstrip(" ,;:-") + "…"
    return sentence or entry.link or UNTITLED


def _digest(*parts: str) -> str:
    return "sha256:" + hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def _bounded(entry: Entry) -> Entry:
    """The entry with every field cut to its bound; a link too long to keep is dropped."""
    return Entry(
        guid=entry.guid,  # bounded as the uid: a longer one is hashed
        title=limits.clip(entry.title, limits.TITLE_MAX),
        link=limits.link(entry.link),
        published=entry.published,
        author=limits.clip(entry.author, limits.AUTHOR_MAX) if entry.author else None,
        summary=limits.clip(entry.summary, limits.TEXT_MAX),
        content=limits.clip(entry.content, limits.TEXT_MAX),
    )


def finish_entries(entries: Iterable[Entry]) -> list[Story]:
    """Gives each entry a uid that is stable across polls and unique in the document.

    Why this order: a guid is the publisher's own id and survives title edits and
    changed links, so it wins. Without one, the canonical link survives title edits.
    Without either, only the title and date are left; hashing them keeps the uid short.

    Args:
        entries: The document's entries, in document order.

    Returns:
        One story per entry that has anything at all, in the same order, every field
        within the bounds of :mod:`bot.feeds.limits`.
    """
    # An entry with nothing at all (an empty <item/>) cannot become an alert.
    kept = [_bounded(e) for e in entries if e.guid or e.title or e.link or e.published or e.body]
    guid_counts = Counter(e.guid for e in kept if e.guid)
    seen: Counter[str] = Counter()
    stories = []
    for entry in kept:
        # Fragments are kept in the link key: some feeds list anchors on one page.
        link_key = canonical_url(entry.link, keep_fragment=True) if entry.link else None
        if entry.guid and guid_counts[entry.guid] > 1:
            # Broken feeds give every item the same guid (fluentboards.com; miniflux
            # has a test for it).
            # Every item sharing it gets guid+link, the first one included: if the
            # first kept the bare guid, a new item prepended to the feed would take
            # over the old item's uid and be dropped as already seen.
            uid = f"{entry.guid}|{link_key or ''}"
        elif entry.guid:
            uid = entry.guid
        elif link_key:
            uid = link_key
        else:
            when = entry.published.isoformat() if entry.published else ""
            uid = _digest(entry.title, when) if entry.title or when else _digest(entry.summary)
        if len(uid) > limits.GUID_MAX:
            uid = _digest(uid)
        seen[uid] += 1
        if seen[uid] > 1:
            uid = f"{uid}#{seen[uid]}"
        stories.append(
            Story(
                uid=uid,
                title=entry.title or _fallback_title(entry),
                link=entry.link,
                published=entry.published,
                author=entry.author,
                summary=entry.summary,
                content=entry.content,
            )
        )
    return stories
