"""Engines for SQLite and PostgreSQL, and schema migration through Alembic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

_MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATE_LOCK = 0x6E657773626F74  # "newsbot": the advisory lock migrations hold


def make_engine(url: str) -> Engine:
    """An engine for ``sqlite:///file`` or ``postgresql://…`` (driven by psycopg 3).

    SQLite gets WAL, a busy timeout and foreign keys, and its directory is created.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        parsed, connect_args={"check_same_thread": False, "timeout": 30}, pool_pre_ping=True
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


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
