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


@dataclass(frozen=True, slots=True)
class Summary:
    """A story's summary as key points: a few short sentences, in story order.

    An alert shows each point as a bullet; a digest shows them run together on one
    line. A point never holds a line break and is never empty, so the points are
    stored as the lines of one text (:meth:`to_text`, :meth:`from_text`); a
    summary stored as one paragraph reads back as one point.

    Attributes:
        points: The key points, whitespace-normalised.
    """

    points: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        normalised = tuple(" ".join(point.split()) for point in self.points)
        object.__setattr__(self, "points", tuple(point for point in normalised if point))

    @classmethod
    def from_text(cls, text: str) -> Summary:
        """The summary stored as ``text``: one point per line."""
        return cls(tuple(text.split("\n")))

    def to_text(self) -> str:
        """The points as one text, one point per line, for storage."""
        return "\n".join(self.points)

    def one_line(self) -> str:
        """The points run together as one paragraph (digests, plain notifications)."""
        return " ".join(self.points)

    def __bool__(self) -> bool:
        return bool(self.points)
