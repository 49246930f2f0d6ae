"""A real ``newsbot run`` killed with SIGKILL: its claims do not hold its work hostage.

On SQLite (one process) the restart releases every claim at once; on PostgreSQL a dead
replica's claims lapse after the lease (its heartbeat stopped) and another takes over.
"""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bot.adapters.console import ConsoleAdapter
from bot.app import App
from bot.delivery import outbox
from bot.models import AlertDraft, NewStory, Summary
from bot.store import utcnow
from tests.conftest import _reset_pg, make_settings
from tests.feedserver import WEATHER, RssServer, rss


class HangingFeeds:
    """Feeds over HTTP whose first fetch hangs (the fetching process is killed meanwhile);
    records when each path was fetched."""

    def __init__(self) -> None:
        self.fetches: dict[str, list[float]] = {}
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.server = RssServer(self._answer)

    def _answer(self, path: str) -> bytes:
        with self.lock:
            times = self.fetches.setdefault(path, [])
            times.append(time.monotonic())
            first = len(times) == 1
        if first:
            self.release.wait(30)
        return rss("World", [WEATHER]).encode()

    def url(self, path: str) -> str:
        return self.server.url(path)

    def count(self, path: str) -> int:
        with self.lock:
            return len(self.fetches.get(path, []))

    def wait_for(self, paths: list[str], count: int, timeout: float) -> float | None:
        """Seconds until every path was fetched ``count`` times, or None after ``timeout``."""
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            if all(self.count(p) >= count for p in paths):
                return time.monotonic() - began
            time.sleep(0.1)
        return None

    def close(self) -> None:
        self.release.set()
        self.server.close()


@pytest.fixture
def hanging_feeds() -> Iterator[HangingFeeds]:
    feeds = HangingFeeds()
    yield feeds
    feeds.close()


PATHS = ["/one.xml", "/two.xml"]


def _config(tmp_path: Path, database: str, feeds: HangingFeeds, name: str) -> Path:
    config = {
        "database": database,
        "health": {"listen": None},
        "fetch": {"timeout": "20s", "allow_private_addresses": True},
        "poll": {"interval": "10s", "jitter": "1ms", "lease": "3s"},
        "feeds": [{"url": feeds.url(p)} for p in PATHS],
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _start(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def _killed_while_fetching(config: Path, feeds: HangingFeeds) -> None:
    """Runs newsbot until it is fetching every feed (each fetch hangs), then SIGKILLs it:
    it dies holding a claim on every feed."""
    first = _start(config)
    try:
        assert feeds.wait_for(PATHS, 1, timeout=60) is not None, "never polled"
    finally:
        first.kill()
        first.wait(10)


def test_restart_after_sigkill_on_sqlite_resumes_every_feed_at_once(
    tmp_path: Path, hanging_feeds: HangingFeeds
) -> None:
    config = _config(tmp_path, f"sqlite:///{tmp_path}/bot.db", hanging_feeds, "bot")
    _killed_while_fetching(config, hanging_feeds)
    again = _start(config)
    try:
        # Each feed was claimed by the dead process and is still due: polled at start,
        # well within one interval (10 s), not after the dead claims' lease.
        waited = hanging_feeds.wait_for(PATHS, 2, timeout=10)
        assert waited is not None, {p: hanging_feeds.count(p) for p in PATHS}
    finally:
        _stop(again)


def test_a_killed_replica_s_feeds_are_taken_over_after_its_lease(
    tmp_path: Path, hanging_feeds: HangingFeeds, pg_database: str
) -> None:
    _reset_pg(pg_database)
    config = _config(tmp_path, pg_database, hanging_feeds, "bot")
    first = _start(config)
    second: subprocess.Popen[bytes] | None = None
    try:
        # The first replica polls both feeds and hangs in the fetches, holding the claims.
        assert hanging_feeds.wait_for(PATHS, 1, timeout=60) is not None, "never polled"
        second = _start(config)
        time.sleep(6)  # two 3 s leases: the live first replica renews its claims
        assert all(hanging_feeds.count(p) == 1 for p in PATHS), "a live claim was taken"
        _stop(first)  # SIGKILL, holding the claims
        # Its claims lapse within the 3 s lease; the second replica takes the feeds over.
        waited = hanging_feeds.wait_for(PATHS, 2, timeout=15)
        assert waited is not None, {p: hanging_feeds.count(p) for p in PATHS}
    finally:
        _stop(first, *([second] if second else []))


async def test_a_start_settles_the_sends_a_killed_process_left_in_flight(
    database_url: str,
) -> None:
    settings = make_settings(database_url, poll={"lease": "30s"})
    app = App(settings, adapters={"console": ConsoleAdapter(io.StringIO())}, health=False)
    await app.prepare()
    chat = app.store.ensure_chat("console", "desk")
    app.store.update_chat(chat.id, subscribed=True)
    feed = app.store.ensure_feed("https://example.org/rss")
    app.store.record_poll(
        feed.id,
        new_stories=[NewStory("a", "fp-a", "A story", None, None, None, "")],
        alerts=[AlertDraft(chat.id, "a", None, "q", [], {}, Summary(), utcnow())],
        feed_title=None,
        etag=None,
        last_modified=None,
        next_poll_at=utcnow() + timedelta(hours=1),
    )
    ((alert_id, _),) = outbox.due_sends(app.store, utcnow(), 10)
    # Another process claimed it for its send and was killed (its lease has 30 s to run).
    assert outbox.claim_send(app.store, alert_id, "dead", utcnow() + timedelta(seconds=30))
    await app.start()
    try:
        counts = app.store.alert_counts(None, utcnow() - timedelta(hours=1))
        if app.engine.dialect.name == "sqlite":
            assert counts == {"uncertain": 1}  # the only process: settled at once, not re-sent
        else:
            assert counts == {"sending": 1}  # maybe a live replica: left until its lease ends
    finally:
        await app.stop()
