"""Sends queued alerts from the outbox, within each platform's limits.

Alerts are claimed one at a time right before the send, so a claim is a send in flight.
Every error of a send or an edit reaches one funnel (:meth:`Dispatcher._settle`): a
platform's decision (retry later, follow the chat, drop it, stop), an unforeseen error
before the request left (retried with backoff, counted against the attempt cap), or a
request that may have reached the platform (``uncertain`` at once). The drain goes on
with the next alert. Status changes are :mod:`bot.delivery.outbox`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import timedelta
from functools import partial

from bot.delivery import outbox
from bot.delivery.platform import (
    AdapterFatal,
    ChatAdapter,
    ChatGone,
    ChatMigrated,
    PermanentError,
    RetryAfter,
    TransientError,
    UncertainDelivery,
)
from bot.delivery.schedule import for_chat
from bot.errors import DeliveryError
from bot.i18n import speaking
from bot.models import Chat, OutboxItem
from bot.store import Store, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 25  # with the backoff below, about 3 hours of trying
MAX_EDIT_ATTEMPTS = 8  # an edit only adds a source's name: about 8 minutes of trying


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
        worker: This process's name in claims.
        follow_migration: Moves a chat to its new id, ``(platform, old, new)``; the
            command service's, which also updates the rule index.
        lease: How long a claim on an alert outlives this process (renewed meanwhile
            by the app's heartbeat).
        """
        self.store = store
        self.follow_migration = follow_migration
        self.adapters = dict(adapters)
        self.worker = worker
        self.lease = lease
        self.in_flight: set[int] = set()  # alerts claimed here, for the heartbeat to renew
        self._stopped: set[str] = set()
        self._lock = asyncio.Lock()

    async def recover(self, *, everyone: bool = False) -> None:
        """Settle alerts whose sender died mid-send (see :func:`outbox.settle_lapsed`):
        those whose claim lapsed, or with ``everyone`` all claimed ones (at the start of
        the only process)."""
        recovered = await asyncio.to_thread(
            partial(outbox.settle_lapsed, self.store, utcnow(), everyone=everyone)
        )
        if recovered:
            log.warning("%d alerts were being sent when a sender stopped; not re-sent", recovered)

    async def run_once(self) -> int:
        """Send what is due now; returns how many messages went out."""
        async with self._lock:
            due = await asyncio.to_thread(outbox.due_sends, self.store, utcnow(), 500)
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
        await self._platform_slot(adapter)
        return adapter

    async def _may_send(self, adapter: ChatAdapter, chat: Chat) -> bool:
        """Per-chat pacing, shared with every replica through the store: one message per
        interval, and a per-minute cap for groups."""
        limits = adapter.limits
        per_minute = limits.group_per_minute if adapter.is_group(chat.chat_id) else None
        return await asyncio.to_thread(
            self.store.take_turn, chat.id, utcnow(), limits.per_chat_interval, per_minute
        )

    async def _platform_slot(self, adapter: ChatAdapter) -> None:
        """Wait for the platform's next message slot. The rate (Telegram: 30 a second)
        is the bot's, whatever the number of replicas, so the slots are reserved in the
        store, shared by all of them."""
        gap = 1.0 / adapter.limits.global_per_second
        wait = await asyncio.to_thread(
            self.store.reserve_send_slot, adapter.platform, utcnow(), gap
        )
        if wait:
            await asyncio.sleep(wait)

    @contextlib.contextmanager
    def _holding(self, alert_ids: list[int]) -> Iterator[None]:
        """Marks alerts as worked on here while their claims are held (or about to be),
        so the heartbeat renews those claims and no others."""
        self.in_flight.update(alert_ids)
        try:
            yield
        finally:
            self.in_flight.difference_update(alert_ids)

    async def _claim(self, alert_id: int) -> OutboxItem | None:
        return await asyncio.to_thread(
            outbox.claim_send, self.store, alert_id, self.worker, utcnow() + self.lease
        )

    async def _send_one(self, adapter: ChatAdapter, alert_id: int) -> int:
        with self._holding([alert_id]):
            return await self._send_claimed(adapter, alert_id)

    async def _send_claimed(self, adapter: ChatAdapter, alert_id: int) -> int:
        item = await self._claim(alert_id)
        if item is None:
            return 0  # another replica took it
        if not (item.chat.active and item.chat.subscribed) or item.chat.muted(utcnow()):
            await asyncio.to_thread(outbox.drop, self.store, item, "chat not receiving")
            return 0
        try:
            alert = for_chat(item.alert, item.chat, utcnow())
            with speaking(item.chat.speaks):  # the alert's labels and buttons
                message_id = await adapter.send_alert(item.chat.chat_id, alert)
        except Exception as exc:
            await self._settle(item.chat, [item], exc)
            return 0
        await asyncio.to_thread(outbox.sent, self.store, item, message_id)
        log.info("alert sent", extra=_context(item.chat, item.id))
        return 1

    async def _send_digest(self, adapter: ChatAdapter, chat: Chat, ids: list[int]) -> int:
        with self._holding(ids[:50]):
            return await self._send_digest_claimed(adapter, chat, ids[:50])

    async def _send_digest_claimed(self, adapter: ChatAdapter, chat: Chat, ids: list[int]) -> int:
        items = [item for alert_id in ids if (item := await self._claim(alert_id))]
        if not items:
            return 0
        try:
            alerts = [for_chat(i.alert, chat, utcnow()) for i in items]
            with speaking(chat.speaks):
                message_id = await adapter.send_digest(chat.chat_id, alerts)
        except Exception as exc:
            await self._settle(chat, items, exc)
            return 0
        for item in items:
            await asyncio.to_thread(outbox.sent_in_digest, self.store, item, message_id)
        return 1

    async def _settle(self, chat: Chat, items: list[OutboxItem], exc: Exception) -> None:
        """The funnel of every failed send: what happens to the alerts and the chat.

        Adapters turn platform errors into a :class:`DeliveryError` (an error once the
        request may have reached the platform is :class:`UncertainDelivery`); anything
        else is unforeseen and happened before the request left, so it is retried with
        backoff against the attempt cap, and logged with its traceback."""
        context = _context(chat)
        if isinstance(exc, DeliveryError):
            await self._decide(chat, items, exc)
            return
        log.error("sending failed unexpectedly: %r", exc, exc_info=exc, extra=context)
        await self._retry_or_fail(chat, items, f"unexpected error: {exc!r}")

    async def _decide(self, chat: Chat, items: list[OutboxItem], exc: DeliveryError) -> None:
        """Turn a platform's decision into what happens to the alerts and the chat."""
        now = utcnow()
        context = _context(chat)
        error = str(exc)
        if isinstance(exc, RetryAfter):
            until = now + timedelta(seconds=exc.seconds)
            await self._each(outbox.retry, items, error, until)
            await asyncio.to_thread(outbox.hold_chat, self.store, chat.id, until)
            log.warning("rate limited by %s: %s", chat.platform, exc, extra=context)
        elif isinstance(exc, ChatMigrated):
            await asyncio.to_thread(
                self.store.migrate_chat, chat.platform, chat.chat_id, exc.new_chat_id
            )
            await self._each(outbox.retry, items, error, now)
            log.info(
                "chat %s moved to %s; rules follow it", chat.chat_id, exc.new_chat_id, extra=context
            )
        elif isinstance(exc, ChatGone):
            await asyncio.to_thread(
                self.store.update_chat, chat.id, active=False, inactive_reason=error
            )
            await self._each(outbox.drop, items, error)
            log.warning("chat %s deactivated: %s", chat.chat_id, exc, extra=context)
        elif isinstance(exc, UncertainDelivery):
            await self._each(outbox.uncertain, items, error)
            log.warning(
                "alert may or may not have arrived, not re-sent: %s",
                exc,
                exc_info=exc,
                extra=context,
            )
        elif isinstance(exc, PermanentError):
            await self._each(outbox.fail, items, error)
            log.error("alert refused by %s, given up: %s", chat.platform, exc, extra=context)
        elif isinstance(exc, AdapterFatal):
            self._stopped.add(chat.platform)
            await self._each(outbox.retry, items, error, now)
            log.error("%s adapter stopped: %s", chat.platform, exc, extra=context)
        else:  # TransientError: keep the alert, back off
            log.warning("send failed, will retry: %s", exc, extra=context)
            await self._retry_or_fail(chat, items, error)

    async def _retry_or_fail(self, chat: Chat, items: list[OutboxItem], error: str) -> None:
        attempts = max(i.attempts for i in items)
        if attempts >= MAX_ATTEMPTS:
            await self._each(outbox.fail, items, f"gave up after {attempts} attempts: {error}")
            log.error("alert failed after %d attempts: %s", attempts, error, extra=_context(chat))
        else:
            await self._each(outbox.retry, items, error, utcnow() + retry_delay(attempts))

    async def _each(
        self, transition: Callable[..., None], items: list[OutboxItem], *args: object
    ) -> None:
        for item in items:
            await asyncio.to_thread(transition, self.store, item, *args)

    async def _edit_due(self) -> None:
        """Edit sent alerts whose story has since come from other feeds, so their message
        names them under "also reported by"; paced like sends."""
        due = await asyncio.to_thread(outbox.due_edits, self.store, utcnow(), 100)
        if not due:
            return
        chats = await asyncio.to_thread(self.store.chats_by_pk, {pk for _, pk in due})
        for alert_id, chat_pk in due:
            adapter = await self._turn(chats.get(chat_pk))
            if adapter is not None:
                await self._edit_one(adapter, alert_id)

    async def _edit_one(self, adapter: ChatAdapter, alert_id: int) -> None:
        with self._holding([alert_id]):
            await self._edit_claimed(adapter, alert_id)

    async def _edit_claimed(self, adapter: ChatAdapter, alert_id: int) -> None:
        item = await asyncio.to_thread(
            outbox.claim_edit, self.store, alert_id, self.worker, utcnow() + self.lease
        )
        if item is None:
            return  # another replica took it
        shown = item.alert.also_reported_by
        context = _context(item.chat, item.id)
        if item.message_id is None or not item.chat.active:
            await asyncio.to_thread(outbox.give_up_edit, self.store, item, "chat not receiving")
            return
        try:
            alert = for_chat(item.alert, item.chat, utcnow())
            with speaking(item.chat.speaks):
                await adapter.edit_alert(item.chat.chat_id, item.message_id, alert)
        except Exception as exc:
            await self._settle_edit(item, exc)
            return
        await asyncio.to_thread(outbox.edited, self.store, item, shown)
        log.info("alert updated: also reported by %s", ", ".join(shown), extra=context)

    async def _settle_edit(self, item: OutboxItem, exc: Exception) -> None:
        """The funnel of every failed edit. The alert itself was delivered, so an edit is
        retried only while it may still go through, and at most ``MAX_EDIT_ATTEMPTS``."""
        context = _context(item.chat, item.id)
        error = str(exc) if isinstance(exc, DeliveryError) else f"unexpected error: {exc!r}"
        if isinstance(exc, RetryAfter):
            at = utcnow() + timedelta(seconds=exc.seconds)
            await asyncio.to_thread(outbox.retry_edit, self.store, item, error, at)
            return
        retryable = isinstance(exc, TransientError) or not isinstance(exc, DeliveryError)
        if not isinstance(exc, DeliveryError):
            log.error("editing failed unexpectedly: %r", exc, exc_info=exc, extra=context)
        if retryable and item.edit_attempts < MAX_EDIT_ATTEMPTS:
            at = utcnow() + retry_delay(item.edit_attempts)
            await asyncio.to_thread(outbox.retry_edit, self.store, item, error, at)
            return
        await asyncio.to_thread(outbox.give_up_edit, self.store, item, error)
        log.warning("alert not updated with its other sources: %s", error, extra=context)


def _context(chat: Chat, alert_id: int | None = None) -> dict[str, object]:
    """The log keys of a send."""
    context: dict[str, object] = {"chat": chat.chat_id, "platform": chat.platform}
    if alert_id is not None:
        context["alert"] = alert_id
    return context
