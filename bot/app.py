"""Composition root: builds every part from the settings, starts and stops them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from collections.abc import Iterator, Mapping
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.commands.service import CommandService
from bot.config import Settings
from bot.delivery.dispatcher import Dispatcher
from bot.delivery.platform import ChatAdapter
from bot.errors import ConfigError, StoreBusy
from bot.events import EventClusters
from bot.feeds.fetch import Fetcher
from bot.feeds.pipeline import FeedPipeline
from bot.health import HealthServer, database_problem
from bot.lease import Lease
from bot.metrics import Metrics
from bot.models import Feed, Share
from bot.rulebook import RuleBook
from bot.rules import RuleSettings, RuleSyntaxError
from bot.scheduler import Scheduler
from bot.store import Store, make_engine, migrate, utcnow
from bot.store.clusters import ClusterStore
from bot.summarize import ExtractiveSummarizer, LLMSummarizer, Summarizer

log = logging.getLogger(__name__)

DISPATCH_EVERY = 0.5  # seconds between outbox drains, unless a poll queues alerts sooner
FEEDS_EVERY = 1.0  # mean seconds between looks for due feeds (each 0.5–1.5 times that)
# Polls taken on at most per poll slot (``poll.concurrency``), running or waiting for their
# time: enough for the feeds due within FEEDS_EVERY, few enough to leave a backlog's rest
# to the other replicas.
QUEUE_PER_SLOT = 20
# A replica polls its own share of the feeds (see Share); one of them overdue this long
# is anyone's: its owner died, or is behind.
SHARE_GRACE = 3.0
REPLICA_LEASE = "replica:"  # + the worker: one lease per live replica, to count them
SYNC_EVERY = 15.0  # seconds between picking up other replicas' rule changes
UPDATES_LEASE = "telegram:getUpdates"  # the lease of the one replica polling Telegram


def build_adapters(settings: Settings, store: Store, worker: str) -> dict[str, ChatAdapter]:
    """One adapter per platform with credentials; the console when there are none.

    Telegram's long polling goes by a lease in the store: one replica polls at a time
    (``worker`` names this one), any of them sends.
    """
    adapters: dict[str, ChatAdapter] = {}
    if "telegram" in settings.platforms:
        from bot.adapters.telegram import TelegramAdapter

        lease = Lease(store, UPDATES_LEASE, worker, timedelta(seconds=settings.poll.lease))
        adapters["telegram"] = TelegramAdapter(settings.telegram, updates_lease=lease)
    if "slack" in settings.platforms:
        from bot.adapters.slack import SlackAdapter

        adapters["slack"] = SlackAdapter(settings.slack)
    if not adapters:
        from bot.adapters.console import ConsoleAdapter

        adapters["console"] = ConsoleAdapter(read_stdin=True)
    return adapters


def event_clusters(engine: Engine, settings: Settings) -> EventClusters | None:
    """One alert per news event (``clusters``), or None when it is turned off."""
    if not settings.clusters.enabled:
        return None
    window = timedelta(seconds=settings.clusters.window)
    return EventClusters(ClusterStore(engine), window, language=settings.rules.language)


def build_summarizer(settings: Settings) -> Summarizer:
    extractive = ExtractiveSummarizer(
        sentences=settings.summary.sentences, max_chars=settings.summary.max_chars
    )
    llm = settings.summary.llm
    if llm is None:
        return extractive
    return LLMSummarizer(
        base_url=llm.base_url,
        model=llm.model,
        api_key=llm.api_key.get_secret_value() if llm.api_key else None,
        fallback=extractive,
        timeout=llm.timeout,
    )


def rule_settings(settings: Settings) -> RuleSettings:
    r = settings.rules
    return RuleSettings(
        language=r.language, max_length=r.max_length, max_terms=r.max_terms, min_prefix=r.min_prefix
    )


class App:
    """The running service: scheduler, pipeline, dispatcher, adapters, health endpoint."""

    def __init__(
        self,
        settings: Settings,
        *,
        adapters: Mapping[str, ChatAdapter] | None = None,
        health: bool = True,
        poll_feeds: bool = True,
        send_alerts: bool = True,
    ) -> None:
        """Args:
        settings: The validated settings.
        adapters: The chat platforms (default: from the settings).
        health: Serve the health endpoint when ``health.listen`` is set.
        poll_feeds: Poll feeds when they fall due (False: only when
            ``pipeline.poll`` is called, as tests that poll by hand want).
        send_alerts: Drain the outbox (False: only when ``dispatcher.run_once`` is
            called, as tests that send by hand want).
        """
        self.settings = settings
        self.engine = make_engine(settings.database)
        self.metrics = Metrics()
        self.metrics.read_store(self.engine)
        self.store = Store(self.engine)
        self.rulebook = RuleBook(self.store, rule_settings(settings))
        self.fetcher = Fetcher(
            timeout=settings.fetch.timeout,
            max_bytes=settings.fetch.max_bytes,
            allow_private_addresses=settings.fetch.allow_private_addresses,
            user_agent=settings.fetch.user_agent,
            max_connections=settings.poll.concurrency,
            observe=self.metrics.fetched,
        )
        self.summarizer = build_summarizer(settings)
        # Unique per start: claims left by an earlier run under the same host and pid
        # (a restarted container) must not pass for this run's.
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.pipeline = FeedPipeline(
            self.store,
            self.fetcher,
            self.rulebook,
            self.summarizer,
            settings,
            worker=self.worker,
            clusters=event_clusters(self.engine, settings),
        )
        self.adapters = (
            dict(adapters)
            if adapters is not None
            else build_adapters(settings, self.store, self.worker)
        )
        self.service = CommandService(
            self.store, self.rulebook, settings, self.fetcher, on_feed_added=self._feed_added
        )
        self.dispatcher = Dispatcher(
            self.store,
            {name: self.metrics.timed(adapter) for name, adapter in self.adapters.items()},
            worker=self.worker,
            follow_migration=self.service.follow_migration,
            lease=timedelta(seconds=settings.poll.lease),
        )
        self.scheduler = Scheduler()
        self._poll_slots = asyncio.Semaphore(settings.poll.concurrency)
        self.health = (
            HealthServer(
                settings.health.listen,
                live=lambda: self._started,
                ready=self.readiness,
                metrics=self.metrics,
            )
            if health and settings.health.listen
            else None
        )
        self._poll_feeds = poll_feeds
        self._send_alerts = send_alerts
        self._started = False
        self._inflight: set[asyncio.Task[object]] = set()
        self._polling: dict[int, asyncio.Task[None]] = {}
        self._queue = QUEUE_PER_SLOT * settings.poll.concurrency
        self._room = asyncio.Event()  # set when half the queue has drained
        self._heartbeat: asyncio.Task[None] | None = None
        self._feeds_tick: asyncio.Task[None] | None = None
        self._share: Share | None = None  # None: every feed is this process's
        self._drain: asyncio.Task[None] | None = None
        self._draining = True
        self._alerts_queued = asyncio.Event()  # wakes the drain before its next round

    async def prepare(self) -> None:
        """Schema, config feeds and subscriptions, rule index: everything before polling."""
        await asyncio.to_thread(migrate, self.engine)
        await asyncio.to_thread(self.seed)
        await asyncio.to_thread(self.rulebook.load)

    async def start(self) -> None:
        await self.prepare()
        if self.engine.dialect.name == "sqlite":
            # The only process: the lease on getUpdates left in the file is a killed
            # run's, and waiting for it to lapse would leave commands unanswered.
            await asyncio.to_thread(self.store.release_lease, UPDATES_LEASE, None)
        for adapter in self.adapters.values():
            await adapter.start(self.service)
        feed_ids = await asyncio.to_thread(self.store.active_feed_ids)
        await self._settle_claims()
        await asyncio.to_thread(self._count_replicas)
        self._heartbeat = asyncio.create_task(self._keep_claims(), name="heartbeat")
        if self._poll_feeds:
            self._feeds_tick = asyncio.create_task(self._tick_feeds(), name="feeds")
        if self._send_alerts:
            self._drain = asyncio.create_task(self._drain_outbox(), name="outbox")
        self.scheduler.every("sync", SYNC_EVERY, self._sync, first=False)
        self.scheduler.start()
        if self.health:
            await self.health.start()
        self._started = True
        log.info(
            "newsbot started: %d feeds, %d rules, platforms %s",
            len(feed_ids),
            len(self.rulebook),
            ",".join(self.adapters),
        )

    async def stop(self) -> None:
        self._started = False
        self.scheduler.pause()
        await _cancel(self._feeds_tick)
        self._draining = False  # a drain under way ends with its round
        self._alerts_queued.set()
        for task in list(self._polling.values()):
            if task not in self._inflight:  # still waiting for its time: nothing begun
                task.cancel()
        await self._finish_inflight()
        await self._record_unchanged()  # before the claims are released
        await self.scheduler.shutdown()
        if self._heartbeat is not None:  # claims are taken only once started
            await _cancel(self._heartbeat)  # after in-flight work: it renews their claims
            await self._release_feed_claims()
        for adapter in self.adapters.values():
            try:
                await adapter.stop()
            except Exception:
                log.exception("stopping the %s adapter failed", adapter.platform)
        if self.health:
            await self.health.stop()
        await self.fetcher.aclose()
        aclose = getattr(self.summarizer, "aclose", None)
        if aclose is not None:
            await aclose()
        self.engine.dispose()

    async def readiness(self) -> list[str]:
        """What keeps the service from working now (empty when ready): not started, the
        database not answering, an adapter not connected."""
        if not self._started:
            return ["not started (or stopping)"]
        problems = [await database_problem(self.engine)]
        problems += [await adapter.connection_problem() for adapter in self.adapters.values()]
        return [p for p in problems if p]

    def seed(self) -> None:
        """Create the config's feeds and subscriptions (idempotent)."""
        s = self.settings
        for feed in s.feeds:
            self.store.ensure_feed(
                feed.url,
                name=feed.name,
                interval_s=int(feed.interval) if feed.interval else None,
                full_text=feed.full_text,
                from_config=True,
            )
        self.store.unmark_config_feeds([f.url for f in s.feeds])
        problems = [
            f"subscriptions[{i}].rules[{j}]: {exc}"
            for i, sub in enumerate(s.subscriptions)
            for j, query in enumerate(sub.rules)
            if (exc := self._rule_error(query))
        ]
        if problems:
            raise ConfigError(problems)
        for sub in s.subscriptions:
            chat = self.store.ensure_chat(sub.platform, sub.chat)
            if not chat.subscribed:
                self.store.update_chat(chat.id, subscribed=True)
            have = {r.query for r in self.store.list_rules(chat.id)}
            for query in sub.rules:
                if query not in have:
                    self.store.add_rule(chat.id, query, limit=10**9)

    def _rule_error(self, query: str) -> RuleSyntaxError | None:
        try:
            self.rulebook.compile(query)
        except RuleSyntaxError as exc:
            return exc
        return None

    async def _settle_claims(self) -> None:
        """Claims left by a process that died. SQLite serves one process, so at its start
        every claim is a dead one's and is released at once; on PostgreSQL other replicas
        may be alive, so only claims whose lease ran out are settled (and then again on
        every heartbeat)."""
        if self.engine.dialect.name == "sqlite":
            await asyncio.to_thread(self.store.release_feed_claims, None)
            await self.dispatcher.recover(everyone=True)
        else:
            await self.dispatcher.recover()

    async def _keep_claims(self) -> None:
        """The heartbeat: renew this replica's claims on feeds and alerts four times per
        lease, and take over work whose claims a dead replica let lapse."""
        lease = timedelta(seconds=self.settings.poll.lease)
        while True:
            await asyncio.sleep(lease.total_seconds() / 4)
            try:
                await asyncio.to_thread(
                    self.store.renew_claims,
                    self.worker,
                    utcnow() + lease,
                    list(self._polling),
                    list(self.dispatcher.in_flight),
                )
                await self.dispatcher.recover()
                await asyncio.to_thread(self._count_replicas)
            except Exception:
                # The database may be away for a moment; the next beat tries again.
                log.exception("renewing claims failed")

    def _count_replicas(self) -> None:
        """Renew this replica's lease in the fleet and take its share of the feeds: its
        place among the live replicas (PostgreSQL; on SQLite it is the only process)."""
        if self.engine.dialect.name == "sqlite":
            return
        now = utcnow()
        lease = timedelta(seconds=self.settings.poll.lease)
        self.store.take_lease(f"{REPLICA_LEASE}{self.worker}"[:100], self.worker, now + lease, now)
        alive = self.store.lease_holders(REPLICA_LEASE, now)
        self._share = Share(alive.index(self.worker), len(alive)) if self.worker in alive else None

    async def _tick_feeds(self) -> None:
        """Take on each feed's poll when it falls due. The database's ``next_poll_at`` is
        the one schedule, shared by every replica. Each tick claims the feeds due before
        the next (about ``FEEDS_EVERY``) in one UPDATE (each poll then waits for its own
        time), so a tick costs one statement however many feeds it takes, and a poll
        none for its claim.
        After a cold start or an outage the overdue feeds come oldest first, as fast as
        the poll slots free up.

        Replicas split the feeds by id (:class:`Share`), each claiming its own: were the
        due feeds anyone's, the first look would take every feed due before the next,
        and replicas started together, looking in one order each second, would not
        share the work (3 replicas: 239, 93 and 28 fetches). A feed overdue by
        SHARE_GRACE is anyone's, so a dead replica's feeds or a busy one's backlog are
        taken by the others; for those the random pause lets them take turns.

        The unchanged feeds polled since the last tick are recorded first, together."""
        while True:
            backlog = False
            pause = FEEDS_EVERY * random.uniform(0.5, 1.5)  # noqa: S311 - spreading load
            self._room.clear()  # before the look: a poll ending meanwhile wakes the next
            await self._record_unchanged()
            try:
                room = self._queue - len(self._polling)
                if room > 0:
                    now = utcnow()
                    due = await asyncio.to_thread(
                        self.store.claim_due_feeds,
                        self.worker,
                        now,
                        now + timedelta(seconds=pause),
                        now + timedelta(seconds=self.settings.poll.lease),
                        room,
                        list(self._polling),
                        self._share,
                        now - timedelta(seconds=SHARE_GRACE),
                    )
                    for feed in due:
                        self._spawn_poll(feed.id, feed)
                    backlog = len(due) == room
                else:
                    backlog = True
            except Exception:
                log.exception("looking for due feeds failed")  # the database away; next tick
            if backlog:  # more are due: look again once half the queue has drained
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._room.wait(), pause)
            else:
                await asyncio.sleep(pause)

    async def _record_unchanged(self) -> None:
        """Write the outcomes of the unchanged feeds polled since the last tick, in one
        transaction (see :mod:`bot.feeds.unchanged`)."""
        try:
            await self.pipeline.unchanged.flush()
        except Exception:
            # The database away: those feeds are polled again once their claims lapse.
            log.exception("recording unchanged feeds failed")

    def _feed_added(self, feed_id: int) -> None:
        """A chat added a feed: its first poll starts now, not at the next tick."""
        if self._started and self._poll_feeds:
            self._spawn_poll(feed_id, None)

    def _spawn_poll(self, feed_id: int, claimed: Feed | None) -> None:
        """Poll the feed: one this worker claimed, at its time; else at once if due."""
        if feed_id in self._polling:
            return
        task = asyncio.get_running_loop().create_task(
            self._poll(feed_id, claimed), name=f"feed:{feed_id}"
        )
        self._polling[feed_id] = task
        task.add_done_callback(lambda _: self._polled(feed_id))

    def _polled(self, feed_id: int) -> None:
        self._polling.pop(feed_id, None)
        if len(self._polling) <= self._queue // 2:
            self._room.set()

    async def _poll(self, feed_id: int, claimed: Feed | None) -> None:
        if claimed is not None:  # its time, not before
            await asyncio.sleep(max(0.0, (claimed.next_poll_at - utcnow()).total_seconds()))
        with self._tracked():
            try:
                async with self._poll_slots:
                    report = await (
                        self.pipeline.poll(feed_id)
                        if claimed is None
                        else self.pipeline.poll_claimed(claimed)
                    )
                    self.metrics.polled(report)
                    if report.alerts:
                        self._alerts_queued.set()
            except StoreBusy as exc:
                # SQLite stayed locked through every retry: the feed's next turn tries again.
                log.warning("poll of feed %s: %s", feed_id, exc, extra={"feed_id": feed_id})
            except Exception:
                # The pipeline records a feed's own failures on the feed; this is the funnel
                # for whatever escapes it (the database away, say).
                log.exception("poll of feed %s failed", feed_id, extra={"feed_id": feed_id})

    async def _drain_outbox(self) -> None:
        """Send what the outbox holds, one drain after another: every DISPATCH_EVERY, or
        as soon as a poll of this process queued alerts. A drain that takes long (a
        backlog paced by the platform's rate) is simply followed by the next."""
        while self._draining:
            self._alerts_queued.clear()
            try:
                await self.dispatcher.run_once()
            except StoreBusy as exc:  # waiting for the database is not a bug
                log.warning("outbox: %s", exc)
            except Exception:
                log.exception("draining the outbox failed")  # the next round tries again
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._alerts_queued.wait(), DISPATCH_EVERY)

    @contextlib.contextmanager
    def _tracked(self) -> Iterator[None]:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._inflight.discard(task)

    async def _release_feed_claims(self) -> None:
        try:
            # A poll cut short committed nothing: anyone may poll its feed at once.
            await asyncio.to_thread(self.store.release_feed_claims, self.worker)
            name = f"{REPLICA_LEASE}{self.worker}"[:100]
            await asyncio.to_thread(self.store.release_lease, name, self.worker)
        except SQLAlchemyError as exc:
            # The database is away (why we stop, often): one line, the claims lapse anyway.
            log.warning(
                "releasing feed claims failed (%s); they lapse after poll.lease",
                " ".join(str(getattr(exc, "orig", None) or exc).split()),
            )

    async def _finish_inflight(self) -> None:
        """Let running polls and sends finish; past the deadline they are cancelled. A
        cancelled poll commits nothing (its claim is released in :meth:`stop`)."""
        pending = {t for t in self._inflight if t is not asyncio.current_task()}
        if self._drain is not None and not self._drain.done():
            pending.add(self._drain)  # it stops after its round
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=self.settings.fetch.timeout + 5)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=5)

    async def _sync(self) -> None:
        """Pick up rules other replicas changed (their feeds are in the database, which
        :meth:`_poll_due` reads)."""
        await asyncio.to_thread(self.rulebook.sync)


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
