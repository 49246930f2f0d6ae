"""Counts over the whole database, read when Prometheus scrapes ``/metrics``.

Kept apart from :class:`~bot.store.Store`: these are read-only aggregates for operators,
not part of what the service does. The outbox count by status reads the whole table: a
scrape takes about 40 ms on SQLite and 80 ms on PostgreSQL with 200,000 alerts, growing
with the outbox (``benchmarks/scrape.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, case, func, select

from bot.models import OutboxStatus
from bot.store.schema import chats, feeds, outbox, rules


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    """Unsent alerts of one platform."""

    due: int  # may be sent now
    waiting: int  # held until later: a digest slot, a retry backoff, a platform's retry_after
    oldest_due_age: float  # seconds since the oldest due alert was queued; 0 when none is due


@dataclass(frozen=True, slots=True)
class StoreStats:
    """What the store holds right now."""

    alerts: dict[str, int]  # outbox rows by status
    backlog: dict[str, OutboxBacklog]  # by platform
    rules: int
    chats: dict[tuple[str, str], int]  # (platform, state) -> count
    feeds: dict[str, int]  # "ok" / "failing" -> count


def read_stats(engine: Engine, now: datetime) -> StoreStats:
    """Read every aggregate in one connection."""
    with engine.connect() as conn:
        alerts = {
            status: int(n)
            for status, n in conn.execute(
                select(outbox.c.status, func.count()).group_by(outbox.c.status)
            ).all()
        }
        due = case((outbox.c.not_before <= now, 1), else_=0)
        per_platform: dict[str, dict[int, tuple[int, datetime | None]]] = {}
        for platform, is_due, n, oldest in conn.execute(
            select(chats.c.platform, due, func.count(), func.min(outbox.c.created_at))
            .join(chats, chats.c.id == outbox.c.chat_pk)
            .where(outbox.c.status == OutboxStatus.PENDING)
            .group_by(chats.c.platform, due)
        ).all():
            per_platform.setdefault(platform, {})[int(is_due)] = (int(n), oldest)
        rule_count = int(conn.execute(select(func.count()).select_from(rules)).scalar_one())
        state = case(
            (chats.c.active.is_(False), "inactive"),
            (chats.c.subscribed.is_(True), "subscribed"),
            else_="unsubscribed",
        )
        chat_counts = {
            (platform, str(kind)): int(n)
            for platform, kind, n in conn.execute(
                select(chats.c.platform, state, func.count()).group_by(chats.c.platform, state)
            ).all()
        }
        health = case((feeds.c.error_count > 0, "failing"), else_="ok")
        feed_counts = {
            str(kind): int(n)
            for kind, n in conn.execute(select(health, func.count()).group_by(health)).all()
        }
    return StoreStats(
        alerts=alerts,
        # Every platform with chats, so a series reads 0 instead of vanishing when empty.
        backlog={
            p: _backlog(per_platform.get(p, {}), now)
            for p in {p for p, _ in chat_counts} | set(per_platform)
        },
        rules=rule_count,
        chats=chat_counts,
        feeds=feed_counts,
    )


def _backlog(groups: dict[int, tuple[int, datetime | None]], now: datetime) -> OutboxBacklog:
    due, oldest = groups.get(1, (0, None))
    waiting, _ = groups.get(0, (0, None))
    age = 0.0
    if oldest is not None:
        if oldest.tzinfo is None:  # SQLite hands back naive datetimes; all are UTC
            oldest = oldest.replace(tzinfo=UTC)
        age = max((now - oldest).total_seconds(), 0.0)
    return OutboxBacklog(due=due, waiting=waiting, oldest_due_age=age)
