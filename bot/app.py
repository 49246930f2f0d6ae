"""Composition root: builds every part from the settings, starts and stops them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Iterator, Mapping

from bot.commands.service import CommandService
from bot.config import Settings
from bot.delivery.dispatcher import Dispatcher
from bot.delivery.platform import ChatAdapter
from bot.errors import ConfigError
from bot.feeds.fetch import Fetcher
from bot.feeds.pipeline import FeedPipeline
from bot.health import HealthServer
from bot.rulebook import RuleBook
from bot.rules import RuleSettings, RuleSyntaxError
from bot.scheduler import Scheduler
from bot.store import Store, make_engine, migrate
from bot.summarize import ExtractiveSummarizer, LLMSummarizer, Summarizer

log = logging.getLogger(__name__)

DISPATCH_EVERY = 0.5  # seconds between outbox drains
SYNC_EVERY = 15.0  # seconds between picking up other replicas' rule and feed changes


def build_adapters(settings: Settings) -> dict[str, ChatAdapter]:
    """One adapter per platform with credentials; the console when there are none."""
    adapters: dict[str, ChatAdapter] = {}
    if "telegram" in settings.platforms:
        from bot.adapters.telegram import TelegramAdapter

        adapters["telegram"] = TelegramAdapter(settings.telegram)
    if "slack" in settings.platforms:
        from bot.adapters.slack import SlackAdapter

        adapters["slack"] = SlackAdapter(settings.slack)
    if not adapters:
        from bot.adapters.console import ConsoleAdapter

        adapters["console"] = ConsoleAdapter(read_stdin=True)
    return adapters


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
    ) -> None:
        self.settings = settings
        self.engine = make_engine(settings.database)
        self.store = Store(self.engine)
        self.rulebook = RuleBook(self.store, rule_settings(settings))
        self.fetcher = Fetcher(
            timeout=settings.fetch.timeout,
            max_bytes=settings.fetch.max_bytes,
            allow_private_addresses=settings.fetch.allow_private_addresses,
            user_agent=settings.fetch.user_agent,
            max_connections=settings.poll.concurrency,
        )
        self.summarizer = build_summarizer(settings)
        self.pipeline = FeedPipeline(
            self.store, self.fetcher, self.rulebook, self.summarizer, settings
        )
        self.adapters = dict(adapters) if adapters is not None else build_adapters(settings)
        self.service = CommandService(
            self.store, self.rulebook, settings, self.fetcher, on_feed_added=self.schedule_feed
        )
        self.dispatcher = Dispatcher(
            self.store,
            self.adapters,
            worker=f"{socket.gethostname()}:{os.getpid()}",
            follow_migration=self.service.follow_migration,
        )
        self.scheduler = Scheduler(jitter=settings.poll.jitter)
        self._poll_slots = asyncio.Semaphore(settings.poll.concurrency)
        self.health = (
            HealthServer(self.store, settings.health.listen, lambda: self._started)
            if health and settings.health.listen
            else None
        )
        self._started = False
        self._inflight: set[asyncio.Task[object]] = set()

    async def prepare(self) -> None:
        """Schema, config feeds and subscriptions, rule index: everything before polling."""
        await asyncio.to_thread(migrate, self.engine)
        await asyncio.to_thread(self.seed)
        await asyncio.to_thread(self.rulebook.load)

    async def start(self) -> None:
        await self.prepare()
        for adapter in self.adapters.values():
            await adapter.start(self.service)
        feed_ids = await asyncio.to_thread(self.store.active_feed_ids)
        for feed_id in feed_ids:
            self.schedule_feed(feed_id)
        await self.dispatcher.recover()
        self.scheduler.every("outbox", DISPATCH_EVERY, self._dispatch)
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
        await self._finish_inflight()
        await self.scheduler.shutdown()
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

    def schedule_feed(self, feed_id: int) -> None:
        feed = self.store.get_feed(feed_id)
        if feed is not None:
            self.scheduler.poll_feed(feed_id, self.pipeline.interval(feed), self._poll)

    async def _poll(self, feed_id: int) -> None:
        with self._tracked():
            async with self._poll_slots:
                await self.pipeline.poll(feed_id)

    async def _dispatch(self) -> None:
        with self._tracked():
            await self.dispatcher.run_once()

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

    async def _finish_inflight(self) -> None:
        """Let running polls and sends finish; past the deadline they are cancelled. A
        cancelled poll commits nothing (its feed is polled again after its claim lapses)."""
        pending = {t for t in self._inflight if t is not asyncio.current_task()}
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=self.settings.fetch.timeout + 5)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=5)

    async def _sync(self) -> None:
        """Pick up what other replicas changed (rules, feeds chats added there), and
        settle sends that a stopped replica left in flight."""
        await asyncio.to_thread(self.rulebook.sync)
        await self.dispatcher.recover()
        scheduled = {j for j in self.scheduler.job_ids() if j.startswith("feed:")}
        active = {f"feed:{i}": i for i in await asyncio.to_thread(self.store.active_feed_ids)}
        for job_id, feed_id in active.items():
            if job_id not in scheduled:
                await asyncio.to_thread(self.schedule_feed, feed_id)
        for job_id in scheduled - set(active):  # removed from every chat and the config
            self.scheduler.remove(job_id)
