"""Digest schedules: ``off``, ``hourly`` or ``daily HH:MM`` (the chat's local time)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo

_DAILY = re.compile(r"^daily (\d{1,2}):(\d{2})$")


def parse_digest(text: str) -> str:
    """Normalise a digest setting; raises ValueError with what to type instead."""
    words = " ".join(text.lower().split())
    if words in ("off", "hourly"):
        return words
    match = _DAILY.match(words)
    if match and int(match.group(1)) < 24 and int(match.group(2)) < 60:
        return f"daily {int(match.group(1)):02d}:{match.group(2)}"
    raise ValueError(
        "use: digest off, digest hourly, or digest daily HH:MM (24-hour time in the chat's zone)"
    )


def next_slot(mode: str, now: datetime, where: tzinfo = UTC) -> datetime:
    """When alerts queued ``now`` for a chat with this digest mode go out (in UTC).

    ``daily HH:MM`` is that time on the clock in ``where``, so it stays 08:00 there across
    daylight-saving changes; ``hourly`` is the next full hour there (zones off by half an
    hour have their own full hours).
    """
    local = now.astimezone(where)
    if mode == "hourly":
        top = local.replace(minute=0, second=0, microsecond=0)
        return _utc(top) + timedelta(hours=1)
    match = _DAILY.match(mode)
    if match:
        wanted = (int(match.group(1)), int(match.group(2)))
        for days in range(3):
            day = local.date() + timedelta(days=days)
            slot = _utc(datetime(day.year, day.month, day.day, *wanted, tzinfo=where))
            if slot > now:
                return slot
    return now


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
