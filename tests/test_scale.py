"""Three ``newsbot run`` replicas on PostgreSQL, one of them killed with SIGKILL and one
started again, while stories arrive in tens of feeds and Telegram is the chat API.

Every matching story is alerted once, each feed is fetched about once per interval
(not once per replica), and one replica at a time polls Telegram for updates.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import create_engine, text

from bot.app import UPDATES_LEASE
from tests.conftest import _reset_pg, free_port
from tests.feedserver import Item, RssServer, rss
from tests.telegram_api import FakeBotAPI

FEEDS = 30
INTERVAL = 4.0  # seconds between two polls of a feed
LEASE = 3.0  # poll.lease: claims and the lease on getUpdates
CHAT = 5001


class Newsroom:
    """Feeds over HTTP that gain stories while the test runs; records every fetch."""

    def __init__(self) -> None:
        self.items: dict[str, list[Item]] = {f"/feed/{n}.xml": [] for n in range(FEEDS)}
        self.fetches: dict[str, int] = dict.fromkeys(self.items, 0)
        self.lock = threading.Lock()
        self.server = RssServer(self._answer)

    def _answer(self, path: str) -> bytes | None:
        with self.lock:
            if path not in self.items:
                return None
            self.fetches[path] += 1
            return rss(path, self.items[path][-20:]).encode()

    def url(self, path: str) -> str:
        return self.server.url(path)

    def publish(self, path: str, item: Item) -> None:
        with self.lock:
            self.items[path].append(item)

    def total_fetches(self) -> int:
        with self.lock:
            return sum(self.fetches.values())

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def newsroom() -> Iterator[Newsroom]:
    room = Newsroom()
    yield room
    room.close()


class Fleet:
    """``newsbot run`` processes of one deployment, each with its own health port."""

    def __init__(self, tmp_path: Path, database: str, room: Newsroom, bot_api: FakeBotAPI):
        self.tmp_path = tmp_path
        self.config: dict[str, Any] = {
            "database": database,
            "fetch": {"timeout": "5s", "allow_private_addresses": True},
            "poll": {"interval": f"{INTERVAL}s", "jitter": "0s", "lease": f"{LEASE}s"},
            "telegram": {"token": "${TELEGRAM_BOT_TOKEN}", "api_base_url": bot_api.url},
            "feeds": [{"url": room.url(path)} for path in room.items],
            "subscriptions": [{"platform": "telegram", "chat": str(CHAT), "rules": ["falcon"]}],
        }
        self.token = bot_api.token
        self.processes: list[tuple[subprocess.Popen[bytes], int]] = []

    def start(self) -> subprocess.Popen[bytes]:
        n, port = len(self.processes), free_port()
        config = {**self.config, "health": {"listen": f"127.0.0.1:{port}"}}
        path = self.tmp_path / f"replica{n}.yaml"
        path.write_text(yaml.safe_dump(config))
        with (self.tmp_path / f"replica{n}.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot", "run", "--config", str(path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "TELEGRAM_BOT_TOKEN": self.token},
            )
        self.processes.append((process, port))
        return process

    async def ready(self, within: float) -> None:
        """Wait until every live replica answers 200 on /readyz (a standby included)."""
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=2) as client:
            for process, port in self.processes:
                while process.poll() is None:
                    try:
                        answer = await client.get(f"http://127.0.0.1:{port}/readyz")
                        if answer.status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    assert time.monotonic() < deadline, self.logs()
                    await asyncio.sleep(0.2)

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.tmp_path.glob("replica*.log")))

    def stop(self) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _ in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def lease_holder_pid(database: str) -> int:
    """The pid of the replica holding the lease on getUpdates (worker: host:pid:nonce)."""
    engine = create_engine(database)
    try:
        with engine.connect() as conn:
            holder = conn.execute(
                text("SELECT holder FROM leases WHERE name = :name"), {"name": UPDATES_LEASE}
            ).scalar_one()
    finally:
        engine.dispose()
    return int(holder.split(":")[1])


async def first_polls_done(database: str, feeds: int, within: float) -> None:
    """Wait until every feed had its first poll: a story published before it would be
    recorded as already there (the first poll never alerts), not as news."""
    engine = create_engine(database)
    deadline = time.monotonic() + within
    try:
        while True:
            with engine.connect() as conn:
                done = conn.execute(
                    text("SELECT count(*) FROM feeds WHERE initialised")
                ).scalar_one()
            if done >= feeds:
                return
            assert time.monotonic() < deadline, f"{done} of {feeds} feeds had a first poll"
            await asyncio.sleep(0.2)
    finally:
        engine.dispose()


def outbox_statuses(database: str) -> dict[str, int]:
    engine = create_engine(database)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT status, count(*) FROM outbox GROUP BY status"))
            return {status: count for status, count in rows}
    finally:
        engine.dispose()


def story(n: int, matching: bool) -> Item:
    """A story with a title of its own (random words: no two are the same event)."""
    words = " ".join("".join(random.choices("bcdfghklmnprstvz", k=7)) for _ in range(4))
    subject = "Falcon" if matching else "Sparrow"
    return Item(f"story-{n}", f"{subject} {words}", body=f"{subject} seen at {words}.")


async def test_three_replicas_share_the_work_and_survive_a_sigkill(
    tmp_path: Path, newsroom: Newsroom, bot_api: FakeBotAPI, pg_database: str
) -> None:
    _reset_pg(pg_database)
    fleet = Fleet(tmp_path, pg_database, newsroom, bot_api)
    numbers = itertools.count()
    matching: list[str] = []

    async def publish(count: int) -> None:
        for _ in range(count):
            n = next(numbers)
            item = story(n, matching=n % 2 == 0)
            if n % 2 == 0:
                matching.append(f'/{item.guid}"')  # the end of its link in the alert
            newsroom.publish(random.choice(list(newsroom.items)), item)
            await asyncio.sleep(0.25)

    async def all_alerted() -> None:
        try:
            await bot_api.wait_for(
                lambda: len(bot_api.texts(CHAT)) >= len(matching), within=4 * INTERVAL
            )
        except AssertionError:
            raise AssertionError(
                f"{len(bot_api.texts(CHAT))} of {len(matching)} alerts; "
                f"outbox {outbox_statuses(pg_database)}\n{fleet.logs()}"
            ) from None

    try:
        for _ in range(3):
            fleet.start()
        await fleet.ready(within=40)
        await first_polls_done(pg_database, len(newsroom.items), within=40)
        began, fetched_before = time.monotonic(), newsroom.total_fetches()
        await publish(16)
        # Killed between two sends: one cut mid-send would be `uncertain`, never re-sent
        # (delivered at most once, by design), and this test counts exactly once.
        await all_alerted()

        holder = lease_holder_pid(pg_database)
        (killed,) = [p for p, _ in fleet.processes if p.pid == holder]
        killed.kill()  # SIGKILL: no lease released, no claim released
        killed.wait(5)
        killed_at = time.monotonic()
        fleet.start()
        await publish(16)
        # Its lease lapses within LEASE; a standby looks every quarter LEASE.
        took_over = await bot_api.wait_for(
            lambda: next((c.at for c in bot_api.calls_of("getUpdates") if c.at > killed_at), 0),
            within=3 * LEASE,
        )
        print(f"getUpdates taken over {took_over - killed_at:.1f} s after the SIGKILL")
        assert took_over - killed_at < 2 * LEASE + 2
        # Another replica takes the lease on getUpdates over: a command gets its answer.
        bot_api.send_command(42, "/help")
        await bot_api.wait_for(lambda: bot_api.sent(42), within=3 * LEASE + 5)

        await all_alerted()
        elapsed = time.monotonic() - began
        fetches = newsroom.total_fetches() - fetched_before
        await asyncio.sleep(INTERVAL)  # a double would have been sent by now
        await fleet.ready(within=10)  # the standbys and the new replica: all ready
    finally:
        fleet.stop()

    texts = bot_api.texts(CHAT)
    for link in matching:
        assert sum(link in t for t in texts) == 1, (link, texts)
    assert len(texts) == len(matching)
    assert not [t for t in texts if "Sparrow" in t]
    # About one fetch per feed and interval: three uncoordinated replicas would fetch
    # each feed three times. Slack for the killed replica's feeds, polled after its lease.
    expected = FEEDS * elapsed / INTERVAL
    assert 0.5 * expected < fetches < 1.4 * expected + FEEDS, (fetches, expected)
    polls = bot_api.calls_of("getUpdates")
    assert not [c for c in polls if c.overlapped], "two replicas polled Telegram at once"
    assert not [c for c in polls if c.outcome != "ok"]
