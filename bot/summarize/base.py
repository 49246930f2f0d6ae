"""The summariser seam: anything that turns a story into a few key points of alert text."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from bot.models import Summary


@runtime_checkable
class Summarizer(Protocol):
    """Turns a story's title and body into a short plain-text summary of key points.

    Implementations never raise for bad input or a failing backend: an alert
    without a summary is better than no alert, so the worst case is an empty summary.
    """

    async def summarize(self, title: str, text: str) -> Summary:
        """Return the story's key points, in story order (empty when there is nothing to say)."""
        ...
