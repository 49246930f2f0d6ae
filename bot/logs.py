"""Logging set-up: one line per event, with the context keys appended as key=value."""

from __future__ import annotations

import logging
import sys

CONTEXT_KEYS = (
    "feed_id",
    "story_id",
    "chat",
    "platform",
    "alert",
    "job",
    "errors",
    "stories",
    "new",
    "alerts",
)


class ContextFormatter(logging.Formatter):
    """Appends the shared context keys (``feed_id``, ``chat``, …) when a record has them."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [f"{key}={getattr(record, key)}" for key in CONTEXT_KEYS if hasattr(record, key)]
        return f"{line} {' '.join(extras)}" if extras else line


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ContextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Library chatter (every HTTP request, every scheduler tick) drowns the bot's own lines.
    noisy = ("httpx", "apscheduler", "telegram.ext", "slack_bolt", "aiohttp.access", "alembic")
    for name in noisy:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
