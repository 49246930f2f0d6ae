"""All database reads and writes. Synchronous; async callers use ``asyncio.to_thread``.

Every method is one short transaction. Writes that must not happen twice rely on unique
keys (``stories(feed_id, uid)``, ``outbox(chat_pk, fingerprint)``) with insert-or-ignore,
so two replicas racing on the same feed still produce one story and one alert.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Engine,
    Text,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bot import i18n
from bot.delivery.alert import Alert
from bot.models import (
    AlertDraft,
    Chat,
    Feed,
    NewStory,
    OutboxItem,
    OutboxStatus,
    Rule,
    Share,
    StoredStory,
    StoryAlert,
    Summary,
    Unchanged,
    feed_label,
)
from bot.store.engine import retry_when_busy
from bot.store.schema import (
    chat_feeds,
    chats,
    feeds,
    leases,
    outbox,
    rules,
    send_pacing,
    stories,
    topics,
)


def _stored_text(data: Any) -> i18n.Text | None:
    """A text stored by :meth:`Text.to_data`; None when there is none, or it cannot be read
    (the English ``last_error`` shows then)."""
    if not isinstance(data, dict):
        return None
    try:
        return i18n.Text.from_data(data)
    except (KeyError, TypeError, ValueError):
        return None


# Telegram allows topic names of 128 characters; a longer one is cut, not refused.
TOPIC_NAME_MAX = 128


def _rule(row: Any, number: int = 0) -> Rule:
    return Rule(
        row.id,
        row.chat_pk,
        row.query,
        number,
        muted_until=_aware(row.muted_until),
        thread_id=row.thread_id,
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything we store is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _stored_story(row: Any) -> StoredStory:
    """A story read with its feed's :data:`_FEED_LABEL` columns."""
    return StoredStory(
        id=row.id,
        feed_id=row.feed_id,
        source=feed_label(row.feed_name, row.feed_title, row.feed_url),
        title=row.title,
        link=row.link,
        author=row.author,
        published=_aware(row.published),
        body=row.body,
    )


# Values that end a claim on a feed or an alert.
_RELEASED: dict[str, Any] = {"claimed_by": None, "claimed_until": None}
# An unchanged feed's outcome (see :meth:`Store.record_unchanged`): built once, compiled
# once, executed for many rows at a time. The validators change only when the poll
# brought some (``fresh``): a server that stops sending them keeps the old ones.
_FRESH = bindparam("fresh", type_=Boolean)


def _fresh_or_kept(column: Any) -> Any:
    return case((_FRESH, bindparam(f"new_{column.name}", type_=column.type)), else_=column)


_RECORD_UNCHANGED = (
    update(feeds)
    .where(feeds.c.id == bindparam("feed"), feeds.c.claimed_by == bindparam("worker"))
    .values(
        etag=_fresh_or_kept(feeds.c.etag),
        last_modified=_fresh_or_kept(feeds.c.last_modified),
        error_count=0,
        last_error=None,
        last_error_text=None,
        last_ok_at=bindparam("polled_at"),
        next_poll_at=bindparam("next"),
        **_RELEASED,
    )
)
# What a stored story's source is named from: its feed's name, title and address.
_FEED_LABEL = (
    feeds.c.name.label("feed_name"),
    feeds.c.title.label("feed_title"),
    feeds.c.url.label("feed_url"),
)
# An alert with the story it is for and the feed that story came from.
_ALERT_STORY_FEED = outbox.join(stories, outbox.c.story_id == stories.c.id).join(
    feeds, stories.c.feed_id == feeds.c.id
)


# Places a poll's stored stories, given with their ids, in their news events in the
# recording transaction: returns the event (cluster id) of each story uid.
Placer = Callable[[Connection, Sequence[tuple[NewStory, int]]], dict[str, int]]


class LimitReached(Exception):
    """A per-chat limit is reached: the chat has ``count`` of ``what`` ("rules", "feeds"),
    ``limit`` at most (the command service words it in the chat's language)."""

    def __init__(self, what: str, count: int, limit: int) -> None:
        super().__init__(f"this chat has {count} {what}, the limit is {limit}")
        self.what = what
        self.count = count
        self.limit = limit


class Store:
    """The database behind newsbot, on one SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._dialect = engine.dialect.name

    # -- helpers --------------------------------------------------------------

    def _insert_new(self, table: Any, unique: list[str], **values: Any) -> Any:
        """INSERT … ON CONFLICT (unique) DO NOTHING RETURNING id: a row comes back only
        when this call created it. Both engines speak the same clause."""
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        return (
            insert(table).values(**values).on_conflict_do_nothing(index_elements=unique)
        ).returning(table.c.id)

    @staticmethod
    def _feed(row: Any) -> Feed:
        m = row._mapping
        return Feed(
            id=m["id"],
            url=m["url"],
            name=m["name"],
            title=m["title"],
            interval_s=m["interval_s"],
            full_text=bool(m["full_text"]),
            from_config=bool(m["from_config"]),
            etag=m["etag"],
            last_modified=m["last_modified"],
            initialised=bool(m["initialised"]),
            error_count=m["error_count"],
            last_error=m["last_error"],
            last_error_text=_stored_text(m["last_error_text"]),
            last_polled_at=_aware(m["last_polled_at"]),
            last_ok_at=_aware(m["last_ok_at"]),
            next_poll_at=_aware(m["next_poll_at"]) or utcnow(),
            body_hash=m["body_hash"],
        )

    @staticmethod
    def _chat(row: Any, prefix: str = "") -> Chat:
        m = row._mapping
        return Chat(
            id=m[f"{prefix}id"],
            platform=m[f"{prefix}platform"],
            chat_id=m[f"{prefix}chat_id"],
            title=m[f"{prefix}title"],
            subscribed=bool(m[f"{prefix}subscribed"]),
            active=bool(m[f"{prefix}active"]),
            inactive_reason=m[f"{prefix}inactive_reason"],
            muted_until=_aware(m[f"{prefix}muted_until"]),
            digest=m[f"{prefix}digest"],
            timezone=m[f"{prefix}timezone"] or "UTC",
            quiet=m[f"{prefix}quiet"],
            language=m[f"{prefix}language"],
            user_language=m[f"{prefix}user_language"],
        )

    # -- feeds ----------------------------------------------------------------

    def ensure_feed(
        self,
        url: str,
        *,
        name: str | None = None,
        interval_s: int | None = None,
        full_text: bool = False,
        from_config: bool = False,
    ) -> Feed:
        """The feed with this URL, created if new; config feeds get their settings updated."""
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(
                self._insert_new(
                    feeds,
                    ["url"],
                    url=url,
                    name=name,
                    interval_s=interval_s,
                    full_text=full_text,
                    from_config=from_config,
                    initialised=False,
                    error_count=0,
                    next_poll_at=now,
                    created_at=now,
                )
            )
            if from_config:
                conn.execute(
                    update(feeds)
                    .where(feeds.c.url == url)
                    .values(name=name, interval_s=interval_s, full_text=full_text, from_config=True)
                )
            row = conn.execute(select(feeds).where(feeds.c.url == url)).one()
        return self._feed(row)

    def get_feed(self, feed_id: int) -> Feed | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(feeds).where(feeds.c.id == feed_id)).first()
        return self._feed(row) if row else None

    def list_feeds(self) -> list[Feed]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(feeds).order_by(feeds.c.id)).all()
        return [self._feed(r) for r in rows]

    def _active(self) -> Any:
        """Feeds worth polling: from the config, or added by at least one chat."""
        return or_(feeds.c.from_config, feeds.c.id.in_(select(chat_feeds.c.feed_id)))

    @staticmethod
    def _unclaimed(table: Any, now: datetime) -> Any:
        return or_(table.c.claimed_until.is_(None), table.c.claimed_until < now)

    def active_feed_ids(self) -> list[int]:
        """Feeds worth polling: from the config, or added by at least one chat."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(feeds.c.id).where(self._active())).all()
        return [r.id for r in rows]

    @retry_when_busy
    def claim_due_feeds(
        self,
        worker: str,
        now: datetime,
        horizon: datetime,
        until: datetime,
        limit: int,
        exclude: Sequence[int] = (),
        share: Share | None = None,
        overdue: datetime | None = None,
    ) -> list[Feed]:
        """Claim for ``worker`` the active feeds due by ``horizon`` that nobody alive
        holds, soonest first, at most ``limit``, but for those in ``exclude``: one UPDATE
        per scheduler tick, however many feeds it takes.

        As in :meth:`claim_feed`, the conditional UPDATE is the lock: the claim is checked
        again on each row, so of two replicas only one takes a feed. A feed due later
        than ``now`` is held until its time; its ``last_polled_at`` is that time.

        Args:
            share: This replica's part of the feeds (see :class:`Share`): only its own
                are claimed, and any due before ``overdue``.
            overdue: With ``share``: feeds due before this are anyone's.
        """
        due = select(feeds.c.id).where(
            self._active(), feeds.c.next_poll_at <= horizon, self._unclaimed(feeds, now)
        )
        if share is not None and share.of > 1:
            # The id scrambled to 0 … 65535 (multiplied by √2 − 1 in 16-bit fixed point),
            # then cut in ``of`` parts: even for ids with gaps in a pattern (replicas
            # seeding the same feeds burn sequence values in turn), which plain id
            # modulo ``of`` is not; and unlike the phase, not by time in the interval.
            key = cast(feeds.c.id, BigInteger) * 27146 % 65536 * share.of
            mine = and_(key >= share.index * 65536, key < (share.index + 1) * 65536)
            due = due.where(mine if overdue is None else or_(mine, feeds.c.next_poll_at < overdue))
        if exclude:
            due = due.where(feeds.c.id.not_in(list(exclude)))
        due = due.order_by(feeds.c.next_poll_at).limit(limit)
        with self.engine.begin() as conn:
            rows = conn.execute(
                update(feeds)
                .where(feeds.c.id.in_(due.scalar_subquery()), self._unclaimed(feeds, now))
                .values(
                    claimed_by=worker,
                    claimed_until=until,
                    last_polled_at=case(
                        (feeds.c.next_poll_at > now, feeds.c.next_poll_at), else_=now
                    ),
                )
                .returning(*feeds.c)
            ).all()
        return sorted((self._feed(r) for r in rows), key=lambda feed: feed.next_poll_at)

    def unmark_config_feeds(self, keep_urls: Iterable[str]) -> None:
        """Feeds removed from the config stop being operator feeds (their history stays)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(feeds)
                .where(feeds.c.from_config, feeds.c.url.not_in(list(keep_urls)))
                .values(from_config=False)
            )

    @retry_when_busy
    def claim_feed(self, feed_id: int, worker: str, now: datetime, until: datetime) -> Feed | None:
        """Take the feed for one poll by ``worker`` if it is due and nobody alive holds it.

        The conditional UPDATE is the lock: of two replicas, only one sees a row change.
        The claim holds until ``until`` unless renewed (:meth:`renew_claims`); recording
        the poll's outcome releases it.
        """
        with self.engine.begin() as conn:
            result = conn.execute(
                update(feeds)
                .where(
                    feeds.c.id == feed_id,
                    feeds.c.next_poll_at <= now,
                    self._unclaimed(feeds, now),
                )
                .values(claimed_by=worker, claimed_until=until, last_polled_at=now)
                .returning(*feeds.c)  # one statement: a poll of an unchanged feed costs two
            ).first()
        return self._feed(result) if result is not None else None

    @retry_when_busy
    def renew_claims(
        self, worker: str, until: datetime, feed_ids: Iterable[int], alert_ids: Iterable[int]
    ) -> None:
        """Keep the feeds and alerts ``worker`` is working on claimed until ``until``: the
        heartbeat of a live replica. Only work in flight is named, so a claim that a
        failure left behind lapses like a dead replica's."""
        with self.engine.begin() as conn:
            for table, ids in ((feeds, list(feed_ids)), (outbox, list(alert_ids))):
                if ids:
                    conn.execute(
                        update(table)
                        .where(table.c.claimed_by == worker, table.c.id.in_(ids))
                        .values(claimed_until=until)
                    )

    @retry_when_busy
    def release_feed_claims(self, worker: str | None) -> None:
        """Free the feed claims of ``worker`` (it stops), or every one (None: at the start
        of the only process, on SQLite, any claim left is a dead one's)."""
        held = feeds.c.claimed_by.is_not(None) if worker is None else feeds.c.claimed_by == worker
        with self.engine.begin() as conn:
            conn.execute(update(feeds).where(held).values(**_RELEASED))

    @retry_when_busy
    def set_next_poll(self, feed_id: int, when: datetime) -> None:
        """Poll the feed at ``when`` (now: poll it at the next chance)."""
        with self.engine.begin() as conn:
            conn.execute(update(feeds).where(feeds.c.id == feed_id).values(next_poll_at=when))

    @retry_when_busy
    def record_unchanged(self, worker: str, outcomes: Sequence[Unchanged]) -> None:
        """Record polls that found their feeds unchanged, in one transaction: one
        statement, executed for every row, nothing else. Each feed's error count goes
        back to 0, its validators are kept or replaced, its next poll is set and its
        claim released.

        A row is written only while ``worker`` still holds the feed's claim: an outcome
        written late (its lease lapsed, another replica polled the feed since) changes
        nothing, and the feed is polled again, which for an unchanged feed costs one more
        request.
        """
        if not outcomes:
            return
        with self.engine.begin() as conn:
            conn.execute(
                _RECORD_UNCHANGED,
                [
                    {
                        "feed": o.feed_id,
                        "worker": worker,
                        "fresh": bool(o.etag or o.last_modified),
                        "new_etag": o.etag,
                        "new_last_modified": o.last_modified,
                        "polled_at": o.polled_at,
                        "next": o.next_poll_at,
                    }
                    for o in outcomes
                ],
            )

    @retry_when_busy
    def record_feed_error(self, feed_id: int, error: i18n.Text, next_poll_at: datetime) -> int:
        """Count one more error in a row; returns the new count. The error is kept in
        English and as a text to word in each chat's language."""
        with self.engine.begin() as conn:
            conn.execute(
                update(feeds)
                .where(feeds.c.id == feed_id)
                .values(
                    error_count=feeds.c.error_count + 1,
                    last_error=str(error)[:2000],
                    last_error_text=error.to_data(),
                    next_poll_at=next_poll_at,
                    **_RELEASED,
                )
            )
            count = conn.execute(select(feeds.c.error_count).where(feeds.c.id == feed_id)).scalar()
        return int(count or 0)

    def known_uids(self, feed_id: int, uids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(uids), 500):
                chunk = list(uids[start : start + 500])
                rows = conn.execute(
                    select(stories.c.uid).where(
                        stories.c.feed_id == feed_id, stories.c.uid.in_(chunk)
                    )
                ).all()
                found.update(r.uid for r in rows)
        return found

    @retry_when_busy
    def record_poll(
        self,
        feed_id: int,
        *,
        new_stories: Sequence[NewStory],
        alerts: Sequence[AlertDraft],
        feed_title: str | None,
        etag: str | None,
        last_modified: str | None,
        next_poll_at: datetime,
        body_hash: str | None = None,
        final: bool = True,
        place: Placer | None = None,
    ) -> tuple[int, list[tuple[AlertDraft, str]]]:
        """Record a successful poll: its stories, their alerts and the feed state, atomically.

        An alert is queued (``pending``) once per chat and key: the story's fingerprint,
        or with ``place`` its news event's, the fingerprint of the event's first story
        (so a copy of a story alerted before clustering, or with it turned off, still
        falls on that alert). A poll may be recorded in several calls, each with some
        stories and their alerts; only the ``final`` one updates the feed's state (ETag,
        first poll done, last success) and releases its claim.

        Args:
            place: Called in this transaction once the stories are stored, with each
                story and its id; returns the event (cluster id) of each story uid.

        Returns:
            The number of alerts queued, and the drafts not queued because the chat
            already has an alert with that key (from another feed), each with the key.
        """
        now = utcnow()
        queued = 0
        duplicates: list[tuple[AlertDraft, str]] = []
        with self.engine.begin() as conn:
            ids: dict[str, int] = {}
            if new_stories:  # one statement for them all: a first poll brings tens
                insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
                conn.execute(
                    insert(stories).on_conflict_do_nothing(index_elements=["feed_id", "uid"]),
                    [
                        {
                            "feed_id": feed_id,
                            "uid": story.uid,
                            "fingerprint": story.fingerprint,
                            "title": story.title,
                            "link": story.link,
                            "author": story.author,
                            "published": story.published,
                            "body": story.body,
                            "seen_at": now,
                        }
                        for story in new_stories
                    ],
                )
                for start in range(0, len(new_stories), 500):
                    chunk = [s.uid for s in new_stories[start : start + 500]]
                    for row in conn.execute(
                        select(stories.c.id, stories.c.uid, stories.c.fingerprint).where(
                            stories.c.feed_id == feed_id, stories.c.uid.in_(chunk)
                        )
                    ):
                        ids[row.uid] = row.id
            keys = {s.uid: s.fingerprint for s in new_stories}
            if place is not None and ids:
                events = place(conn, [(s, ids[s.uid]) for s in new_stories if s.uid in ids])
                firsts = dict(
                    conn.execute(
                        select(stories.c.id, stories.c.fingerprint).where(
                            stories.c.id.in_(set(events.values()))
                        )
                    ).all()
                )
                keys.update({uid: firsts[event] for uid, event in events.items()})
            for alert in alerts:
                story_id = ids.get(alert.story_uid)
                if story_id is None:
                    continue
                result = conn.execute(
                    self._insert_new(
                        outbox,
                        ["chat_pk", "fingerprint"],
                        chat_pk=alert.chat_pk,
                        story_id=story_id,
                        fingerprint=keys[alert.story_uid],
                        rule_id=alert.rule_id,
                        rule_query=alert.rule_query,
                        terms=alert.words,
                        spans=alert.spans,
                        summary=alert.summary.to_text(),
                        summary_chars=alert.summary_chars,
                        also_reported_by=[],
                        status=OutboxStatus.PENDING,
                        attempts=0,
                        not_before=alert.not_before,
                        created_at=now,
                    )
                )
                if result.first() is not None:
                    queued += 1
                else:
                    duplicates.append((alert, keys[alert.story_uid]))
            state: dict[str, Any] = {"title": feed_title[:500]} if feed_title else {}
            if not final:
                return queued, duplicates
            conn.execute(
                update(feeds)
                .where(feeds.c.id == feed_id)
                .values(
                    **state,
                    initialised=True,
                    body_hash=body_hash,
                    etag=etag,
                    last_modified=last_modified,
                    error_count=0,
                    last_error=None,
                    last_error_text=None,
                    last_ok_at=now,
                    next_poll_at=next_poll_at,
                    **_RELEASED,
                )
            )
        return queued, duplicates

    def story_alert(self, chat_pk: int, fingerprint: str) -> StoryAlert | None:
        """The chat's alert with this key (story fingerprint or event key), if any."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    outbox.c.id,
                    outbox.c.also_reported_by,
                    feeds.c.name,
                    feeds.c.title,
                    feeds.c.url,
                )
                .select_from(_ALERT_STORY_FEED)
                .where(outbox.c.chat_pk == chat_pk, outbox.c.fingerprint == fingerprint)
            ).first()
        if row is None:
            return None
        return StoryAlert(
            id=row.id,
            also_reported_by=tuple(row.also_reported_by or ()),
            source=feed_label(row.name, row.title, row.url),
        )

    def replace_summary(
        self, chat_pk: int, fingerprint: str, status: OutboxStatus, summary: Summary, chars: int
    ) -> bool:
        """Give the chat's alert with this key the summary written from ``chars``
        characters, if it is in ``status`` and its own was written from fewer. One
        conditional update, so it holds against a sender claiming it meanwhile."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(outbox)
                .where(
                    outbox.c.chat_pk == chat_pk,
                    outbox.c.fingerprint == fingerprint,
                    outbox.c.status == status,
                    outbox.c.summary_chars < chars,
                )
                .values(summary=summary.to_text(), summary_chars=chars)
            )
        return result.rowcount == 1

    def add_source(self, alert_id: int, name: str) -> bool:
        """Add ``name`` to the alert's "also reported by" names, unless it is there.

        A compare-and-set on the stored list, tried again when it changed meanwhile: the
        outlets of one event are often polled at once (threads, replicas), and each
        name must be kept. Returns whether the name was added.
        """
        stored = cast(outbox.c.also_reported_by, Text)
        while True:
            with self.engine.begin() as conn:
                before = conn.execute(select(stored).where(outbox.c.id == alert_id)).scalar_one()
                names = json.loads(before) if before else []
                if name in names:
                    return False
                result = conn.execute(
                    update(outbox)
                    .where(outbox.c.id == alert_id, stored == before)
                    .values(also_reported_by=[*names, name])
                )
            if result.rowcount == 1:
                return True

    def recent_stories(
        self, limit: int = 200, feed_ids: Sequence[int] | None = None
    ) -> list[StoredStory]:
        query = (
            select(stories, *_FEED_LABEL)
            .select_from(stories.join(feeds, stories.c.feed_id == feeds.c.id))
            .order_by(stories.c.id.desc())
            .limit(limit)
        )
        if feed_ids is not None:
            query = query.where(stories.c.feed_id.in_(list(feed_ids)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_stored_story(r) for r in rows]

    # -- chats ----------------------------------------------------------------

    def get_chat(self, platform: str, chat_id: str) -> Chat | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(chats).where(chats.c.platform == platform, chats.c.chat_id == chat_id)
            ).first()
        return self._chat(row) if row else None

    def ensure_chat(self, platform: str, chat_id: str, title: str | None = None) -> Chat:
        with self.engine.begin() as conn:
            conn.execute(
                self._insert_new(
                    chats,
                    ["platform", "chat_id"],
                    platform=platform,
                    chat_id=chat_id,
                    title=title,
                    subscribed=False,
                    active=True,
                    digest="off",
                    created_at=utcnow(),
                )
            )
            row = conn.execute(
                select(chats).where(chats.c.platform == platform, chats.c.chat_id == chat_id)
            ).one()
        return self._chat(row)

    def chats_by_pk(self, pks: Iterable[int]) -> dict[int, Chat]:
        wanted = list(set(pks))
        if not wanted:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(chats).where(chats.c.id.in_(wanted))).all()
        return {r.id: self._chat(r) for r in rows}

    def update_chat(self, chat_pk: int, **values: Any) -> None:
        """Set chat columns: subscribed, active, inactive_reason, muted_until, digest, title,
        timezone, quiet, language, user_language."""
        allowed = {"subscribed", "active", "inactive_reason", "muted_until", "digest", "title"}
        allowed |= {"timezone", "quiet", "language", "user_language"}
        unknown = set(values) - allowed
        if unknown:
            raise ValueError(f"store: not chat settings: {sorted(unknown)}")
        with self.engine.begin() as conn:
            conn.execute(update(chats).where(chats.c.id == chat_pk).values(**values))

    def migrate_chat(self, platform: str, old_id: str, new_id: str) -> None:
        """Follow a chat to its new id (a Telegram group upgraded to a supergroup).

        If the new id already has a row (the bot was used there), the old chat's rules and
        feeds are moved onto it and the old row is deleted.
        """
        with self.engine.begin() as conn:
            old = conn.execute(
                select(chats).where(chats.c.platform == platform, chats.c.chat_id == old_id)
            ).first()
            if old is None:
                return
            new = conn.execute(
                select(chats).where(chats.c.platform == platform, chats.c.chat_id == new_id)
            ).first()
            if new is None:
                # Nothing was sent to the new id yet: it may take a message at once.
                conn.execute(
                    update(chats)
                    .where(chats.c.id == old.id)
                    .values(chat_id=new_id, pace_next_at=None)
                )
                return
            conn.execute(update(rules).where(rules.c.chat_pk == old.id).values(chat_pk=new.id))
            existing = select(chat_feeds.c.feed_id).where(chat_feeds.c.chat_pk == new.id)
            conn.execute(
                update(chat_feeds)
                .where(chat_feeds.c.chat_pk == old.id, chat_feeds.c.feed_id.not_in(existing))
                .values(chat_pk=new.id)
            )
            conn.execute(
                update(outbox)
                .where(outbox.c.chat_pk == old.id, outbox.c.status == OutboxStatus.PENDING)
                .values(chat_pk=new.id)
            )
            conn.execute(
                update(chats)
                .where(chats.c.id == new.id)
                .values(subscribed=old.subscribed or new.subscribed, active=True)
            )
            conn.execute(delete(chats).where(chats.c.id == old.id))

    def take_turn(
        self, chat_pk: int, now: datetime, interval: float, per_minute: int | None = None
    ) -> bool:
        """Whether a chat may take a message now, for any replica; if so, the turn is
        taken: the next waits ``interval`` seconds, and a group (``per_minute``) takes at
        most that many in the minute its first message began. One conditional update, so
        two replicas never both get a turn.
        """
        conditions = [
            chats.c.id == chat_pk,
            or_(chats.c.pace_next_at.is_(None), chats.c.pace_next_at <= now),
        ]
        values: dict[str, Any] = {"pace_next_at": now + timedelta(seconds=interval)}
        if per_minute is not None:
            fresh = or_(
                chats.c.pace_window_at.is_(None),
                chats.c.pace_window_at <= now - timedelta(minutes=1),
            )
            conditions.append(or_(fresh, chats.c.pace_window_count < per_minute))
            values["pace_window_at"] = case((fresh, now), else_=chats.c.pace_window_at)
            values["pace_window_count"] = case((fresh, 1), else_=chats.c.pace_window_count + 1)
        with self.engine.begin() as conn:
            return conn.execute(update(chats).where(*conditions).values(**values)).rowcount == 1

    def reserve_send_slot(self, platform: str, now: datetime, gap: float) -> float:
        """Reserve the platform's next free message slot, for any replica; returns the
        seconds until it (0.0: now). Slots are ``gap`` apart, so all replicas together
        send at most one message per ``gap``. The slot is taken with a conditional update
        on the value just read, so two replicas never get the same one (the loser of a
        race reads again)."""
        step = timedelta(seconds=gap)
        while True:
            with self.engine.begin() as conn:
                current = conn.execute(
                    select(send_pacing.c.next_at).where(send_pacing.c.platform == platform)
                ).scalar_one_or_none()
                if current is None:
                    first = self._insert_pacing(platform, {"next_at": now + step})
                    if conn.execute(first).first() is not None:
                        return 0.0  # the platform's first message
                    continue
                slot = max(_aware(current) or now, now)
                reserved = conn.execute(
                    update(send_pacing)
                    .where(send_pacing.c.platform == platform, send_pacing.c.next_at == current)
                    .values(next_at=slot + step)
                ).rowcount
            if reserved:
                return (slot - now).total_seconds()

    def _insert_pacing(self, platform: str, values: dict[str, Any]) -> Any:
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        return (
            insert(send_pacing)
            .values(platform=platform, **values)
            .on_conflict_do_nothing(index_elements=["platform"])
            .returning(send_pacing.c.platform)
        )

    # -- leases ---------------------------------------------------------------

    def take_lease(self, name: str, holder: str, until: datetime, now: datetime) -> bool:
        """Take or renew the lease ``name`` for ``holder`` until ``until``; whether it is
        held now. It is taken when free, lapsed (its holder stopped renewing: dead) or
        already ``holder``'s: one conditional update, like the claims on feeds, so two
        replicas never both hold it."""
        with self.engine.begin() as conn:
            held = conn.execute(
                update(leases)
                .where(leases.c.name == name, or_(leases.c.holder == holder, leases.c.until < now))
                .values(holder=holder, until=until)
            ).rowcount
            if held:
                return True
            insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
            created = conn.execute(
                insert(leases)
                .values(name=name, holder=holder, until=until)
                .on_conflict_do_nothing(index_elements=["name"])
                .returning(leases.c.name)
            ).first()
        return created is not None

    def release_lease(self, name: str, holder: str | None) -> None:
        """Give up ``holder``'s lease ``name`` (it stops): another replica takes it at once.
        None: whoever holds it (at the start of the only process, on SQLite, a lease
        left is a dead one's)."""
        held = [leases.c.name == name]
        if holder is not None:
            held.append(leases.c.holder == holder)
        with self.engine.begin() as conn:
            conn.execute(delete(leases).where(*held))

    def lease_holders(self, prefix: str, now: datetime) -> list[str]:
        """The holders of the live leases whose names begin with ``prefix``, sorted."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(leases.c.holder)
                .where(leases.c.name.startswith(prefix, autoescape=True), leases.c.until >= now)
                .order_by(leases.c.holder)
            )
            return list(rows.scalars())

    def lease_holder(self, name: str, now: datetime) -> str | None:
        """Who holds the lease ``name`` now (None: nobody, or its holder let it lapse)."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(leases.c.holder).where(leases.c.name == name, leases.c.until >= now)
            ).scalar_one_or_none()

    # -- rules ----------------------------------------------------------------

    def add_rule(
        self, chat_pk: int, query: str, *, limit: int, thread_id: str | None = None
    ) -> Rule:
        with self.engine.begin() as conn:
            self._lock_chat(conn, chat_pk)
            count = conn.execute(
                select(func.count()).select_from(rules).where(rules.c.chat_pk == chat_pk)
            ).scalar_one()
            if count >= limit:
                raise LimitReached("rules", count, limit)
            rule_id = conn.execute(
                rules.insert()
                .values(chat_pk=chat_pk, query=query, created_at=utcnow(), thread_id=thread_id)
                .returning(rules.c.id)
            ).scalar_one()
        return Rule(rule_id, chat_pk, query, count + 1, thread_id=thread_id)

    def name_topic(self, chat_pk: int, thread_id: str, name: str, *, rename: bool) -> None:
        """Remember a forum topic's name. ``rename`` False keeps a name already known: a
        message in a topic shows the name the topic was created with, and a rename seen
        since is newer."""
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        values = {"chat_pk": chat_pk, "thread_id": thread_id, "name": name[:TOPIC_NAME_MAX]}
        statement = insert(topics).values(**values)
        keys = ["chat_pk", "thread_id"]
        if rename:
            statement = statement.on_conflict_do_update(
                index_elements=keys, set_={"name": statement.excluded.name}
            )
        else:
            statement = statement.on_conflict_do_nothing(index_elements=keys)
        with self.engine.begin() as conn:
            conn.execute(statement)

    def topic_names(self, chat_pk: int) -> dict[str, str]:
        """The names of the chat's forum topics the bot knows, by thread id."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(topics.c.thread_id, topics.c.name).where(topics.c.chat_pk == chat_pk)
            ).all()
        return {row.thread_id: row.name for row in rows}

    def list_rules(self, chat_pk: int) -> list[Rule]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(rules).where(rules.c.chat_pk == chat_pk).order_by(rules.c.id)
            ).all()
        return [_rule(r, n) for n, r in enumerate(rows, 1)]

    def mute_rule(self, chat_pk: int, rule_id: int, until: datetime | None) -> bool:
        """No alerts for the chat's rule before ``until`` (None: unmuted); False when the
        chat has no such rule (any more)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(rules)
                .where(rules.c.id == rule_id, rules.c.chat_pk == chat_pk)
                .values(muted_until=until)
            )
        return result.rowcount == 1

    def muted_rule_ids(self, rule_ids: Iterable[int], now: datetime) -> set[int]:
        """Which of ``rule_ids`` are muted at ``now``."""
        wanted = list(set(rule_ids))
        if not wanted:
            return set()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(rules.c.id).where(rules.c.id.in_(wanted), rules.c.muted_until > now)
            )
            return {r.id for r in rows}

    def story_of_alert(self, chat_pk: int, alert_id: int) -> tuple[StoredStory, list[str]] | None:
        """The story of the chat's alert ``alert_id`` and the words that matched, or None
        when the chat has no such alert (a button of another chat's message)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(stories, outbox.c.terms, *_FEED_LABEL)
                .select_from(_ALERT_STORY_FEED)
                .where(outbox.c.id == alert_id, outbox.c.chat_pk == chat_pk)
            ).first()
        if row is None:
            return None
        return _stored_story(row), list(row.terms or ())

    def remove_rule(self, chat_pk: int, rule_id: int) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(rules).where(rules.c.id == rule_id, rules.c.chat_pk == chat_pk)
            )
        return result.rowcount == 1

    def all_rules(self) -> list[Rule]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(rules).order_by(rules.c.id)).all()
        return [_rule(r) for r in rows]

    def rule_ids(self) -> set[int]:
        with self.engine.connect() as conn:
            return {r.id for r in conn.execute(select(rules.c.id))}

    def rules_after(self, rule_id: int) -> list[Rule]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(rules).where(rules.c.id > rule_id).order_by(rules.c.id)
            ).all()
        return [_rule(r) for r in rows]

    # -- a chat's feeds -------------------------------------------------------

    def add_chat_feed(self, chat_pk: int, feed_id: int, *, limit: int) -> bool:
        """Give the chat this feed; False when it already had it."""
        with self.engine.begin() as conn:
            self._lock_chat(conn, chat_pk)
            count = conn.execute(
                select(func.count()).select_from(chat_feeds).where(chat_feeds.c.chat_pk == chat_pk)
            ).scalar_one()
            if count >= limit:
                raise LimitReached("feeds", count, limit)
            result = conn.execute(
                self._insert_new(
                    chat_feeds,
                    ["chat_pk", "feed_id"],
                    chat_pk=chat_pk,
                    feed_id=feed_id,
                    created_at=utcnow(),
                )
            )
            return result.first() is not None

    @staticmethod
    def _lock_chat(conn: Connection, chat_pk: int) -> None:
        """Hold the chat's row until the transaction ends, so that a count against a limit
        and the insert after it are one step: two adds at once (an import's feeds, two
        replicas) would otherwise both see room for one more. A no-op UPDATE locks the row
        on PostgreSQL and takes SQLite's write lock, where SELECT … FOR UPDATE does not."""
        conn.execute(update(chats).where(chats.c.id == chat_pk).values(id=chats.c.id))

    def chat_feeds(self, chat_pk: int) -> list[Feed]:
        """The chat's own feeds, in the order added (what `feeds` numbers)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(feeds)
                .select_from(feeds.join(chat_feeds, chat_feeds.c.feed_id == feeds.c.id))
                .where(chat_feeds.c.chat_pk == chat_pk)
                .order_by(chat_feeds.c.id)
            ).all()
        return [self._feed(r) for r in rows]

    def config_feeds(self) -> list[Feed]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(feeds).where(feeds.c.from_config).order_by(feeds.c.id)).all()
        return [self._feed(r) for r in rows]

    def remove_chat_feed(self, chat_pk: int, feed_id: int) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(chat_feeds).where(
                    chat_feeds.c.chat_pk == chat_pk, chat_feeds.c.feed_id == feed_id
                )
            )
        return result.rowcount == 1

    def chats_of_feed(self, feed_id: int) -> set[int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(chat_feeds.c.chat_pk).where(chat_feeds.c.feed_id == feed_id))
            return {r.chat_pk for r in rows}

    # -- outbox ---------------------------------------------------------------

    def due_alerts(
        self, status: OutboxStatus, now: datetime, limit: int = 100
    ) -> list[tuple[int, int]]:
        """(alert id, chat pk) of alerts in ``status`` due by ``now``, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(outbox.c.id, outbox.c.chat_pk)
                .where(outbox.c.status == status, outbox.c.not_before <= now)
                .order_by(outbox.c.not_before, outbox.c.id)
                .limit(limit)
            ).all()
        return [(r.id, r.chat_pk) for r in rows]

    def reschedule_alerts(
        self, chat_pk: int, status: OutboxStatus, now: datetime, at: datetime
    ) -> int:
        """Alerts of the chat in ``status``, never tried and not due by ``now``, become due
        ``at``; returns how many. (Tried ones keep their backoff.)"""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(outbox)
                .where(
                    outbox.c.chat_pk == chat_pk,
                    outbox.c.status == status,
                    outbox.c.attempts == 0,
                    outbox.c.not_before > now,
                )
                .values(not_before=at)
            )
        return int(result.rowcount or 0)

    def claim_alert(
        self,
        alert_id: int,
        status: OutboxStatus,
        claimed: OutboxStatus,
        worker: str,
        until: datetime,
        *,
        count: str,
    ) -> OutboxItem | None:
        """Moves an alert from ``status`` to ``claimed`` for ``worker`` until ``until``,
        counting one more try in the column ``count`` (``attempts`` or ``edit_attempts``),
        and loads it; None if another worker moved it first."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(outbox)
                .where(outbox.c.id == alert_id, outbox.c.status == status)
                .values(
                    status=claimed,
                    claimed_by=worker,
                    claimed_until=until,
                    **{count: outbox.c[count] + 1},
                )
            )
            if result.rowcount != 1:
                return None
            row = conn.execute(
                select(
                    outbox,
                    stories.c.title,
                    stories.c.link,
                    stories.c.author,
                    stories.c.published,
                    feeds.c.name.label("feed_name"),
                    feeds.c.title.label("feed_title"),
                    feeds.c.url.label("feed_url"),
                    rules.c.id.label("live_rule_id"),
                    rules.c.thread_id,
                    *(column.label(f"c_{column.name}") for column in chats.c),
                )
                .select_from(
                    _ALERT_STORY_FEED.join(chats, outbox.c.chat_pk == chats.c.id)
                    # The rule may be gone since: its alert still goes, to the chat at large.
                    .outerjoin(rules, outbox.c.rule_id == rules.c.id)
                )
                .where(outbox.c.id == alert_id)
            ).one()
        alert = Alert(
            title=row.title,
            link=row.link,
            source=feed_label(row.feed_name, row.feed_title, row.feed_url),
            published=_aware(row.published),
            rule=row.rule_query,
            summary=Summary.from_text(row.summary),
            words=tuple(row.terms or ()),
            author=row.author,
            also_reported_by=tuple(row.also_reported_by or ()),
            alert_id=row.id,
            rule_id=row.live_rule_id,  # None once the rule is gone: no buttons for it
            thread_id=row.thread_id,
        )
        return OutboxItem(
            id=row.id,
            chat=self._chat(row, "c_"),
            alert=alert,
            attempts=row.attempts,
            message_id=row.message_id,
            edit_attempts=row.edit_attempts,
        )

    def alert_sources(self, alert_id: int) -> tuple[str, ...]:
        """The "also reported by" names the alert has now."""
        with self.engine.connect() as conn:
            names = conn.execute(
                select(outbox.c.also_reported_by).where(outbox.c.id == alert_id)
            ).scalar_one()
        return tuple(names or ())

    def settle_alert(
        self,
        alert_id: int,
        status: OutboxStatus,
        *,
        error: str | None = None,
        message_id: str | None = None,
        sent_at: datetime | None = None,
        not_before: datetime | None = None,
    ) -> None:
        """End a claim on an alert, leaving it in ``status`` with the values given."""
        values: dict[str, Any] = {
            "status": status,
            "last_error": error[:2000] if error else None,
            **_RELEASED,
        }
        if message_id is not None:
            values["message_id"] = message_id
        if sent_at is not None:
            values["sent_at"] = sent_at
        if not_before is not None:
            values["not_before"] = not_before
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == alert_id).values(**values))

    def move_alert(
        self, alert_id: int, status: OutboxStatus, to: OutboxStatus, *, alone: bool = False
    ) -> bool:
        """Move an alert from ``status`` to ``to``, due now; with ``alone``, only if it has
        a message of its own (a digest's message holds several). One conditional
        update, so it holds against a concurrent change. Returns whether it moved."""
        conditions = [outbox.c.id == alert_id, outbox.c.status == status]
        if alone:
            other = outbox.alias("other")
            shared = (
                select(other.c.id)
                .where(
                    other.c.chat_pk == outbox.c.chat_pk,
                    other.c.message_id == outbox.c.message_id,
                    other.c.id != outbox.c.id,
                )
                .exists()
            )
            conditions += [outbox.c.message_id.is_not(None), ~shared]
        with self.engine.begin() as conn:
            result = conn.execute(
                update(outbox).where(*conditions).values(status=to, not_before=utcnow())
            )
        return result.rowcount == 1

    def delay_chat_alerts(self, chat_pk: int, status: OutboxStatus, not_before: datetime) -> None:
        """Hold the chat's alerts in ``status`` until ``not_before`` (after a 429)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(
                    outbox.c.chat_pk == chat_pk,
                    outbox.c.status == status,
                    outbox.c.not_before < not_before,
                )
                .values(not_before=not_before)
            )

    def settle_lapsed_claims(
        self,
        claimed: OutboxStatus,
        status: OutboxStatus,
        now: datetime,
        *,
        everyone: bool = False,
        error: str | None = None,
    ) -> int:
        """Alerts in ``claimed`` whose claim lapsed (or every one, with ``everyone``) go
        to ``status``, due ``now``; returns how many."""
        stale = outbox.c.claimed_by.is_not(None) if everyone else outbox.c.claimed_until < now
        with self.engine.begin() as conn:
            result = conn.execute(
                update(outbox)
                .where(outbox.c.status == claimed, stale)
                .values(status=status, last_error=error, not_before=now, **_RELEASED)
            )
        return int(result.rowcount or 0)

    def alert_counts(self, chat_pk: int | None, since: datetime) -> dict[str, int]:
        query = (
            select(outbox.c.status, func.count())
            .where(
                or_(
                    outbox.c.sent_at >= since,
                    and_(outbox.c.sent_at.is_(None), outbox.c.created_at >= since),
                )
            )
            .group_by(outbox.c.status)
        )
        if chat_pk is not None:
            query = query.where(outbox.c.chat_pk == chat_pk)
        counts: dict[str, int] = {}
        with self.engine.connect() as conn:
            for status, n in conn.execute(query).all():
                key = OutboxStatus(status).counted_as.value
                counts[key] = counts.get(key, 0) + int(n)
        return counts
