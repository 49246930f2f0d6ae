"""The dispatcher's decisions on each kind of platform error.

The platform here is a scripted adapter: the real Telegram and Slack adapters are tested
against local stand-ins of their HTTP APIs in their own test files.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.delivery import outbox
from bot.delivery.alert import Alert
from bot.delivery.dispatcher import MAX_ATTEMPTS, MAX_EDIT_ATTEMPTS, Dispatcher
from bot.delivery.platform import (
    AdapterFatal,
    ChatGone,
    ChatMigrated,
    PermanentError,
    RateLimits,
    RetryAfter,
    TransientError,
    UncertainDelivery,
)
from bot.models import AlertDraft, NewStory, OutboxStatus, Summary
from bot.store import Store, utcnow
from bot.store.schema import outbox as outbox_table


class ScriptedPlatform:
    platform = "telegram"
    limits = RateLimits(per_chat_interval=1.0, group_per_minute=20, global_per_second=30)

    def __init__(self) -> None:
        self.failures: list[Exception] = []
        self.sent: list[tuple[str, str]] = []
        self.edit_failures: list[Exception] = []
        self.edited: list[tuple[str, str, tuple[str, ...]]] = []

    async def start(self, service: object) -> None: ...

    async def stop(self) -> None: ...

    async def send_alert(self, chat_id: str, alert: Alert) -> str | None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((chat_id, alert.title))
        return str(len(self.sent))

    async def send_digest(self, chat_id: str, alerts: list[Alert]) -> str | None:
        return await self.send_alert(chat_id, alerts[0])

    async def edit_alert(self, chat_id: str, message_id: str, alert: Alert) -> None:
        if self.edit_failures:
            raise self.edit_failures.pop(0)
        self.edited.append((chat_id, message_id, alert.also_reported_by))

    def is_group(self, chat_id: str) -> bool:
        return chat_id.startswith("-")


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """The dispatcher's decisions do not depend on the database: SQLite only."""
    return sqlite_url


def queue(store: Store, chat_id: str, *titles: str) -> int:
    chat = store.ensure_chat("telegram", chat_id)
    store.update_chat(chat.id, subscribed=True)
    feed = store.ensure_feed("https://example.org/rss")
    stories = [NewStory(t, f"fp-{chat_id}-{t}", t, None, None, None, "") for t in titles]
    drafts = [AlertDraft(chat.id, t, None, "q", [], {}, Summary(), utcnow()) for t in titles]
    store.record_poll(
        feed.id,
        new_stories=stories,
        alerts=drafts,
        feed_title=None,
        etag=None,
        last_modified=None,
        next_poll_at=utcnow(),
    )
    return chat.id


def make_dispatcher(store: Store, platform: ScriptedPlatform) -> Dispatcher:
    async def follow_migration(name: str, old: str, new: str) -> None:
        await asyncio.to_thread(store.migrate_chat, name, old, new)

    return Dispatcher(store, {"telegram": platform}, worker="t", follow_migration=follow_migration)


def statuses(store: Store) -> dict[str, int]:
    return store.alert_counts(None, utcnow() - timedelta(hours=1))


async def test_sends_and_paces_one_message_per_chat_per_second(store: Store) -> None:
    platform = ScriptedPlatform()
    queue(store, "1", "a", "b")
    queue(store, "2", "c")
    dispatcher = make_dispatcher(store, platform)
    assert await dispatcher.run_once() == 2  # one per chat
    assert await dispatcher.run_once() == 0  # chat 1 must wait a second
    assert sorted(platform.sent) == [("1", "a"), ("2", "c")]


async def test_pacing_holds_across_replicas(store: Store) -> None:
    platform = ScriptedPlatform()
    queue(store, "1", "a", "b")
    queue(store, "-2", "c", "d")
    one, two = make_dispatcher(store, platform), make_dispatcher(store, platform)
    assert await one.run_once() == 2
    assert await two.run_once() == 0  # another replica: both chats had their turn
    assert len(platform.sent) == 2


async def test_retry_after_delays_but_keeps_the_alert(store: Store) -> None:
    platform = ScriptedPlatform()
    platform.failures = [RetryAfter(30)]
    queue(store, "1", "a")
    await make_dispatcher(store, platform).run_once()
    assert statuses(store) == {"pending": 1}
    assert outbox.due_sends(store, utcnow(), 100) == []
    assert len(outbox.due_sends(store, utcnow() + timedelta(seconds=31), 100)) == 1


async def test_transient_errors_back_off(store: Store) -> None:
    platform = ScriptedPlatform()
    platform.failures = [TransientError("connection reset")]
    queue(store, "1", "a")
    await make_dispatcher(store, platform).run_once()
    assert statuses(store) == {"pending": 1}
    assert outbox.due_sends(store, utcnow(), 100) == []


async def test_chat_gone_deactivates(store: Store) -> None:
    platform = ScriptedPlatform()
    platform.failures = [ChatGone("bot was blocked by the user")]
    chat_pk = queue(store, "1", "a", "b")
    dispatcher = make_dispatcher(store, platform)
    await dispatcher.run_once()
    chat = store.chats_by_pk([chat_pk])[chat_pk]
    assert not chat.active and chat.inactive_reason == "bot was blocked by the user"
    assert statuses(store) == {"dropped": 1, "pending": 1}


async def test_migrated_chat_is_followed(store: Store) -> None:
    platform = ScriptedPlatform()
    platform.failures = [ChatMigrated("-1009")]
    queue(store, "-5", "a")
    dispatcher = make_dispatcher(store, platform)
    await dispatcher.run_once()
    await dispatcher.run_once()
    assert platform.sent == [("-1009", "a")]


async def test_uncertain_permanent_and_fatal(store: Store) -> None:
    platform = ScriptedPlatform()
    platform.failures = [UncertainDelivery("timed out"), PermanentError("400 bad request")]
    queue(store, "1", "a")
    queue(store, "2", "b")
    dispatcher = make_dispatcher(store, platform)
    await dispatcher.run_once()
    assert statuses(store) == {"uncertain": 1, "failed": 1}
    platform.failures = [AdapterFatal("invalid token")]
    queue(store, "3", "c")
    await dispatcher.run_once()
    assert await dispatcher.run_once() == 0  # the platform is stopped, the alert kept
    assert statuses(store)["pending"] == 1


def quick_platform() -> ScriptedPlatform:
    """A platform whose chats may take a message every 50 ms."""
    platform = ScriptedPlatform()
    platform.limits = RateLimits(per_chat_interval=0.05, group_per_minute=20, global_per_second=30)
    return platform


def copy_from_another_feed(store: Store, chat_id: str, title: str) -> None:
    """The story of ``queue(store, chat_id, title)`` comes from a second feed."""
    chat = store.ensure_chat("telegram", chat_id)
    feed = store.ensure_feed("https://other.example/rss", name="Other")
    story = NewStory(f"{title}-2", f"fp-{chat_id}-{title}", title, None, None, None, "")
    _, elsewhere = store.record_poll(
        feed.id,
        new_stories=[story],
        alerts=[AlertDraft(chat.id, f"{title}-2", None, "q", [], {}, Summary(), utcnow())],
        feed_title=None,
        etag=None,
        last_modified=None,
        next_poll_at=utcnow(),
    )
    assert len(elsewhere) == 1  # the pipeline's "also reported by" step, as it takes it
    outbox.name_source(store, chat.id, story.fingerprint, "Other")


async def test_a_sent_alert_is_edited_once_when_its_story_comes_from_another_feed(
    store: Store,
) -> None:
    platform = quick_platform()
    queue(store, "1", "a")
    dispatcher = make_dispatcher(store, platform)
    assert await dispatcher.run_once() == 1
    copy_from_another_feed(store, "1", "a")
    await asyncio.sleep(0.06)  # the chat's pacing interval
    assert await dispatcher.run_once() == 0  # nothing new sent ...
    assert platform.edited == [("1", "1", ("Other",))]  # ... the message names Other
    assert statuses(store) == {"sent": 1} and outbox.due_edits(store, utcnow(), 100) == []


async def test_an_edit_waits_out_a_429_and_gives_up_on_other_errors(store: Store) -> None:
    platform = quick_platform()
    queue(store, "1", "a")
    queue(store, "2", "b")
    dispatcher = make_dispatcher(store, platform)
    await dispatcher.run_once()
    copy_from_another_feed(store, "1", "a")
    copy_from_another_feed(store, "2", "b")
    platform.edit_failures = [RetryAfter(30), PermanentError("message to edit not found")]
    await asyncio.sleep(0.06)
    await dispatcher.run_once()
    assert platform.edited == []
    # One is due again after the wait; the other stays as it was sent (the alert arrived).
    assert outbox.due_edits(store, utcnow(), 100) == []
    assert len(outbox.due_edits(store, utcnow() + timedelta(seconds=31), 100)) == 1
    assert statuses(store) == {"sent": 2}


async def test_a_bug_while_rendering_is_retried_then_failed_and_the_drain_goes_on(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    platform = ScriptedPlatform()
    platform.failures = [KeyError("a renderer bug")]  # raised before any request left
    queue(store, "1", "a")
    queue(store, "2", "b")
    dispatcher = make_dispatcher(store, platform)
    assert await dispatcher.run_once() == 1  # the next alert still went out
    assert platform.sent == [("2", "b")]
    assert statuses(store) == {"pending": 1, "sent": 1}  # retried with backoff
    errors = [r for r in caplog.records if "unexpectedly" in r.getMessage()]
    assert len(errors) == 1 and errors[0].exc_info is not None  # once, with the traceback
    # Counted against the attempt cap: the last allowed attempt that fails gives up.
    ((alert_id, _),) = outbox.due_sends(store, utcnow() + timedelta(hours=1), 100)
    store.settle_alert(alert_id, OutboxStatus.PENDING, not_before=utcnow())
    with store.engine.begin() as conn:
        conn.execute(update(outbox_table).values(attempts=MAX_ATTEMPTS - 1))
    platform.failures = [KeyError("the same bug")]
    await asyncio.sleep(1.0)  # the chat's pacing interval
    await dispatcher.run_once()
    assert statuses(store) == {"failed": 1, "sent": 1}


async def test_an_unforeseen_edit_error_is_retried_a_few_times_then_given_up(store: Store) -> None:
    platform = quick_platform()
    queue(store, "1", "a")
    dispatcher = make_dispatcher(store, platform)
    await dispatcher.run_once()
    copy_from_another_feed(store, "1", "a")
    platform.edit_failures = [ValueError("unreadable reply")] * (MAX_EDIT_ATTEMPTS + 5)
    for _ in range(MAX_EDIT_ATTEMPTS + 2):
        await asyncio.sleep(0.06)
        for alert_id, _ in outbox.due_edits(store, utcnow() + timedelta(hours=1), 100):
            store.settle_alert(alert_id, OutboxStatus.OUTDATED, not_before=utcnow())
        await dispatcher.run_once()
    # Tried MAX_EDIT_ATTEMPTS times, then the message is left as sent; no edit is due.
    assert len(platform.edit_failures) == 5
    assert outbox.due_edits(store, utcnow() + timedelta(days=1), 100) == []
    assert statuses(store) == {"sent": 1}
