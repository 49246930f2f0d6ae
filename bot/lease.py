"""A lease in the store on work that one replica at a time may do (Telegram's getUpdates).

The holder renews it every quarter lease; when the holder dies its lease lapses and
another replica takes it at its next beat, so a takeover happens within about 1¼ leases.
A holder that cannot reach the database to renew gives the work up a beat before its
lease could lapse, so two replicas never do the work at once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.exc import SQLAlchemyError

from bot.store import Store, utcnow

log = logging.getLogger(__name__)


class Lease:
    """The lease ``name`` as seen by one replica (``holder``)."""

    def __init__(self, store: Store, name: str, holder: str, duration: timedelta) -> None:
        """Args:
        store: Where the lease is kept, shared by every replica.
        name: What the lease is on.
        holder: This replica's name (its worker id).
        duration: How long the lease outlives a holder that stops renewing it.
        """
        self.store = store
        self.name = name
        self.holder = holder
        self.duration = duration
        self._held_until: datetime | None = None

    @property
    def beat(self) -> float:
        """Seconds between two looks at the lease: a quarter of it."""
        return self.duration.total_seconds() / 4

    async def hold(self) -> bool:
        """Take or renew the lease; whether this replica holds it now.

        When the database does not answer, the lease counts as held while it surely
        is: until a beat before it would lapse.
        """
        now = utcnow()
        until = now + self.duration
        try:
            held = await asyncio.to_thread(
                partial(self.store.take_lease, self.name, self.holder, until, now)
            )
        except SQLAlchemyError as exc:
            log.warning(
                "lease %s: the database did not answer (%s)",
                self.name,
                " ".join(str(getattr(exc, "orig", None) or exc).split()),
            )
            margin = timedelta(seconds=self.beat)
            return self._held_until is not None and utcnow() < self._held_until - margin
        self._held_until = until if held else None
        return held

    async def release(self) -> None:
        """Give the lease up (this replica stops): another takes it at its next beat."""
        if self._held_until is None:
            return
        self._held_until = None
        try:
            await asyncio.to_thread(self.store.release_lease, self.name, self.holder)
        except SQLAlchemyError as exc:
            log.warning("lease %s not released (%s); it lapses on its own", self.name, exc)
