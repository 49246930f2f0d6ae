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
    "make_engine",
    "migrate",
    "utcnow",
]
