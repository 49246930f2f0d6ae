"""The summariser seam: anything that turns a story into a few lines of alert text."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Summarizer(Protocol):
    """Turns a story's title and body into a short plain-text summary.

    Implementations never raise for bad input or a failing backend: an alert
    without a summary is better than no alert, so the worst case is ``""``.
    """

    async def summarize(self, title: str, text: str) -> str:
        """Return a short plain-text summary of the story (``""`` when there is nothing to say)."""
        ...
