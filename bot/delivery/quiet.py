"""Quiet hours: a daily span of local time in which alerts go out silently, or wait.

Stored as text, ``22:00-07:00`` (silent: alerts arrive without a notification sound) or
``22:00-07:00 hold`` (alerts wait until the span ends). A span may cross midnight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

_SPAN = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})(?:\s+(silent|hold))?$")


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily span ``start``-``end`` of local time; ``hold`` keeps alerts until its end."""

    start: time
    end: time
    hold: bool = False

    def __str__(self) -> str:
        span = f"{self.start:%H:%M}-{self.end:%H:%M}"
        return f"{span} hold" if self.hold else span

    def covers(self, moment: datetime, where: tzinfo) -> bool:
        """Whether ``moment`` falls in the span, as the clock in ``where`` reads then."""
        clock = moment.astimezone(where).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= clock < self.end
        return clock >= self.start or clock < self.end  # crosses midnight

    def ends_after(self, moment: datetime, where: tzinfo) -> datetime:
        """The first end of the span after ``moment`` (an aware time in ``moment``'s zone)."""
        local = moment.astimezone(where)
        for days in range(3):
            day = local.date() + timedelta(days=days)
            end = datetime.combine(day, self.end, tzinfo=where)
            if end.astimezone(moment.tzinfo) > moment:
                return end.astimezone(moment.tzinfo)
        raise AssertionError("unreachable: an end falls within two days")


def parse_quiet(text: str) -> QuietHours | None:
    """``off`` -> None; ``22:00-07:00`` or ``22:00-07:00 hold`` -> the span.

    Raises:
        ValueError: anything else, saying what to type.
    """
    words = " ".join(text.lower().split())
    if words == "off":
        return None
    match = _SPAN.match(words)
    if match:
        h1, m1, h2, m2 = (int(g) for g in match.group(1, 2, 3, 4))
        if h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60 and (h1, m1) != (h2, m2):
            return QuietHours(time(h1, m1), time(h2, m2), hold=match.group(5) == "hold")
    raise ValueError("use: quiet HH:MM-HH:MM, quiet HH:MM-HH:MM hold, or quiet off")


def stored_quiet(text: str | None) -> QuietHours | None:
    """The quiet hours stored as ``text`` (see :func:`parse_quiet`); None for none."""
    if not text:
        return None
    try:
        return parse_quiet(text)
    except ValueError:
        return None
