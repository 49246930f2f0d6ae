"""Engines for SQLite and PostgreSQL, schema migration through Alembic, and the retry
that turns a busy SQLite database into a short wait instead of a failed job."""

from __future__ import annotations

import functools
import logging
import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot.errors import StoreBusy

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

_MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATE_LOCK = 0x6E657773626F74  # "newsbot": the advisory lock migrations hold
# How long one SQLite statement waits for another connection's write to end. Writers
# hold the lock for one batch of a poll (tens of milliseconds), so this is generous;
# past it the whole transaction is tried again (BUSY_RETRIES), then StoreBusy is raised.
BUSY_TIMEOUT = 5.0
BUSY_RETRIES = 3


def make_engine(url: str, *, busy_timeout: float = BUSY_TIMEOUT) -> Engine:
    """An engine for ``sqlite:///file`` or ``postgresql://…`` (driven by psycopg 3).

    SQLite gets WAL, a busy timeout and foreign keys, and its directory is created.

    Args:
        url: The database URL.
        busy_timeout: Seconds a SQLite statement waits for a lock held by another
            connection before it fails (see :func:`retry_when_busy`).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        parsed,
        connect_args={"check_same_thread": False, "timeout": busy_timeout},
        # No ping before each use: a file does not drop connections, and the ping cost
        # as much CPU as the UPDATE that records an unchanged feed.
        pool_pre_ping=False,
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.close()

    return engine


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite saying another connection holds the lock it needs."""
    cause = exc.orig if isinstance(exc, OperationalError) else exc
    return isinstance(cause, sqlite3.OperationalError) and (
        "database is locked" in str(cause) or "database is busy" in str(cause)
    )


def retry_when_busy(method: Callable[P, T]) -> Callable[P, T]:
    """Runs a store method again when SQLite stays busy past its busy timeout.

    The method must be one transaction (or several that may each be repeated): a busy
    error rolls its transaction back whole, so running it again is safe. Waits grow
    (0.2 s, 0.4 s, 0.8 s, with jitter); after :data:`BUSY_RETRIES` tries it raises
    :class:`~bot.errors.StoreBusy`, which the scheduler logs as one line.
    """

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(BUSY_RETRIES + 1):
            try:
                return method(*args, **kwargs)
            except OperationalError as exc:
                if not is_busy(exc):
                    raise
                if attempt == BUSY_RETRIES:
                    raise StoreBusy(
                        f"store: the SQLite database stayed locked ({method.__name__}, "
                        f"{BUSY_RETRIES + 1} tries); another process may be using the same "
                        "file: run one newsbot per SQLite file, or use PostgreSQL"
                    ) from exc
                delay = 0.2 * 2**attempt * random.uniform(1, 1.5)  # noqa: S311 - not security
                log.warning("store: database busy in %s, retrying in %.1fs", method.__name__, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    return wrapper


def migrate(engine: Engine) -> None:
    """Bring the schema up to the newest revision (idempotent)."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Replicas started together would each create the same tables; they take turns,
            # and those after the first find the schema up to date. Released at commit.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATE_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
