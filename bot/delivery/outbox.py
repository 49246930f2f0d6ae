"""The outbox as a state machine: every status change of an alert, each a named function.

::

    pending ──claim_send──► sending ──sent──────► sent ──name_source──► outdated
       ▲                      │ ──retry─────► pending (later)               │
       └──────────────────────┘ ──fail──────► failed                   claim_edit
                                ──uncertain─► uncertain                     ▼
                                ──drop──────► dropped                    editing
                                                                 edited ─► sent (outdated if
                                                                           named meanwhile)
                                                             retry_edit ─► outdated (later)
                                                           give_up_edit ─► sent

A claim whose worker died lapses (:func:`settle_lapsed`): a send becomes ``uncertain``
(it may have arrived: at most once), an edit is due again (an edit shows once however
often it is made). The store runs the queries; the decisions are here. Functions are
synchronous, for ``asyncio.to_thread``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.models import OutboxItem, OutboxStatus, Summary
from bot.store import Store, utcnow

S = OutboxStatus


def due_sends(store: Store, now: datetime, limit: int) -> list[tuple[int, int]]:
    """(alert id, chat pk) of alerts waiting to be sent now."""
    return store.due_alerts(S.PENDING, now, limit)


def due_edits(store: Store, now: datetime, limit: int) -> list[tuple[int, int]]:
    """(alert id, chat pk) of sent alerts whose message is to name more sources."""
    return store.due_alerts(S.OUTDATED, now, limit)


def reschedule_waiting(store: Store, chat_pk: int, now: datetime, at: datetime) -> int:
    """pending → pending due ``at``: alerts the chat's schedule held (a digest slot, quiet
    hours) follow a change of that schedule. Returns how many moved."""
    return store.reschedule_alerts(chat_pk, S.PENDING, now, at)


def claim_send(store: Store, alert_id: int, worker: str, until: datetime) -> OutboxItem | None:
    """pending → sending, one more attempt counted; None if another worker took it."""
    return store.claim_alert(alert_id, S.PENDING, S.SENDING, worker, until, count="attempts")


def sent(store: Store, item: OutboxItem, message_id: str | None) -> None:
    """sending → sent; then sent → outdated when a source was named while it was in
    flight (its message shows fewer than the alert has now)."""
    store.settle_alert(item.id, S.SENT, message_id=message_id, sent_at=utcnow())
    if message_id:
        _outdate_if_named_since(store, item.id, item.alert.also_reported_by)


def _outdate_if_named_since(store: Store, alert_id: int, shown: Sequence[str]) -> None:
    # Checked after the status is written, and name_source checks after the names are:
    # whichever comes second sees the other, so no name is left out of the message.
    if store.alert_sources(alert_id) != tuple(shown):
        store.move_alert(alert_id, S.SENT, S.OUTDATED, alone=True)


def sent_in_digest(store: Store, item: OutboxItem, message_id: str | None) -> None:
    """sending → sent, as one of a digest's alerts (a digest is never edited)."""
    store.settle_alert(item.id, S.SENT, message_id=message_id, sent_at=utcnow())


def retry(store: Store, item: OutboxItem, error: str, at: datetime) -> None:
    """sending → pending, due again at ``at``."""
    store.settle_alert(item.id, S.PENDING, error=error, not_before=at)


def fail(store: Store, item: OutboxItem, error: str) -> None:
    """sending → failed: refused for good, or out of attempts."""
    store.settle_alert(item.id, S.FAILED, error=error)


def uncertain(store: Store, item: OutboxItem, error: str) -> None:
    """sending → uncertain: it may have arrived, so it is never sent again."""
    store.settle_alert(item.id, S.UNCERTAIN, error=error)


def drop(store: Store, item: OutboxItem, error: str) -> None:
    """sending → dropped: the chat no longer receives alerts."""
    store.settle_alert(item.id, S.DROPPED, error=error)


def hold_chat(store: Store, chat_pk: int, until: datetime) -> None:
    """Every pending alert of the chat waits until ``until`` (the platform said so)."""
    store.delay_chat_alerts(chat_pk, S.PENDING, until)


def name_source(store: Store, chat_pk: int, fingerprint: str, label: str) -> bool:
    """The chat's alert with this key (its story's fingerprint, or its news event's)
    names ``label`` under "also reported by"; an alert sent with a message of its own
    then goes sent → outdated, so its message is edited (a digest's message is not).
    Returns whether the name was new."""
    alert = store.story_alert(chat_pk, fingerprint)
    if alert is None or label == alert.source or not store.add_source(alert.id, label):
        return False
    store.move_alert(alert.id, S.SENT, S.OUTDATED, alone=True)
    return True


def fuller_summary(
    store: Store, chat_pk: int, fingerprint: str, summary: Summary, chars: int
) -> bool:
    """A pending alert with this key takes ``summary`` when it was written from more
    text (``chars``) than its own: an event's summary comes from its fullest report.
    Once sent, an alert keeps the summary its message shows (an edit only names
    sources). Returns whether the summary was replaced."""
    return store.replace_summary(chat_pk, fingerprint, S.PENDING, summary, chars)


def claim_edit(store: Store, alert_id: int, worker: str, until: datetime) -> OutboxItem | None:
    """outdated → editing, one more edit attempt counted; None if another worker took it."""
    return store.claim_alert(alert_id, S.OUTDATED, S.EDITING, worker, until, count="edit_attempts")


def edited(store: Store, item: OutboxItem, shown: Sequence[str]) -> None:
    """editing → sent; then sent → outdated when another source was named meanwhile."""
    store.settle_alert(item.id, S.SENT)
    _outdate_if_named_since(store, item.id, shown)


def retry_edit(store: Store, item: OutboxItem, error: str, at: datetime) -> None:
    """editing → outdated, due again at ``at``."""
    store.settle_alert(item.id, S.OUTDATED, error=error, not_before=at)


def give_up_edit(store: Store, item: OutboxItem, error: str) -> None:
    """editing → sent: the alert was delivered; its message keeps the sources it shows."""
    store.settle_alert(item.id, S.SENT, error=error)


def settle_lapsed(store: Store, now: datetime, *, everyone: bool = False) -> int:
    """Claims whose worker died (lease run out, or all with ``everyone``): sending →
    uncertain, editing → outdated. Returns how many sends became uncertain."""
    store.settle_lapsed_claims(S.EDITING, S.OUTDATED, now, everyone=everyone)
    return store.settle_lapsed_claims(
        S.SENDING, S.UNCERTAIN, now, everyone=everyone, error="sender stopped during the send"
    )
