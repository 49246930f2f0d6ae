"""Persistence: SQLite for one process, PostgreSQL for several replicas."""

from bot.store.engine import make_engine, migrate
from bot.store.store import (
    AlertDraft,
    Chat,
    Feed,
    LimitReached,
    NewStory,
    OutboxItem,
    Rule,
    Store,
    StoredStory,
    feed_label,
    utcnow,
)

__all__ = [
    "AlertDraft",
    "Chat",
    "Feed",
    "LimitReached",
    "NewStory",
    "OutboxItem",
    "Rule",
    "Store",
    "StoredStory",
    "feed_label",
    "make_engine",
    "migrate",
    "utcnow",
]
