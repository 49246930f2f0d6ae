"""Cutting text, and a summary's key points, to a length limit at a word boundary."""

from __future__ import annotations

from collections.abc import Iterable

ELLIPSIS = "…"
# A point cut shorter than this says nothing ("The minister…"); it is left out instead.
MIN_CUT_POINT = 40

# Below this share of the limit we would rather cut mid-word than throw most of the
# text away (e.g. one enormous URL-like token right at the start).
_MIN_KEEP_RATIO = 0.5


def clip_text(text: str, limit: int) -> str:
    """Shorten ``text`` to at most ``limit`` characters, ending in "…" when cut.

    The cut happens at the last whitespace that fits, so words are never split
    unless a single word is longer than half the limit. Trailing punctuation
    left dangling by the cut (",", ";", ":") is dropped before the ellipsis.

    Args:
        text: Plain text.
        limit: Maximum length of the result in characters, ellipsis included.

    Returns:
        ``text`` unchanged when it fits, otherwise its clipped form.
    """
    text = text.strip()
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ELLIPSIS[:limit] if limit > 0 else ""
    room = limit - len(ELLIPSIS)
    head = text[: room + 1]
    cut = head.rfind(" ")
    head = head[:cut] if cut >= room * _MIN_KEEP_RATIO else text[:room]
    return head.rstrip(" ,;:-–—") + ELLIPSIS


def clip_points(points: Iterable[str], limit: int, point_limit: int) -> tuple[str, ...]:
    """Key points cut to fit ``limit`` characters in all, one separator between points.

    Each point is first cut to ``point_limit``. The point that does not fit in what
    is left is cut at a word with "…", or left out when the cut would keep less than
    ``MIN_CUT_POINT`` characters of it (unless it is the only point); the points
    after it are dropped.

    Args:
        points: Plain-text points in the order they are shown.
        limit: Most characters of all points together, plus one between each two.
        point_limit: Most characters of any one point.

    Returns:
        The points that fit, the last one possibly cut.
    """
    kept: list[str] = []
    room = limit
    for point in points:
        point = clip_text(point, point_limit)
        if kept:
            room -= 1  # the separator
        if len(point) <= room:
            kept.append(point)
            room -= len(point)
            continue
        cut = clip_text(point, room) if room > 0 else ""
        if cut and (len(cut) >= MIN_CUT_POINT or not kept):
            kept.append(cut)
        break
    return tuple(kept)
