"""Digest schedules: ``off``, ``hourly`` or ``daily HH:MM`` (UTC)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

_DAILY = re.compile(r"^daily (\d{1,2}):(\d{2})$")


def parse_digest(text: str) -> str:
    """Normalise a digest setting; raises ValueError with what to type instead."""
    words = " ".join(text.lower().split())
    if words in ("off", "hourly"):
        return words
    match = _DAILY.match(words)
    if match and int(match.group(1)) < 24 and int(match.group(2)) < 60:
        return f"daily {int(match.group(1)):02d}:{match.group(2)}"
    raise ValueError("use: digest off, digest hourly, or digest daily HH:MM (24-hour UTC time)")


def next_slot(mode: str, now: datetime) -> datetime:
    """When alerts queued ``now`` for a chat with this digest mode go out."""
    if mode == "hourly":
        return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    match = _DAILY.match(mode)
    if match:
        slot = now.replace(
            hour=int(match.group(1)), minute=int(match.group(2)), second=0, microsecond=0
        )
        return slot if slot > now else slot + timedelta(days=1)
    return now
