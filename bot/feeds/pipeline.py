"""One poll of one feed, top to bottom: claim → fetch → unchanged? → parse → dedup → match →
summarise → events → outbox → also reported by.

Each step is a call with an early return. Whatever goes wrong with a feed is recorded on
that feed (error count, last error, backoff) and never reaches the others.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.engine import Connection

from bot.config import Settings
from bot.delivery import outbox
from bot.delivery.schedule import not_before
from bot.errors import FeedError, FeedParseError
from bot.events import EventClusters, Report
from bot.feeds import messages as msg
from bot.feeds.article import article_text
from bot.feeds.fetch import Fetcher, FetchResult
from bot.feeds.parse import parse_feed
from bot.feeds.phase import next_poll
from bot.feeds.unchanged import UnchangedBatch
from bot.feeds.urls import canonical_url
from bot.i18n import Text
from bot.models import (
    AlertDraft,
    Chat,
    Feed,
    NewStory,
    ParsedFeed,
    Story,
    Unchanged,
    feed_label,
    fullest,
)
from bot.rulebook import RuleBook, RuleHit, story_document
from bot.store import Store, utcnow
from bot.summarize import Summarizer

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)
# Article pages fetched per poll of a ``full_text`` feed, all at once: as many as the
# fetcher's default connection limit, so a poll waits about one fetch timeout for them.
MAX_ARTICLES = 20
BODY_LIMIT = 20_000  # characters of story text kept for `test` and summaries
RECORD_BATCH = 200  # new stories recorded per transaction (a few tens of ms of writing)


@dataclass(frozen=True, slots=True)
class PollReport:
    """What one poll did, for logs, `newsbot check` and tests."""

    feed_id: int
    status: str  # "ok", "not_modified", "error", "skipped"
    stories: int = 0
    new: int = 0
    alerts: int = 0
    error: str | None = None
    matches: tuple[tuple[Story, tuple[RuleHit, ...]], ...] = ()


def fingerprint(story: Story) -> str:
    """Identity of a story across feeds: its canonical link, else its normalised title.

    Two feeds carrying the same article usually share the link (after tracking
    parameters are dropped); without a link the title is the best evidence we have.
    """
    if story.link:
        key = "link:" + canonical_url(story.link)
    else:
        key = "title:" + re.sub(r"\W+", " ", story.title.casefold()).strip()
    return hashlib.sha256(key.encode()).hexdigest()


def place_events(
    clusters: EventClusters, conn: Connection, stored: Sequence[tuple[NewStory, int]]
) -> dict[str, int]:
    """Places stored stories in their news events, in the transaction ``conn`` that
    records them; returns each story uid's event (cluster id)."""
    reports = [
        Report(
            story_id,
            story.title,
            story.body,
            story.published or utcnow(),  # the time first seen, near enough
            fingerprint=story.fingerprint,
        )
        for story, story_id in stored
    ]
    placed = clusters.assign_many(reports, conn=conn)
    return {
        story.uid: assignment.cluster_id
        for (story, _), assignment in zip(stored, placed, strict=True)
    }


def backoff(interval: float, errors: int, retry_after: float | None) -> timedelta:
    """Longer waits as errors repeat: interval × 2^(errors-1), at most 6 h; never sooner
    than the server's Retry-After."""
    delay = timedelta(seconds=interval * (2 ** min(errors - 1, 12)))
    delay = min(delay, MAX_BACKOFF)
    if retry_after:
        delay = max(
            delay, timedelta(seconds=min(retry_after, 86400))
        )  # a hostile header cannot park a feed for years
    return delay


class FeedPipeline:
    """Polls feeds and turns new stories into queued alerts."""

    def __init__(
        self,
        store: Store,
        fetcher: Fetcher,
        rulebook: RuleBook,
        summarizer: Summarizer,
        settings: Settings,
        *,
        worker: str = "newsbot",
        clusters: EventClusters | None = None,
    ) -> None:
        """Args:
        store: Where feeds, stories and the outbox live.
        fetcher: The HTTP client for feeds and article pages.
        rulebook: Every chat's rules, indexed.
        summarizer: Writes each alert's summary.
        settings: Poll intervals, jitter, the claim lease.
        worker: This process's name in feed claims (see :meth:`Store.claim_feed`).
        clusters: Event clustering, so that a chat gets one alert per news event;
            None (``clusters.enabled: false``): one alert per story.
        """
        self.store = store
        self.worker = worker
        self.fetcher = fetcher
        self.rulebook = rulebook
        self.summarizer = summarizer
        self.settings = settings
        self.clusters = clusters
        self.unchanged = UnchangedBatch(store, worker)

    def interval(self, feed: Feed) -> float:
        return float(feed.interval_s or self.settings.poll.interval)

    async def poll(self, feed_id: int, *, dry_run: bool = False) -> PollReport:
        """Poll one feed if it is due, recording stories and alerts.

        With ``dry_run`` nothing is written: the report says what would have matched.
        """
        now = utcnow()  # the next poll is due an interval after this one began
        if dry_run:
            feed = await asyncio.to_thread(self.store.get_feed, feed_id)
        else:
            until = now + timedelta(seconds=self.settings.poll.lease)
            feed = await asyncio.to_thread(self.store.claim_feed, feed_id, self.worker, now, until)
        if feed is None:
            return PollReport(feed_id, "skipped")
        report = await self.poll_claimed(feed, now, dry_run=dry_run)
        await self.unchanged.flush()  # one feed on demand: its outcome is written before
        return report

    async def poll_claimed(
        self, feed: Feed, now: datetime | None = None, *, dry_run: bool = False
    ) -> PollReport:
        """Poll a feed this worker has claimed (:meth:`Store.claim_due_feeds`), beginning
        ``now`` (default: at once).

        An unchanged feed's outcome is only kept in :attr:`unchanged`, for the caller to
        write with the others of its tick (:meth:`UnchangedBatch.flush`)."""
        now = now or utcnow()
        try:
            return await self._poll_claimed(feed, now, dry_run=dry_run)
        except Exception as exc:
            # A bug on one odd feed must show on that feed (status, backoff) and release
            # its claim now rather than when its lease runs out.
            log.exception(
                "polling feed %s failed unexpectedly", feed.id, extra={"feed_id": feed.id}
            )
            error = FeedError(Text(msg.POLL_FAILED, kind=type(exc).__name__))
            return await self._failed(feed, error, now, dry_run=dry_run)

    async def _poll_claimed(self, feed: Feed, now: datetime, *, dry_run: bool) -> PollReport:
        try:
            fetched = await self.fetcher.fetch(
                feed.url,
                etag=None if dry_run else feed.etag,
                last_modified=None if dry_run else feed.last_modified,
            )
            # Hashed on the loop: a few µs for a usual feed, cheaper than a trip to a thread.
            body_hash = hashlib.sha256(fetched.body).hexdigest()
            if not dry_run and self._unchanged(feed, fetched, body_hash):
                # Most polls end here: no parse, no statement of their own; the outcome
                # waits for the batch that the next tick writes (see unchanged.py).
                self.unchanged.add(
                    Unchanged(
                        feed.id,
                        now,
                        self._next_poll(feed, now),
                        fetched.etag,
                        fetched.last_modified,
                    )
                )
                return PollReport(feed.id, "not_modified")
            parsed = await asyncio.to_thread(_parse, fetched, self.settings.fetch.max_items)
        except FeedError as exc:
            return await self._failed(feed, exc, now, dry_run=dry_run)

        stories = parsed.stories  # uids are unique within a document (parse_feed sees to it)
        known = (
            set()
            if dry_run
            else await asyncio.to_thread(self.store.known_uids, feed.id, [s.uid for s in stories])
        )
        new = [s for s in stories if s.uid not in known]
        source = feed_label(feed.name, parsed.title or feed.title, feed.url)
        if dry_run:  # `newsbot check`: every story, matched or not
            checked = await asyncio.to_thread(self._match, new, source)
            return PollReport(feed.id, "ok", len(stories), len(new), matches=tuple(checked))

        queued, matched = await self._record(
            feed, new, source, parsed.title, fetched, body_hash, now
        )
        log.info(
            "feed polled",
            extra={"feed_id": feed.id, "stories": len(stories), "new": len(new), "alerts": queued},
        )
        return PollReport(feed.id, "ok", len(stories), len(new), queued, matches=tuple(matched))

    async def _record(
        self,
        feed: Feed,
        new: Sequence[Story],
        source: str,
        feed_title: str | None,
        fetched: FetchResult,
        body_hash: str,
        now: datetime,
    ) -> tuple[int, list[tuple[Story, tuple[RuleHit, ...]]]]:
        """Matches the new stories and records them with their alerts, RECORD_BATCH at a
        time, so that no batch holds the SQLite writer or the event loop for long.

        Each batch's stories, their event clusters and alerts are one transaction: a
        story is known only once its alerts are queued, each keyed by its event. The
        feed's state (ETag, body hash, first poll done) comes with the last batch, so a
        crash in between loses nothing and the first poll stays quiet. The first poll only
        learns what is already there (no flood of old news), so its stories are neither
        matched nor placed in events: no alert is keyed by them, and a later story of
        their event starts or joins an event of alerted stories all the same. (Placing
        them cost a cold start most of its time: every replica takes turns to place.)

        Returns:
            The number of alerts queued, and the stories that matched with their hits.
        """
        batches = [new[i : i + RECORD_BATCH] for i in range(0, len(new), RECORD_BATCH)] or [[]]
        queued, matched = 0, []
        for number, batch in enumerate(batches, 1):
            hits = (
                [(s, h) for s, h in await asyncio.to_thread(self._match, batch, source) if h]
                if feed.initialised
                else []
            )
            matched += hits
            drafts = await self._drafts(feed, hits, now)
            recorded = [_new_story(s) for s in batch]
            count, elsewhere = await asyncio.to_thread(
                self.store.record_poll,
                feed.id,
                new_stories=recorded,
                alerts=drafts,
                feed_title=feed_title,
                etag=fetched.etag,
                last_modified=fetched.last_modified,
                next_poll_at=self._next_poll(feed, now),
                body_hash=body_hash,
                final=number == len(batches),
                place=partial(place_events, self.clusters)
                if self.clusters and feed.initialised
                else None,
            )
            queued += count
            await self._also_reported(source, elsewhere)
        return queued, matched

    def _match(
        self, stories: Sequence[Story], source: str
    ) -> list[tuple[Story, tuple[RuleHit, ...]]]:
        """Each story with the rules it matches (CPU work: run it in a thread)."""
        return [
            (
                s,
                tuple(
                    self.rulebook.match(story_document(s.title, s.body, source, s.link, s.author))
                ),
            )
            for s in stories
        ]

    async def _also_reported(
        self, source: str, elsewhere: Sequence[tuple[AlertDraft, str]]
    ) -> None:
        """Name this feed under "also reported by" in the alerts the chats already have
        for its stories' events (queued from another feed); a sent alert's message is then
        edited to name it. A pending alert also takes this report's summary when it was
        written from more text. The seam where stories of one event from several outlets
        meet."""
        for draft, key in elsewhere:
            await asyncio.to_thread(outbox.name_source, self.store, draft.chat_pk, key, source)
            await asyncio.to_thread(
                outbox.fuller_summary,
                self.store,
                draft.chat_pk,
                key,
                draft.summary,
                draft.summary_chars,
            )

    async def _drafts(
        self, feed: Feed, matched: Sequence[tuple[Story, tuple[RuleHit, ...]]], now: datetime
    ) -> list[AlertDraft]:
        if not matched:
            return []
        chat_pks = {hit.chat_pk for _, hits in matched for hit in hits}
        chats = await asyncio.to_thread(self.store.chats_by_pk, chat_pks)
        rule_ids = {hit.rule_id for _, hits in matched for hit in hits}
        muted = await asyncio.to_thread(self.store.muted_rule_ids, rule_ids, now)
        own = (
            set()
            if feed.from_config
            else await asyncio.to_thread(self.store.chats_of_feed, feed.id)
        )
        planned: list[tuple[Story, RuleHit, Chat]] = []
        for story, hits in matched:
            alerted: set[int] = set()
            for hit in hits:  # lowest rule id first: the chat's oldest matching rule is shown
                chat = chats.get(hit.chat_pk)
                if chat is None or hit.chat_pk in alerted or not _wants(chat, feed, own, now):
                    continue
                if hit.rule_id in muted:  # "Mute this rule for a day": another rule may alert
                    continue
                alerted.add(hit.chat_pk)
                planned.append((story, hit, chat))
        alerted_stories = list({story.uid: story for story, _, _ in planned}.values())
        texts = await self._article_texts(feed, alerted_stories)
        # All at once: an LLM's calls overlap, so a poll waits about one summary timeout.
        written = await asyncio.gather(
            *(
                self.summarizer.summarize(story.title, texts.get(story.uid, story.body))
                for story in alerted_stories
            )
        )
        summaries = {story.uid: text for story, text in zip(alerted_stories, written, strict=True)}
        lengths = {story.uid: len(texts.get(story.uid, story.body)) for story in alerted_stories}
        return [
            AlertDraft(
                chat_pk=chat.id,
                story_uid=story.uid,
                rule_id=hit.rule_id,
                rule_query=hit.query,
                words=matched_words(story, hit),
                spans={k: [list(s) for s in v] for k, v in hit.match.spans.items()},
                summary=summaries[story.uid],
                not_before=not_before(chat, now),
                summary_chars=lengths[story.uid],
            )
            for story, hit, chat in planned
        ]

    async def _article_texts(self, feed: Feed, stories: Sequence[Story]) -> dict[str, str]:
        """Story uid -> the text to summarise from its article page, for a feed set to
        ``full_text``: fetched all at once, for at most ``MAX_ARTICLES`` stories of a poll
        (the others, and any page that fails, keep the feed's text)."""
        if not feed.full_text:
            return {}
        linked = [(story, story.link) for story in stories if story.link][:MAX_ARTICLES]
        found = await asyncio.gather(*(article_text(self.fetcher, link) for _, link in linked))
        # The page's text when it says more than the feed did.
        return {
            story.uid: fullest(story.body, text)
            for (story, _), text in zip(linked, found, strict=True)
            if text
        }

    async def _failed(
        self, feed: Feed, exc: FeedError, began: datetime, *, dry_run: bool
    ) -> PollReport:
        message = str(exc)
        if dry_run:
            return PollReport(feed.id, "error", error=message)
        delay = backoff(self.interval(feed), feed.error_count + 1, exc.retry_after)
        errors = await asyncio.to_thread(
            self.store.record_feed_error, feed.id, exc.text, began + delay
        )
        log.warning(
            "feed %s (%s): %s — retry in %ds; %s",
            feed.id,
            feed.label,
            message,
            delay.total_seconds(),
            "fix or remove its URL under feeds: in the config"
            if feed.from_config
            else "fix the URL, or removefeed it in the chats that added it",
            extra={"feed_id": feed.id, "errors": errors},
        )
        return PollReport(feed.id, "error", error=message)

    def _next_poll(self, feed: Feed, began: datetime) -> datetime:
        """The feed's next slot on its own phase (plus jitter): one interval after a poll
        on time, sooner after a late one (see :mod:`bot.feeds.phase`)."""
        return next_poll(feed.id, self.interval(feed), began, self.settings.poll.jitter)

    @staticmethod
    def _unchanged(feed: Feed, fetched: FetchResult, body_hash: str) -> bool:
        """A 304, or the very bytes parsed last time (many servers ignore conditional GET)."""
        return fetched.not_modified or (feed.initialised and body_hash == feed.body_hash)


def matched_words(story: Story, hit: RuleHit) -> list[str]:
    """The story's own words that made the rule match, as written, for highlighting."""
    fields = {"title": story.title, "text": story.body}
    words: dict[str, None] = {}
    for name, spans in hit.match.spans.items():
        text = fields.get(name)
        if text is None:
            continue
        for start, end in spans:
            word = text[start:end].strip()
            if word:
                words.setdefault(word, None)
    return list(words)[:20]


def _wants(chat: Chat, feed: Feed, own: set[int], now: datetime) -> bool:
    """Whether this chat gets alerts from this feed now."""
    if not (chat.active and chat.subscribed) or chat.muted(now):
        return False
    return feed.from_config or chat.id in own


def _parse(fetched: FetchResult, max_items: int) -> ParsedFeed:
    try:
        return parse_feed(
            fetched.body, url=fetched.url, headers=fetched.headers, max_items=max_items
        )
    except FeedError:
        raise
    except Exception as exc:
        # A parser bug on one odd document must still show on that feed (status, backoff)
        # instead of escaping as a job error with the feed left unmarked.
        log.exception("parsing %s failed unexpectedly", fetched.url)
        raise FeedParseError(Text(msg.PARSE_FAILED, kind=type(exc).__name__)) from exc


def _new_story(story: Story) -> NewStory:
    return NewStory(
        uid=story.uid,
        fingerprint=fingerprint(story),
        title=story.title,
        link=story.link,
        author=story.author,
        published=story.published,
        body=story.body[:BODY_LIMIT],
    )
