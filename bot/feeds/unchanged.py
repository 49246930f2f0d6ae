"""The outcomes of polls that found their feeds unchanged, written in batches.

Most polls find nothing new: a 304, or the very bytes parsed last time. Such a poll only
has to say when the feed is next due, keep the validators and clear the error count.
Written one transaction per poll, the commit cost as much as the request; here the
outcomes of a tick's unchanged feeds wait in memory and are written together, one
statement executed for all of them, by the next tick (and on stop).

Nothing is lost by waiting: until its outcome is written, a feed keeps its claim and its
old ``next_poll_at``. After a crash the claim is released (SQLite, at the start) or lapses
(PostgreSQL, after ``poll.lease``), and the feed, still due, is polled again: one more
conditional request.
"""

from __future__ import annotations

import asyncio

from bot.models import Unchanged
from bot.store import Store


class UnchangedBatch:
    """Unchanged feeds' outcomes, waiting to be written by :meth:`flush`."""

    def __init__(self, store: Store, worker: str) -> None:
        """Args:
        store: Where the outcomes are written.
        worker: The claim holder; an outcome is written only while it holds the feed.
        """
        self._store = store
        self._worker = worker
        self._pending: list[Unchanged] = []

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, outcome: Unchanged) -> None:
        """Keep ``outcome`` for the next :meth:`flush`."""
        self._pending.append(outcome)

    async def flush(self) -> int:
        """Write every outcome kept so far in one transaction; returns how many.

        Outcomes added while it writes wait for the next flush. When the write fails the
        outcomes are dropped: their feeds are polled again once their claims lapse.
        """
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.to_thread(self._store.record_unchanged, self._worker, pending)
        return len(pending)
