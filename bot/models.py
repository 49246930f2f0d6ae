"""Plain value types shared by the pipeline, the store, delivery and the adapters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.delivery.alert import Alert
    from bot.i18n import Text


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


def feed_label(name: str | None, title: str | None, url: str) -> str:
    """What users see for a feed: the configured name, else its own title, else its URL."""
    return name or title or url


@dataclass(frozen=True, slots=True)
class Feed:
    id: int
    url: str
    name: str | None
    title: str | None
    interval_s: int | None
    full_text: bool
    from_config: bool
    etag: str | None
    last_modified: str | None
    initialised: bool
    error_count: int
    last_error: str | None  # in English
    last_polled_at: datetime | None
    last_ok_at: datetime | None
    next_poll_at: datetime
    body_hash: str | None = None  # SHA-256 of the last document parsed
    last_error_text: Text | None = None  # the last error, to word in a chat's language

    @property
    def label(self) -> str:
        """What users see for this feed (see :func:`feed_label`)."""
        return feed_label(self.name, self.title, self.url)


@dataclass(frozen=True, slots=True)
class Unchanged:
    """A poll that found its feed unchanged (a 304, or the bytes parsed last time): what
    it has to record. ``etag`` and ``last_modified`` are the validators to send next time,
    kept as they are when both are None."""

    feed_id: int
    polled_at: datetime
    next_poll_at: datetime
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True, slots=True)
class Share:
    """A replica's part of the feeds: the ``index``-th of ``of`` parts (its place among
    the replicas alive), by a hash of the feed id. Each claims its own, so the work
    splits evenly; a feed overdue is anyone's (its owner died, or is behind)."""

    index: int
    of: int


@dataclass(frozen=True, slots=True)
class Chat:
    id: int
    platform: str
    chat_id: str
    title: str | None
    subscribed: bool
    active: bool
    inactive_reason: str | None
    muted_until: datetime | None
    digest: str
    timezone: str = "UTC"  # an IANA name; digest times and alert times are read in it
    quiet: str | None = None  # quiet hours, e.g. "22:00-07:00 hold" (bot.delivery.quiet)
    language: str | None = None  # set by the ``language`` command; wins over user_language
    user_language: str | None = None  # the app language of the last user who wrote here

    @property
    def speaks(self) -> str:
        """The language the bot writes in here: the chosen one, else the users' app's,
        else English."""
        return self.language or self.user_language or "en"

    def muted(self, now: datetime) -> bool:
        return self.muted_until is not None and self.muted_until > now


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    chat_pk: int
    query: str
    number: int = 0  # 1-based position in the chat's list, what `rules` shows
    muted_until: datetime | None = None  # no alerts for this rule before then
    thread_id: str | None = None  # the forum topic (Telegram) its alerts go to

    def muted(self, now: datetime) -> bool:
        return self.muted_until is not None and self.muted_until > now


@dataclass(frozen=True, slots=True)
class NewStory:
    """A story to record; ``fingerprint`` identifies it across feeds."""

    uid: str
    fingerprint: str
    title: str
    link: str | None
    author: str | None
    published: datetime | None
    body: str


@dataclass(frozen=True, slots=True)
class AlertDraft:
    """An alert to queue for one chat, for the story with ``story_uid`` in this poll.

    ``words`` are the story's words that made the rule match, kept to highlight them.
    """

    chat_pk: int
    story_uid: str
    rule_id: int | None
    rule_query: str
    words: list[str]
    spans: dict[str, list[list[int]]]
    summary: Summary
    not_before: datetime
    summary_chars: int = 0  # characters of the text summarised: the fullest report wins


class OutboxStatus(StrEnum):
    """Where an alert is in the outbox; :mod:`bot.delivery.outbox` moves it between them."""

    PENDING = "pending"  # queued, due at not_before
    SENDING = "sending"  # claimed by a worker, the send in flight
    SENT = "sent"  # the platform accepted it
    FAILED = "failed"  # refused for good, or out of attempts
    UNCERTAIN = "uncertain"  # may have arrived; never sent again
    DROPPED = "dropped"  # the chat stopped receiving (gone, muted, unsubscribed)
    OUTDATED = "outdated"  # sent; its message is to be edited to name more sources
    EDITING = "editing"  # sent; the edit in flight

    @property
    def counted_as(self) -> OutboxStatus:
        """What ``status`` counts it as: an alert being edited was sent."""
        return OutboxStatus.SENT if self in (OutboxStatus.OUTDATED, OutboxStatus.EDITING) else self


@dataclass(frozen=True, slots=True)
class StoryAlert:
    """A chat's alert for a story, as the "also reported by" step sees it."""

    id: int
    also_reported_by: tuple[str, ...]
    source: str  # the feed it was queued from


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A claimed alert: what to send, where, and how often it was tried; for an alert
    already sent, the platform's id of its message (``message_id``)."""

    id: int
    chat: Chat
    alert: Alert
    attempts: int
    message_id: str | None = None
    edit_attempts: int = 0


@dataclass(frozen=True, slots=True)
class StoredStory:
    id: int
    feed_id: int
    source: str
    title: str
    link: str | None
    author: str | None
    published: datetime | None
    body: str
