"""When a feed is polled next: on its own phase of the interval.

Every feed polled "an interval after the last poll began" keeps whatever phase its first
poll had, and first polls all happen at once (a start, a new database, the end of an
outage): the polls of a whole fleet of feeds would come in one burst per interval. Instead
each feed has a fixed phase, its offset in the interval, and is polled on the slots
``phase + k × interval`` (Unix time), so that at any moment about N / interval feeds are
due, whatever happened before. A feed polled late (a cold start, a catch-up) is polled next
on its following slot: sooner than a whole interval, never later.

``poll.jitter`` moves each feed's slots by a fixed amount of up to that much, also drawn
from its id: two polls of a feed stay exactly one interval apart, so a story waits at most
an interval for the poll that finds it.
"""

from __future__ import annotations

from datetime import UTC, datetime

# The golden ratio's fractional part: the phases of ids 1, 2, 3, … fall each in the largest
# gap left by the ones before (Fibonacci hashing), so any run of ids, and the ids of any one
# replica's feeds, spread evenly over the interval; a cryptographic hash would clump by chance.
_GOLDEN = 0.6180339887498949
# Another irrational (the silver ratio's), for the jitter: unrelated to the phase.
_SILVER = 0.41421356237309503
_MARGIN = 0.001  # seconds


def phase(feed_id: int, interval: float, jitter: float = 0.0) -> float:
    """The feed's offset in its interval, in seconds (0 <= phase < interval), moved by
    its share of ``jitter``."""
    shift = (feed_id * _SILVER) % 1.0 * min(jitter, interval)
    return ((feed_id * _GOLDEN) % 1.0 * interval + shift) % interval


def next_poll(feed_id: int, interval: float, began: datetime, jitter: float = 0.0) -> datetime:
    """The feed's first slot after a poll that began at ``began``.

    A poll that began on its slot is next due exactly one interval later.

    Args:
        feed_id: The feed; it fixes the phase.
        interval: Seconds between the feed's polls.
        began: When the poll began.
        jitter: The feed's slots are moved by a fixed part of this many seconds (0: none).
    """
    offset = phase(feed_id, interval, jitter)
    # The first slot at least a millisecond after ``began``: a poll that began on its slot
    # (to the microsecond a datetime keeps) must not find that same slot due again.
    turns = (began.timestamp() + _MARGIN - offset) // interval + 1
    return datetime.fromtimestamp(offset + turns * interval, UTC)
