"""Cutting text to a length limit at a word boundary."""

from __future__ import annotations

ELLIPSIS = "…"

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
