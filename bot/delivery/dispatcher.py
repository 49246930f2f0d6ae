"""Sends queued alerts from the outbox, within each platform's limits.

Alerts are claimed one at a time right before the send, so a claim is a send in flight.
Each platform error becomes a decision: retry later, follow the chat, drop it, or stop.
A sent alert whose story then comes from another feed is edited to name it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from functools import partial

from aiolimiter import AsyncLimiter

from bot.delivery.platform import (
    AdapterFatal,
    ChatAdapter,
    ChatGone,
    ChatMigrated,
    PermanentError,
    RetryAfter,
    UncertainDelivery,
)
from bot.errors import DeliveryError
from bot.models import Chat, OutboxItem
from bot.store import Store, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 25  # with the backoff below, about 3 hours of trying


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff with jitter for transient failures: 2 s, 4 s, … capped at 10 min."""
    base = min(2.0**attempts, 600.0)
    return timedelta(seconds=base * random.uniform(0.8, 1.2))  # noqa: S311 - jitter only


class Dispatcher:
    """Drains the outbox through the platform adapters."""

    def __init__(
        self,
        store: Store,
        adapters: Mapping[str, ChatAdapter],
        *,
        worker: str,
        follow_migration: Callable[[str, str, str], Awaitable[None]],
        lease: timedelta = timedelta(seconds=30),
    ) -> None:
        """Args:
        store: Where the outbox lives.
        adapters: One adapter per platform name.
        worker: This process's name in claims (host:pid).
        follow_migration: Moves a chat to its new id, ``(platform, old, new)``; the
            command service's, which also updates the rule index.
        lease: How long a claim on an alert outlives this process (renewed meanwhile
            by the app's heartbeat).
        """
        self.lease = lease
        self.store = store
        self.follow_migration = follow_migration
        self.adapters = dict(adapters)
        self.worker = worker
        self._global: dict[str, AsyncLimiter] = {}
        self._stopped: set[str] = set()
        self._lock = asyncio.Lock()

    async def recover(self, *, everyone: bool = False) -> None:
        """Settle alerts whose sender died mid-send (see Store.recover_stale_claims):
        those whose claim lapsed, or with ``everyone`` all claimed ones (at the start of
        the only process)."""
        recovered = await asyncio.to_thread(
            partial(self.store.recover_stale_claims, utcnow(), everyone=everyone)
        )
        if recovered:
            log.warning("%d alerts were being sent when a sender stopped; not re-sent", recovered)

    async def run_once(self) -> int:
        """Send what is due now; returns how many messages went out."""
        async with self._lock:
            due = await asyncio.to_thread(self.store.due_alerts, utcnow(), 500)
            by_chat: dict[int, list[int]] = {}
            for alert_id, chat_pk in due:
                by_chat.setdefault(chat_pk, []).append(alert_id)
            chats = await asyncio.to_thread(self.store.chats_by_pk, by_chat)
            sent = 0
            for chat_pk, ids in by_chat.items():
                chat = chats.get(chat_pk)
                adapter = await self._turn(chat)
                if chat is None or adapter is None:
                    continue
                if chat.digest != "off":
                    sent += await self._send_digest(adapter, chat, ids)
                else:
                    sent += await self._send_one(adapter, ids[0])
            await self._edit_due()
            return sent

    async def _turn(self, chat: Chat | None) -> ChatAdapter | None:
        """The chat's adapter when it may take a message now (which then counts against
        its pacing and the platform's), else None."""
        adapter = self.adapters.get(chat.platform) if chat else None
        if chat is None or adapter is None or chat.platform in self._stopped:
            return None
        if not await self._may_send(adapter, chat):
            return None
        await self._global_limiter(adapter).acquire()
        return adapter

    async def _edit_due(self) -> None:
        """Edit sent alerts whose story has since come from other feeds, so their message
        names them under "also reported by"; paced like sends."""
        due = await asyncio.to_thread(self.store.due_edits, utcnow(), 100)
        if not due:
            return
        chats = await asyncio.to_thread(self.store.chats_by_pk, {pk for _, pk in due})
        for alert_id, chat_pk in due:
            adapter = await self._turn(chats.get(chat_pk))
            if adapter is not None:
                await self._edit_one(adapter, alert_id)

    async def _edit_one(self, adapter: ChatAdapter, alert_id: int) -> None:
        item = await asyncio.to_thread(
            self.store.claim_edit, alert_id, self.worker, utcnow(), self.lease
        )
        if item is None:
            return  # another replica took it
        shown = item.alert.also_reported_by
        context = {"chat": item.chat.chat_id, "platform": item.chat.platform, "alert": item.id}
        retry_at: datetime | None = None
        if item.message_id is not None and item.chat.active:
            try:
                await adapter.edit_alert(item.chat.chat_id, item.message_id, item.alert)
            except RetryAfter as exc:
                retry_at = utcnow() + timedelta(seconds=exc.seconds)
            except DeliveryError as exc:
                # The alert itself was delivered: an edit is not worth more than one try.
                log.warning("alert not updated with its other sources: %s", exc, extra=context)
            else:
                log.info("alert updated: also reported by %s", ", ".join(shown), extra=context)
        await asyncio.to_thread(partial(self.store.finish_edit, item.id, shown, retry_at=retry_at))

    async def _may_send(self, adapter: ChatAdapter, chat: Chat) -> bool:
        """Per-chat pacing, shared with every replica through the store: one message per
        interval, and a per-minute cap for groups."""
        limits = adapter.limits
        per_minute = limits.group_per_minute if adapter.is_group(chat.chat_id) else None
        return await asyncio.to_thread(
            self.store.take_turn, chat.id, utcnow(), limits.per_chat_interval, per_minute
        )

    def _global_limiter(self, adapter: ChatAdapter) -> AsyncLimiter:
        if adapter.platform not in self._global:
            self._global[adapter.platform] = AsyncLimiter(adapter.limits.global_per_second, 1)
        return self._global[adapter.platform]

    async def _send_one(self, adapter: ChatAdapter, alert_id: int) -> int:
        item = await asyncio.to_thread(
            self.store.claim_alert, alert_id, self.worker, utcnow(), self.lease
        )
        if item is None:
            return 0  # another replica took it
        if not (item.chat.active and item.chat.subscribed) or item.chat.muted(utcnow()):
            await asyncio.to_thread(
                self.store.finish_alert, item.id, "dropped", error="chat not receiving"
            )
            return 0
        try:
            message_id = await adapter.send_alert(item.chat.chat_id, item.alert)
        except DeliveryError as exc:
            await self._decide(item.chat, [item], exc)
            return 0
        # Sources named while it was in flight make it due for an edit at once.
        await asyncio.to_thread(
            partial(
                self.store.finish_alert,
                item.id,
                "sent",
                message_id=message_id,
                shown=item.alert.also_reported_by,
            )
        )
        log.info(
            "alert sent",
            extra={"chat": item.chat.chat_id, "platform": item.chat.platform, "alert": item.id},
        )
        return 1

    async def _send_digest(self, adapter: ChatAdapter, chat: Chat, ids: list[int]) -> int:
        items: list[OutboxItem] = []
        for alert_id in ids[:50]:
            item = await asyncio.to_thread(
                self.store.claim_alert, alert_id, self.worker, utcnow(), self.lease
            )
            if item is not None:
                items.append(item)
        if not items:
            return 0
        try:
            message_id = await adapter.send_digest(chat.chat_id, [i.alert for i in items])
        except DeliveryError as exc:
            await self._decide(chat, items, exc)
            return 0
        for item in items:
            await asyncio.to_thread(self.store.finish_alert, item.id, "sent", message_id=message_id)
        return 1

    async def _decide(self, chat: Chat, items: list[OutboxItem], exc: DeliveryError) -> None:
        """Turn a platform error into what happens to the alerts and the chat."""
        now = utcnow()
        context = {"chat": chat.chat_id, "platform": chat.platform}
        if isinstance(exc, RetryAfter):
            until = now + timedelta(seconds=exc.seconds)
            await self._finish(items, "pending", str(exc), not_before=until)
            await asyncio.to_thread(self.store.delay_chat_alerts, chat.id, until)
            log.warning("rate limited by %s: %s", chat.platform, exc, extra=context)
        elif isinstance(exc, ChatMigrated):
            await asyncio.to_thread(
                self.store.migrate_chat, chat.platform, chat.chat_id, exc.new_chat_id
            )
            await self._finish(items, "pending", str(exc), not_before=now)
            log.info(
                "chat %s moved to %s; rules follow it", chat.chat_id, exc.new_chat_id, extra=context
            )
        elif isinstance(exc, ChatGone):
            await asyncio.to_thread(
                self.store.update_chat, chat.id, active=False, inactive_reason=str(exc)
            )
            await self._finish(items, "dropped", str(exc))
            log.warning("chat %s deactivated: %s", chat.chat_id, exc, extra=context)
        elif isinstance(exc, UncertainDelivery):
            await self._finish(items, "uncertain", str(exc))
            log.warning("alert may or may not have arrived, not re-sent: %s", exc, extra=context)
        elif isinstance(exc, PermanentError):
            await self._finish(items, "failed", str(exc))
            log.error("alert refused by %s, given up: %s", chat.platform, exc, extra=context)
        elif isinstance(exc, AdapterFatal):
            self._stopped.add(chat.platform)
            await self._finish(items, "pending", str(exc), not_before=now)
            log.error("%s adapter stopped: %s", chat.platform, exc, extra=context)
        else:  # TransientError or anything unforeseen: keep the alert, back off
            attempts = max(i.attempts for i in items)
            if attempts >= MAX_ATTEMPTS:
                await self._finish(items, "failed", f"gave up after {attempts} attempts: {exc}")
                log.error("alert failed after %d attempts: %s", attempts, exc, extra=context)
            else:
                await self._finish(
                    items, "pending", str(exc), not_before=now + retry_delay(attempts)
                )
                log.warning("send failed, will retry: %s", exc, extra=context)

    async def _finish(
        self,
        items: list[OutboxItem],
        status: str,
        error: str,
        *,
        not_before: datetime | None = None,
    ) -> None:
        for item in items:
            await asyncio.to_thread(
                self.store.finish_alert, item.id, status, error=error, not_before=not_before
            )
