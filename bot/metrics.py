"""Prometheus metrics for ``/metrics`` (prometheus-client).

Two kinds: counters and histograms this process updates as it works (polls, fetches,
sends), and gauges read from the database when Prometheus scrapes (outbox, alerts,
rules, chats, feeds), so every replica reports the same totals for the shared store.
Each :class:`Metrics` has its own registry: several apps in one process (tests) never
share a series.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.delivery.platform import ChatAdapter, RateLimits
from bot.errors import DeliveryError
from bot.store.stats import read_stats
from bot.store.store import utcnow

if TYPE_CHECKING:
    from bot.commands.service import CommandService
    from bot.delivery.alert import Alert
    from bot.feeds.pipeline import PollReport

log = logging.getLogger(__name__)

# Feed fetches take from tens of milliseconds to the fetch timeout (20 s by default).
FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
# A platform takes a message in 50-500 ms; retries and timeouts run to the send timeout.
SEND_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """One app's metrics and the registry ``/metrics`` serves."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.polls = Counter(
            "newsbot_polls",
            "Feed polls by outcome: ok, not_modified, error, skipped (not due: backing off "
            "after errors, or another replica polled it).",
            ["outcome"],
            registry=self.registry,
        )
        self.fetch_seconds = Histogram(
            "newsbot_fetch_duration_seconds",
            "Time to fetch one feed (kind=feed) or article page (kind=page), by outcome.",
            ["kind", "outcome"],
            buckets=FETCH_BUCKETS,
            registry=self.registry,
        )
        self.stories = Counter(
            "newsbot_stories_seen", "New stories recorded from feeds.", registry=self.registry
        )
        self.alerts_queued = Counter(
            "newsbot_alerts_queued", "Alerts written to the outbox.", registry=self.registry
        )
        self.send_seconds = Histogram(
            "newsbot_send_duration_seconds",
            "Time a platform took to answer one alert, digest or edit, by outcome "
            "(ok or the delivery error).",
            ["platform", "kind", "outcome"],
            buckets=SEND_BUCKETS,
            registry=self.registry,
        )

    def polled(self, report: PollReport) -> None:
        """Count one finished poll."""
        self.polls.labels(report.status).inc()
        self.stories.inc(report.new)
        self.alerts_queued.inc(report.alerts)

    def fetched(self, kind: str, outcome: str, seconds: float) -> None:
        """Observe one fetch; the :class:`~bot.feeds.fetch.Fetcher` calls it."""
        self.fetch_seconds.labels(kind, outcome).observe(seconds)

    def read_store(self, engine: Engine) -> None:
        """Report the database's counts at every scrape."""
        self.registry.register(StoreCollector(engine))

    def timed(self, adapter: ChatAdapter) -> ChatAdapter:
        """``adapter`` with its sends and edits timed."""
        return TimedAdapter(adapter, self.send_seconds)

    def exposition(self) -> bytes:
        """The Prometheus text format of every series (reads the database: call it off the
        event loop)."""
        return generate_latest(self.registry)


class StoreCollector(Collector):
    """Gauges read from the database at scrape time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        try:
            stats = read_stats(self.engine, utcnow())
        except SQLAlchemyError as exc:
            # The process's own series still go out; this one says why the rest is missing.
            log.warning("metrics: the database cannot be read: %s", type(exc).__name__)
            yield _database_up(0)
            return
        yield _database_up(1)
        alerts = GaugeMetricFamily(
            "newsbot_alerts",
            "Alerts in the outbox by status: pending, sending, sent, outdated and editing "
            "(sent, being updated with more sources), failed, dropped, uncertain.",
            labels=["status"],
        )
        for status, n in sorted(stats.alerts.items()):
            alerts.add_metric([status], n)
        depth = GaugeMetricFamily(
            "newsbot_outbox_depth",
            "Unsent alerts by platform: due (may be sent now) or waiting (for a digest "
            "slot, a retry or the platform's retry_after).",
            labels=["platform", "due"],
        )
        age = GaugeMetricFamily(
            "newsbot_outbox_oldest_due_age_seconds",
            "Seconds since the oldest alert that is due now was queued (0 when none is due).",
            labels=["platform"],
        )
        for platform, backlog in sorted(stats.backlog.items()):
            depth.add_metric([platform, "yes"], backlog.due)
            depth.add_metric([platform, "no"], backlog.waiting)
            age.add_metric([platform], backlog.oldest_due_age)
        chats = GaugeMetricFamily(
            "newsbot_chats",
            "Chats by platform and state: subscribed, unsubscribed, inactive (blocked or "
            "removed the bot).",
            labels=["platform", "state"],
        )
        for (platform, state), n in sorted(stats.chats.items()):
            chats.add_metric([platform, state], n)
        feeds = GaugeMetricFamily(
            "newsbot_feeds",
            "Feeds by state: ok, or failing (its last poll failed).",
            labels=["state"],
        )
        for state in ("ok", "failing"):
            feeds.add_metric([state], stats.feeds.get(state, 0))
        yield alerts
        yield depth
        yield age
        yield GaugeMetricFamily("newsbot_rules", "Watch rules of every chat.", value=stats.rules)
        yield chats
        yield feeds


def _database_up(value: int) -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "newsbot_database_up", "1 when this scrape could read the database, else 0.", value=value
    )


class TimedAdapter:
    """A :class:`ChatAdapter` whose sends and edits are observed in a histogram."""

    def __init__(self, adapter: ChatAdapter, seconds: Histogram) -> None:
        self.adapter = adapter
        self.platform: str = adapter.platform
        self.limits: RateLimits = adapter.limits
        self._seconds = seconds

    async def start(self, service: CommandService) -> None:
        await self.adapter.start(service)

    async def stop(self) -> None:
        await self.adapter.stop()

    async def connection_problem(self) -> str | None:
        return await self.adapter.connection_problem()

    async def send_alert(self, chat_id: str, alert: Alert) -> str | None:
        with self._timed("alert"):
            return await self.adapter.send_alert(chat_id, alert)

    async def send_digest(self, chat_id: str, alerts: list[Alert]) -> str | None:
        with self._timed("digest"):
            return await self.adapter.send_digest(chat_id, alerts)

    async def edit_alert(self, chat_id: str, message_id: str, alert: Alert) -> None:
        with self._timed("edit"):
            await self.adapter.edit_alert(chat_id, message_id, alert)

    def is_group(self, chat_id: str) -> bool:
        return self.adapter.is_group(chat_id)

    @contextlib.contextmanager
    def _timed(self, kind: str) -> Iterator[None]:
        """Observe the block's time, labelled ``ok`` or the delivery error's class."""
        outcome = "error"
        started = time.perf_counter()
        try:
            yield
            outcome = "ok"
        except DeliveryError as exc:
            outcome = type(exc).__name__
            raise
        finally:
            elapsed = time.perf_counter() - started
            self._seconds.labels(self.platform, kind, outcome).observe(elapsed)
