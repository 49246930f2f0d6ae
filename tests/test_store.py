"""The store, run against SQLite and the real PostgreSQL server alike."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.delivery import outbox
from bot.feeds import messages as feed_messages
from bot.i18n import Text
from bot.models import AlertDraft, NewStory, Summary
from bot.store import LimitReached, Store, utcnow


def _story(uid: str, fingerprint: str | None = None, title: str = "A story") -> NewStory:
    return NewStory(
        uid=uid,
        fingerprint=fingerprint or f"fp-{uid}",
        title=title,
        link=f"https://example.org/{uid}",
        author=None,
        published=utcnow(),
        body="Body text.",
    )


def _draft(chat_pk: int, uid: str, rule_id: int | None = None) -> AlertDraft:
    return AlertDraft(
        chat_pk=chat_pk,
        story_uid=uid,
        rule_id=rule_id,
        rule_query="story",
        words=["story"],
        spans={"title": [[2, 7]]},
        summary=Summary(("Summary.",)),
        not_before=utcnow(),
    )


def _record(
    store: Store,
    feed_id: int,
    stories: list[NewStory],
    alerts: list[AlertDraft],
    source: str = "Feed",
) -> int:
    """A poll's record, then its "also reported by" step, as the pipeline takes them."""
    queued, elsewhere = store.record_poll(
        feed_id,
        new_stories=stories,
        alerts=alerts,
        feed_title="Feed",
        etag='"v1"',
        last_modified=None,
        next_poll_at=utcnow() + timedelta(minutes=5),
    )
    for draft, key in elsewhere:
        outbox.name_source(store, draft.chat_pk, key, source)
    return queued


def test_feeds_are_unique_by_url_and_config_settings_update(store: Store) -> None:
    first = store.ensure_feed("https://example.org/rss")
    again = store.ensure_feed(
        "https://example.org/rss", name="Example", interval_s=120, from_config=True
    )
    assert again.id == first.id
    assert (again.name, again.interval_s, again.from_config) == ("Example", 120, True)
    assert store.active_feed_ids() == [first.id]
    store.unmark_config_feeds([])
    assert store.active_feed_ids() == []


def test_only_one_claim_of_a_due_feed_succeeds(store: Store) -> None:
    feed = store.ensure_feed("https://example.org/rss")
    now = utcnow() + timedelta(seconds=1)
    until = now + timedelta(seconds=30)
    assert store.claim_feed(feed.id, "one", now, until) is not None
    assert store.claim_feed(feed.id, "two", now, until) is None  # the other replica
    later = now + timedelta(seconds=20)
    store.renew_claims("one", later + timedelta(seconds=30), [feed.id], [])  # "one" is alive
    assert store.claim_feed(feed.id, "two", later + timedelta(seconds=15), until) is None
    # "one" died: once its lease runs out, "two" takes the feed over.
    assert store.claim_feed(feed.id, "two", later + timedelta(seconds=31), until) is not None
    assert store.claim_due_feeds("three", later, later + timedelta(seconds=31), until, 9) == []


def test_the_heartbeat_renews_only_work_in_flight(store: Store) -> None:
    polling = store.ensure_feed("https://example.org/one")
    left = store.ensure_feed("https://example.org/two")  # a failure left its claim behind
    now = utcnow() + timedelta(seconds=1)
    for feed in (polling, left):
        assert store.claim_feed(feed.id, "w", now, now + timedelta(seconds=30)) is not None
    store.renew_claims("w", now + timedelta(seconds=60), [polling.id], [])
    later = now + timedelta(seconds=31)
    assert store.claim_feed(polling.id, "other", later, later) is None
    assert store.claim_feed(left.id, "other", later, later) is not None


def test_a_start_on_sqlite_releases_every_claim(store: Store) -> None:
    feed = store.ensure_feed("https://example.org/rss", from_config=True)
    now = utcnow() + timedelta(seconds=1)
    assert store.claim_feed(feed.id, "dead", now, now + timedelta(minutes=5)) is not None
    assert store.claim_due_feeds("new", now, now, now + timedelta(seconds=30), 9) == []
    store.release_feed_claims(None)
    claimed = store.claim_due_feeds("new", now, now, now + timedelta(seconds=30), 9)
    assert [f.id for f in claimed] == [feed.id]


def test_feed_errors_count_up_and_reset_on_success(store: Store) -> None:
    feed = store.ensure_feed("https://example.org/rss")
    later = utcnow() + timedelta(minutes=10)
    error = Text(feed_messages.HTTP_STATUS, status=500, reason="Internal Server Error")
    assert store.record_feed_error(feed.id, error, later) == 1
    assert store.record_feed_error(feed.id, error, later) == 2
    failing = store.get_feed(feed.id)
    assert failing is not None and failing.next_poll_at >= later
    assert failing.last_error == "HTTP 500 Internal Server Error"
    assert failing.last_error_text is not None
    assert failing.last_error_text.to_data() == error.to_data()
    _record(store, feed.id, [], [])
    healed = store.get_feed(feed.id)
    assert healed is not None and healed.last_error_text is None
    assert (healed.error_count, healed.last_error, healed.etag) == (
        0,
        None,
        '"v1"',
    )


def test_stories_and_alerts_are_recorded_once(store: Store) -> None:
    feed = store.ensure_feed("https://example.org/rss")
    chat = store.ensure_chat("console", "c1")
    assert _record(store, feed.id, [_story("a"), _story("b")], [_draft(chat.id, "a")]) == 1
    assert store.known_uids(feed.id, ["a", "b", "c"]) == {"a", "b"}
    # The same poll again (a crash before the feed state was saved, or a second replica).
    assert _record(store, feed.id, [_story("a")], [_draft(chat.id, "a")]) == 0
    assert [chat_pk for _, chat_pk in outbox.due_sends(store, utcnow(), 100)] == [chat.id]


def test_key_points_come_back_as_they_were_queued(store: Store) -> None:
    feed = store.ensure_feed("https://example.org/rss")
    chat = store.ensure_chat("console", "c1")
    points = Summary(("First point.", "Second <b>point</b> & more.", "Third point."))
    draft = replace(_draft(chat.id, "a"), summary=points)
    assert _record(store, feed.id, [_story("a")], [draft]) == 1
    ((alert_id, _),) = outbox.due_sends(store, utcnow(), 100)
    item = outbox.claim_send(store, alert_id, "w", utcnow() + timedelta(minutes=1))
    assert item is not None and item.alert.summary == points


def test_same_story_in_two_feeds_is_one_alert_with_also_reported_by(store: Store) -> None:
    one = store.ensure_feed("https://one.example/rss", name="One")
    two = store.ensure_feed("https://two.example/rss", name="Two")
    chat = store.ensure_chat("console", "c1")
    assert _record(store, one.id, [_story("x", "same")], [_draft(chat.id, "x")], "One") == 1
    assert _record(store, two.id, [_story("y", "same")], [_draft(chat.id, "y")], "Two") == 0
    ((alert_id, _),) = outbox.due_sends(store, utcnow(), 100)
    item = outbox.claim_send(store, alert_id, "w", utcnow() + timedelta(minutes=1))
    assert item is not None
    assert item.alert.source == "One" and list(item.alert.also_reported_by) == ["Two"]


def test_outlets_named_at_once_are_all_kept(store: Store) -> None:
    """Outlets of one event are polled at once (threads, replicas): no name is lost."""
    one = store.ensure_feed("https://one.example/rss", name="One")
    chat = store.ensure_chat("console", "c1")
    _record(store, one.id, [_story("x", "same")], [_draft(chat.id, "x")], "One")
    names = [f"Outlet {n}" for n in range(8)]
    start = threading.Barrier(len(names))

    def name(label: str) -> None:
        start.wait()
        outbox.name_source(store, chat.id, "same", label)

    threads = [threading.Thread(target=name, args=(label,)) for label in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ((alert_id, _),) = outbox.due_sends(store, utcnow(), 100)
    assert sorted(store.alert_sources(alert_id)) == names


def _sent_story(store: Store, chat_pk: int, uid: str, message_id: str) -> int:
    """An alert for story ``uid`` from feed One, sent as message ``message_id``."""
    one = store.ensure_feed("https://one.example/rss", name="One")
    _record(store, one.id, [_story(uid, f"same-{uid}")], [_draft(chat_pk, uid)], "One")
    (alert_id,) = [i for i, pk in outbox.due_sends(store, utcnow(), 100) if pk == chat_pk]
    item = outbox.claim_send(store, alert_id, "w", utcnow() + timedelta(minutes=1))
    assert item is not None
    outbox.sent(store, item, message_id)
    return alert_id


def _copy_from_two(store: Store, chat_pk: int, uid: str) -> None:
    two = store.ensure_feed("https://two.example/rss", name="Two")
    copy = f"{uid}-2"
    _record(store, two.id, [_story(copy, f"same-{uid}")], [_draft(chat_pk, copy)], "Two")


def test_a_copy_after_the_alert_was_sent_makes_its_message_due_for_an_edit(store: Store) -> None:
    chat = store.ensure_chat("telegram", "42")
    alert_id = _sent_story(store, chat.id, "x", "77")
    assert outbox.due_edits(store, utcnow(), 100) == []
    _copy_from_two(store, chat.id, "x")
    assert outbox.due_sends(store, utcnow(), 100) == []  # no second alert
    assert outbox.due_edits(store, utcnow(), 100) == [(alert_id, chat.id)]
    assert store.alert_counts(chat.id, utcnow() - timedelta(hours=1)) == {"sent": 1}
    item = outbox.claim_edit(store, alert_id, "w1", utcnow() + timedelta(minutes=1))
    assert item is not None and item.message_id == "77"
    assert item.alert.also_reported_by == ("Two",) and item.alert.source == "One"
    assert outbox.claim_edit(store, alert_id, "w2", utcnow() + timedelta(minutes=1)) is None
    outbox.edited(store, item, item.alert.also_reported_by)
    assert outbox.due_edits(store, utcnow(), 100) == []
    assert store.alert_counts(chat.id, utcnow() - timedelta(hours=1)) == {"sent": 1}


def test_a_source_named_during_a_send_or_an_edit_makes_it_due_again(store: Store) -> None:
    chat = store.ensure_chat("telegram", "42")
    one = store.ensure_feed("https://one.example/rss", name="One")
    _record(store, one.id, [_story("x", "same-x")], [_draft(chat.id, "x")], "One")
    ((alert_id, _),) = outbox.due_sends(store, utcnow(), 100)
    item = outbox.claim_send(store, alert_id, "w", utcnow() + timedelta(minutes=1))
    assert item is not None and item.alert.also_reported_by == ()
    _copy_from_two(store, chat.id, "x")  # while the alert is in flight: rendered without it
    outbox.sent(store, item, "5")
    assert outbox.due_edits(store, utcnow(), 100) == [(alert_id, chat.id)]
    edit = outbox.claim_edit(store, alert_id, "w", utcnow() + timedelta(minutes=1))
    assert edit is not None
    three = store.ensure_feed("https://three.example/rss", name="Three")
    _record(store, three.id, [_story("z", "same-x")], [_draft(chat.id, "z")], "Three")
    outbox.edited(store, edit, edit.alert.also_reported_by)  # shows Two, not Three
    again = outbox.claim_edit(store, alert_id, "w", utcnow() + timedelta(minutes=1))
    assert again is not None and again.alert.also_reported_by == ("Two", "Three")
    later = utcnow() + timedelta(seconds=30)
    outbox.retry_edit(store, again, "429", later)
    assert outbox.due_edits(store, utcnow(), 100) == [] and outbox.due_edits(store, later, 100) == [
        (alert_id, chat.id)
    ]


def test_a_digest_message_is_not_edited_and_a_dead_edit_is_due_again(store: Store) -> None:
    chat = store.ensure_chat("telegram", "42")
    first = _sent_story(store, chat.id, "a", "9")
    _sent_story(store, chat.id, "b", "9")  # the same message: a digest
    _copy_from_two(store, chat.id, "a")
    assert outbox.due_edits(store, utcnow(), 100) == []
    alone = _sent_story(store, chat.id, "c", "10")
    _copy_from_two(store, chat.id, "c")
    assert outbox.claim_edit(store, alone, "gone", utcnow() + timedelta(seconds=1)) is not None
    assert outbox.settle_lapsed(store, utcnow() + timedelta(seconds=5)) == 0  # none uncertain
    assert outbox.due_edits(store, utcnow() + timedelta(seconds=5), 100) == [(alone, chat.id)]
    assert first != alone


def test_an_alert_is_claimed_by_one_worker_only(store: Store) -> None:
    feed = store.ensure_feed("https://example.org/rss")
    chat = store.ensure_chat("telegram", "42")
    _record(store, feed.id, [_story("a")], [_draft(chat.id, "a")])
    ((alert_id, _),) = outbox.due_sends(store, utcnow(), 100)
    first = outbox.claim_send(store, alert_id, "w1", utcnow() + timedelta(minutes=1))
    assert first is not None and first.chat.chat_id == "42" and first.attempts == 1
    assert outbox.claim_send(store, alert_id, "w2", utcnow() + timedelta(minutes=1)) is None
    outbox.sent(store, first, "99")
    assert outbox.due_sends(store, utcnow(), 100) == []
    assert store.alert_counts(chat.id, utcnow() - timedelta(hours=1)) == {"sent": 1}


def test_retry_later_and_stale_claims(store: Store) -> None:
    feed = store.ensure_feed("https://example.org/rss")
    chat = store.ensure_chat("telegram", "42")
    _record(store, feed.id, [_story("a"), _story("b")], [_draft(chat.id, "a")])
    ((alert_id, _),) = outbox.due_sends(store, utcnow(), 100)
    item = outbox.claim_send(store, alert_id, "w1", utcnow() + timedelta(minutes=1))
    assert item is not None
    outbox.retry(store, item, "429", utcnow() + timedelta(seconds=30))
    assert outbox.due_sends(store, utcnow(), 100) == []
    assert outbox.due_sends(store, utcnow() + timedelta(seconds=31), 100) == [(alert_id, chat.id)]
    # A sender that died mid-send: the alert may have arrived, so it is not sent again.
    outbox.claim_send(store, alert_id, "w1", utcnow() + timedelta(seconds=32))
    assert outbox.settle_lapsed(store, utcnow() + timedelta(minutes=5)) == 1
    assert store.alert_counts(chat.id, utcnow() - timedelta(hours=1)) == {"uncertain": 1}


def test_rules_are_numbered_per_chat_and_limited(store: Store) -> None:
    chat = store.ensure_chat("slack", "C1")
    other = store.ensure_chat("slack", "C2")
    store.add_rule(chat.id, "alpha", limit=2)
    store.add_rule(other.id, "other", limit=2)
    beta = store.add_rule(chat.id, "beta", limit=2)
    assert beta.number == 2
    with pytest.raises(LimitReached, match="limit is 2"):
        store.add_rule(chat.id, "gamma", limit=2)
    assert [(r.number, r.query) for r in store.list_rules(chat.id)] == [(1, "alpha"), (2, "beta")]
    assert store.remove_rule(chat.id, beta.id)
    assert not store.remove_rule(other.id, store.list_rules(chat.id)[0].id)  # not its rule
    assert [r.query for r in store.all_rules()] == ["alpha", "other"]


def test_migrated_chat_keeps_rules_feeds_and_subscription(store: Store) -> None:
    old = store.ensure_chat("telegram", "-100")
    store.update_chat(old.id, subscribed=True)
    store.add_rule(old.id, "Belarus", limit=10)
    feed = store.ensure_feed("https://example.org/rss")
    store.add_chat_feed(old.id, feed.id, limit=10)
    store.migrate_chat("telegram", "-100", "-1001234")
    assert store.get_chat("telegram", "-100") is None
    new = store.get_chat("telegram", "-1001234")
    assert new is not None and new.subscribed
    assert [r.query for r in store.list_rules(new.id)] == ["Belarus"]
    assert [f.id for f in store.chat_feeds(new.id)] == [feed.id]


def test_migration_onto_an_existing_chat_merges(store: Store) -> None:
    old = store.ensure_chat("telegram", "-100")
    store.add_rule(old.id, "one", limit=10)
    target = store.ensure_chat("telegram", "-1009")
    store.add_rule(target.id, "two", limit=10)
    store.migrate_chat("telegram", "-100", "-1009")
    assert sorted(r.query for r in store.list_rules(target.id)) == ["one", "two"]


def test_chat_feeds_limit_and_removal(store: Store) -> None:
    chat = store.ensure_chat("console", "c")
    one = store.ensure_feed("https://one.example/rss")
    two = store.ensure_feed("https://two.example/rss")
    assert store.add_chat_feed(chat.id, one.id, limit=1)
    assert not store.add_chat_feed(chat.id, one.id, limit=5)  # already there
    with pytest.raises(LimitReached):
        store.add_chat_feed(chat.id, two.id, limit=1)
    assert store.chats_of_feed(one.id) == {chat.id}
    assert store.remove_chat_feed(chat.id, one.id)
    assert store.chat_feeds(chat.id) == []


def test_a_chat_takes_one_turn_per_interval_and_a_group_n_a_minute(store: Store) -> None:
    group = store.ensure_chat("telegram", "-5")
    t0 = utcnow()

    def turn(seconds: float) -> bool:
        return store.take_turn(group.id, t0 + timedelta(seconds=seconds), 1.0, per_minute=3)

    assert turn(0) and not turn(0.5)  # one a second
    assert turn(1) and turn(2.5)
    assert not turn(4)  # three in the minute that began at 0
    assert turn(60.5)  # a new minute
    assert turn(62) and turn(63) and not turn(64)
    person = store.ensure_chat("telegram", "7")
    assert store.take_turn(person.id, t0, 1.0)
    assert not store.take_turn(person.id, t0 + timedelta(seconds=0.9), 1.0)
    assert store.take_turn(person.id, t0 + timedelta(seconds=1), 1.0)


def test_an_upgrade_keeps_every_row(database_url: str) -> None:
    """A database made by an older release (revision 0001) is brought to the newest one
    with its chats, rules and alerts intact."""
    from alembic import command
    from alembic.config import Config

    from bot.store import make_engine, migrate
    from bot.store.engine import _MIGRATIONS

    engine = make_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO chats (id, platform, chat_id, subscribed, active, digest, created_at) "
            "VALUES (1, 'telegram', '42', true, true, 'off', '2026-01-01 00:00:00+00:00')"
        )
        connection.exec_driver_sql(
            "INSERT INTO rules (chat_pk, query, created_at) "
            "VALUES (1, 'belarus', '2026-01-01 00:00:00+00:00')"
        )
    migrate(engine)
    store = Store(engine)
    (chat,) = store.chats_by_pk([1]).values()
    assert chat.chat_id == "42" and [r.query for r in store.list_rules(1)] == ["belarus"]
    assert store.take_turn(1, utcnow(), 1.0) and not store.take_turn(1, utcnow(), 1.0)
    engine.dispose()


def test_migrations_are_idempotent(database_url: str) -> None:
    from bot.store import make_engine, migrate

    engine = make_engine(database_url)
    migrate(engine)
    migrate(engine)
    assert Store(engine).list_feeds() == []
    engine.dispose()
