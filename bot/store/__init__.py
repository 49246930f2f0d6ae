"""Persistence: SQLite for one process, PostgreSQL for several replicas."""

from bot.store.engine import make_engine, migrate
from bot.store.store import LimitReached, Store, utcnow

__all__ = ["LimitReached", "Store", "make_engine", "migrate", "utcnow"]
