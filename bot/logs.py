"""Logging set-up: one line per event, with the context keys appended as key=value, and
every secret masked (:class:`RedactingFilter`) before anything is written."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from types import TracebackType

from bot.redact import Redactor

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]

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


# Frames of a traceback written to the log, innermost kept: a RecursionError has a
# thousand, all alike, and one chat command must not write 150 KB of them.
TRACEBACK_FRAMES = 40


def format_traceback(exc_info: ExcInfo) -> str:
    """The traceback of ``exc_info`` as text, at most TRACEBACK_FRAMES frames per exception."""
    kind, value, tb = exc_info
    lines = traceback.format_exception(kind, value, tb, limit=-TRACEBACK_FRAMES)
    return "".join(lines).rstrip("\n")


class ContextFormatter(logging.Formatter):
    """Appends the shared context keys (``feed_id``, ``chat``, …) when a record has them."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [f"{key}={getattr(record, key)}" for key in CONTEXT_KEYS if hasattr(record, key)]
        return f"{line} {' '.join(extras)}" if extras else line


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message, traceback and context values.

    Set on the handler, so it sees every record that is written, whichever library logged
    it: a server that quotes a token back in its error text, a traceback whose frames show
    a database URL. The record is rewritten in place (message rendered, traceback turned
    into text), so any other handler it reaches gets the masked text too.
    """

    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: logging reports it itself
            return True
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = format_traceback(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key in CONTEXT_KEYS:
            value = getattr(record, key, None)
            if isinstance(value, str):
                setattr(record, key, self.redact(value))
        return True


def setup_logging(level: str = "INFO", secrets: list[str] | None = None) -> None:
    """Log to stderr at ``level``, masking ``secrets`` and URL passwords in every line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ContextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(Redactor(secrets or ())))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Library chatter (every HTTP request, every scheduler tick) drowns the bot's own lines.
    noisy = ("httpx", "apscheduler", "telegram.ext", "slack_bolt", "aiohttp.access", "alembic")
    for name in noisy:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
