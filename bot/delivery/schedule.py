"""When a chat's alert goes out, and how it shows: its digest slot, its quiet hours and
its time zone, applied to alerts as they are queued and as they are sent."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from bot.delivery.alert import Alert
from bot.delivery.digest import next_slot
from bot.delivery.quiet import stored_quiet
from bot.delivery.zones import zone
from bot.models import Chat


def not_before(chat: Chat, now: datetime) -> datetime:
    """When an alert queued ``now`` may go out: the chat's next digest slot, moved to the
    end of its quiet hours when those hold alerts and the slot falls inside them."""
    where = zone(chat.timezone)
    due = next_slot(chat.digest, now, where)
    quiet = stored_quiet(chat.quiet)
    if quiet is not None and quiet.hold and quiet.covers(due, where):
        return quiet.ends_after(due, where)
    return due


def for_chat(alert: Alert, chat: Chat, now: datetime) -> Alert:
    """The alert as the chat gets it ``now``: its time read in the chat's zone, and
    silent when ``now`` is in the chat's quiet hours."""
    quiet = stored_quiet(chat.quiet)
    where = zone(chat.timezone)
    published = alert.published.astimezone(where) if alert.published else None
    silent = quiet is not None and quiet.covers(now, where)
    return dataclasses.replace(alert, published=published, silent=silent)
