"""What the alert buttons keep in the store, on SQLite and PostgreSQL alike: a rule's
mute and forum topic, the claimed alert naming its rule, and "Show more" confined to
the chat's own alerts."""

from __future__ import annotations

from datetime import timedelta

from bot.delivery import outbox
from bot.store import Store, utcnow
from tests.test_store import _draft, _record, _story


def test_rule_mute_and_topic(store: Store) -> None:
    chat = store.ensure_chat("telegram", "-1001")
    plain = store.add_rule(chat.id, "a", limit=10)
    topical = store.add_rule(chat.id, "b", limit=10, thread_id="77")
    now = utcnow()
    assert store.mute_rule(chat.id, plain.id, now + timedelta(days=1))
    assert store.muted_rule_ids([plain.id, topical.id], now) == {plain.id}
    assert store.muted_rule_ids([plain.id], now + timedelta(days=2)) == set()  # expired
    assert store.muted_rule_ids([], now) == set()

    first, second = store.list_rules(chat.id)
    assert first.muted(now) and not second.muted(now)
    assert (first.thread_id, second.thread_id) == (None, "77")

    other = store.ensure_chat("telegram", "-1002")
    assert not store.mute_rule(other.id, topical.id, now)  # not that chat's rule
    store.remove_rule(chat.id, plain.id)
    assert not store.mute_rule(chat.id, plain.id, now)  # gone


def test_claimed_alert_names_its_rule_and_topic(store: Store) -> None:
    feed = store.ensure_feed("https://example.org/feed.xml")
    chat = store.ensure_chat("telegram", "-1001")
    rule = store.add_rule(chat.id, "story", limit=10, thread_id="77")
    _record(store, feed.id, [_story("s1")], [_draft(chat.id, "s1", rule.id)])
    ((alert_id, _),) = outbox.due_sends(store, utcnow(), 10)
    item = outbox.claim_send(store, alert_id, "w", utcnow() + timedelta(minutes=1))
    assert item is not None
    assert (item.alert.alert_id, item.alert.rule_id, item.alert.thread_id) == (
        alert_id,
        rule.id,
        "77",
    )
    outbox.retry(store, item, "try again", utcnow())
    store.remove_rule(chat.id, rule.id)  # removed before the alert went out
    again = outbox.claim_send(store, alert_id, "w", utcnow() + timedelta(minutes=1))
    assert again is not None
    assert (again.alert.rule, again.alert.rule_id, again.alert.thread_id) == ("story", None, None)


def test_story_of_alert_only_for_its_own_chat(store: Store) -> None:
    feed = store.ensure_feed("https://example.org/feed.xml")
    chat = store.ensure_chat("slack", "C1")
    other = store.ensure_chat("slack", "C2")
    _record(store, feed.id, [_story("s1")], [_draft(chat.id, "s1")])
    ((alert_id, _),) = outbox.due_sends(store, utcnow(), 10)
    found = store.story_of_alert(chat.id, alert_id)
    assert found is not None
    story, words = found
    assert (story.title, story.body, words) == ("A story", "Body text.", ["story"])
    assert store.story_of_alert(other.id, alert_id) is None  # a forged button
    assert store.story_of_alert(chat.id, alert_id + 1000) is None
