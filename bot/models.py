"""Plain value types shared by the pipeline, the store and the adapters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Story:
    """One feed entry, normalised: plain text, absolute http(s) link, UTC time.

    Attributes:
        uid: Stable id of the entry within its feed (guid, else canonical link,
            else a hash of title and date). Never changes when a title is edited.
        title: Plain-text title (markup stripped, entities decoded).
        link: Absolute http/https link, or None.
        published: Publication time, timezone-aware UTC, or None when the feed gives none.
        author: Author name as plain text, or None.
        summary: The entry's description/summary as plain text.
        content: The entry's full content as plain text ("" when the feed has none).
    """

    uid: str
    title: str
    link: str | None
    published: datetime | None
    author: str | None
    summary: str
    content: str = ""

    @property
    def body(self) -> str:
        """The longest text the feed gave for this story."""
        return fullest(self.summary, self.content)


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """What a feed document says about itself and its entries."""

    title: str | None
    link: str | None
    stories: list[Story] = field(default_factory=list)


def fullest(summary: str, content: str) -> str:
    """The longer of an entry's content and summary: the fullest text its feed gave."""
    return content if len(content) > len(summary) else summary
