"""The error hierarchy. Each error says which component failed, what happened, what to do."""

from __future__ import annotations

from bot.i18n import Text


class NewsbotError(Exception):
    """Base of every error newsbot raises on purpose."""


class ConfigError(NewsbotError):
    """The configuration is invalid; ``problems`` holds one line per bad key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class FeedError(NewsbotError):
    """A feed could not be fetched or parsed. ``text`` says why, worded in a chat's
    language where it is shown (``addfeed``, ``import``); ``str(err)`` is English (logs,
    ``status``)."""

    def __init__(self, text: Text, *, retry_after: float | None = None) -> None:
        super().__init__(str(text))
        self.text = text
        self.retry_after = retry_after


class FetchError(FeedError):
    """HTTP-level failure: network, status code, size limit, blocked address."""


class FeedParseError(FeedError):
    """The bytes are not a usable feed."""


class StoreBusy(NewsbotError):
    """The database stayed locked by another writer through every retry."""


class DeliveryError(NewsbotError):
    """Sending an alert failed; the adapter decides whether to retry or give up."""
