"""Shared fixtures: a store on SQLite and on the real PostgreSQL server, settings, an app."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bot.config import Settings, settings_from_dict
from bot.store import Store, make_engine, migrate
from tests.slack_api import SlackApiStandIn
from tests.telegram_api import FakeBotAPI

PG_ADMIN_URL = os.environ.get(
    "NEWSBOT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _pg_available() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL)
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is required in CI (.ci/run starts it)")
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not running")
    name = f"newsbot_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _reset_pg(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """A database URL of each engine, empty; tests using it run once per engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/newsbot.db"
    url: str = request.getfixturevalue("pg_database")
    _reset_pg(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    return f"sqlite:///{tmp_path}/newsbot.db"


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    engine = make_engine(database_url)
    migrate(engine)
    yield Store(engine)
    engine.dispose()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for tests: local feeds allowed, no health port, short timeouts."""
    raw: dict[str, Any] = {
        "database": database_url,
        "fetch": {"timeout": "5s", "allow_private_addresses": True},
        "poll": {"interval": "1h", "jitter": "1s"},
        "health": {"listen": None},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    return settings_from_dict(raw)


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotAPI]:
    """A local stand-in for the Telegram Bot API, served over real HTTP."""
    server = FakeBotAPI()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def slack_api() -> AsyncIterator[SlackApiStandIn]:
    """A local stand-in for the Slack Web API (and Socket Mode), served over real HTTP."""
    stand_in = SlackApiStandIn()
    await stand_in.start()
    yield stand_in
    await stand_in.stop()


@pytest.fixture
async def apps() -> AsyncIterator[Callable[..., Any]]:
    """Makes prepared Apps on a console adapter (``tests.test_pipeline.make_app``'s
    arguments) and stops each at the end of the test."""
    from tests.test_pipeline import make_app  # it imports this module

    made: list[Any] = []

    async def factory(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        app, console = await make_app(*args, **kwargs)
        made.append(app)
        return app, console

    yield factory
    for app in made:
        await app.stop()
