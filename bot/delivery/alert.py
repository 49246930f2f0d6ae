"""The content of an alert, before any platform renders it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.delivery.zones import local_label
from bot.models import Summary


@dataclass(frozen=True, slots=True)
class Alert:
    """One story for one chat.

    ``summary`` holds the story's key points, which an alert shows as bullets and a
    digest as one line. ``words`` are the story's words that made the rule match (as
    written in the story); renderers emphasise them in the title and summary with
    :func:`highlight`.
    """

    title: str
    link: str | None
    source: str
    published: datetime | None
    rule: str
    summary: Summary
    words: tuple[str, ...] = ()
    author: str | None = None
    also_reported_by: tuple[str, ...] = field(default_factory=tuple)
    alert_id: int | None = None  # the outbox row: "Show more" names it
    rule_id: int | None = None  # the rule that matched: "Mute"/"Stop" name it
    thread_id: str | None = None  # the rule's forum topic (Telegram), if any
    silent: bool = False  # sent in the chat's quiet hours: no notification sound


def highlight(text: str, words: Sequence[str]) -> list[tuple[str, bool]]:
    """Split ``text`` into (segment, emphasised) pieces; each of ``words`` found whole,
    case-insensitively, is emphasised. Renderers escape every segment themselves."""
    wanted = sorted({w for w in words if w.strip()}, key=len, reverse=True)
    if not wanted or not text:
        return [(text, False)] if text else []
    pattern = re.compile(
        r"(?<!\w)(" + "|".join(re.escape(w) for w in wanted) + r")(?!\w)", re.IGNORECASE
    )
    pieces: list[tuple[str, bool]] = []
    position = 0
    for match in pattern.finditer(text):
        if match.start() > position:
            pieces.append((text[position : match.start()], False))
        pieces.append((match.group(0), True))
        position = match.end()
    if position < len(text):
        pieces.append((text[position:], False))
    return pieces


def when(published: datetime | None) -> str:
    """``2026-11-29 14:05 UTC`` in the time's own zone (``2026-11-29 17:05 UTC+03`` once
    the dispatcher has moved it to the chat's), or empty when the feed gave no time."""
    return local_label(published) if published else ""
