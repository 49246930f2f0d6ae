# ruff: noqa: F811 - the conversation's fixtures are imported, then named as arguments
"""Buttons under alerts and forum topics, over Telegram: the whole service against the
Bot API stand-in, with presses sent as real ``callback_query`` updates."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from bot.app import App
from bot.commands import messages as msg
from bot.delivery import outbox
from bot.store import utcnow
from bot.store.schema import chats, stories
from bot.store.schema import outbox as outbox_table
from tests.feedserver import BELARUS, MARKETS, Item
from tests.telegram_api import FakeBotAPI
from tests.test_telegram_conversation import (  # noqa: F401 - fixtures
    ALICE,
    BOB,
    RULE,
    Feed,
    Start,
    feed,
    new_stories,
    say,
    start,
)

BELARUS_2 = Item(
    "belarus-2",
    "Belarus frees a few prisoners, no mass prisoner release",
    "Minsk released five people on Friday. A mass prisoner release is not planned.",
)
BELARUS_3 = Item(
    "belarus-3",
    "Belarus: more prisoners released, no mass prisoner release",
    "Minsk released three more people on Monday.",
)
PRIVATE = 42


def alert_messages(bot_api: FakeBotAPI, chat: int) -> list[dict[str, Any]]:
    """The bot's alert messages in ``chat`` as Telegram holds them (edits applied)."""
    return [
        m
        for (chat_id, _), m in sorted(bot_api.messages.items())
        if chat_id == chat and m["text"].startswith("🔔")
    ]


def buttons(message: dict[str, Any]) -> dict[str, str]:
    """Label -> callback data of a message's inline keyboard."""
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return {b["text"]: b["callback_data"] for row in rows for b in row}


async def press(
    bot_api: FakeBotAPI, chat: int, message: dict[str, Any], label: str, user_id: int
) -> dict[str, Any]:
    """Press a button; returns the answerCallbackQuery it got."""
    before = len(bot_api.answers())
    bot_api.press(chat, message["message_id"], buttons(message)[label], user_id=user_id)
    answers = await bot_api.wait_for(lambda: bot_api.answers()[before:])
    return answers[0]


async def one_alert(app: App, bot_api: FakeBotAPI, feed: Feed, chat: int) -> dict[str, Any]:
    await say(bot_api, chat, "/subscribe", f"/watch {RULE}", user_id=ALICE)
    assert await new_stories(app, feed, BELARUS) == 1
    (alert,) = await bot_api.wait_for(lambda: alert_messages(bot_api, chat))
    return alert


async def test_every_alert_has_buttons_naming_its_rule_by_id(
    bot_api: FakeBotAPI, feed: Feed, start: Start
) -> None:
    app = await start()
    alert = await one_alert(app, bot_api, feed, PRIVATE)
    (rule,) = app.store.list_rules(app.store.ensure_chat("telegram", str(PRIVATE)).id)
    data = buttons(alert)
    assert list(data) == [msg.BUTTON_LABELS[v] for v in ("mute", "stop", "more")]
    assert data[msg.BUTTON_LABELS["mute"]] == f"nb:mute:{rule.id}"
    assert all(len(d.encode()) <= 64 for d in data.values())


async def test_mute_button_mutes_the_rule_for_a_day_and_twice_says_so(
    bot_api: FakeBotAPI, feed: Feed, start: Start
) -> None:
    app = await start()
    alert = await one_alert(app, bot_api, feed, PRIVATE)
    answer = await press(bot_api, PRIVATE, alert, msg.BUTTON_LABELS["mute"], PRIVATE)
    assert "text" not in answer  # the change is announced in the chat instead
    said = await bot_api.wait_for(lambda: [t for t in bot_api.texts(PRIVATE) if "muted" in t])
    assert said[0].startswith("Rule 1 muted until ") and RULE in said[0]

    again = await press(bot_api, PRIVATE, alert, msg.BUTTON_LABELS["mute"], PRIVATE)
    assert again["text"].startswith("Rule 1 is already muted until")

    # A muted rule queues nothing; the rule list says it is muted.
    assert await new_stories(app, feed, BELARUS_2) == 0
    (listing,) = await say(bot_api, PRIVATE, "/rules")
    assert listing.startswith(f"1. {RULE} (muted until ")
    # Another rule of the chat that matches still alerts.
    await say(bot_api, PRIVATE, "/watch Minsk AND released")
    assert await new_stories(app, feed, BELARUS_3) == 1
    latest = await bot_api.wait_for(lambda: alert_messages(bot_api, PRIVATE)[1:])
    assert "Minsk AND released" in latest[0]["text"]


async def test_stop_asks_then_unwatches_and_a_second_press_finds_it_gone(
    bot_api: FakeBotAPI, feed: Feed, start: Start
) -> None:
    app = await start()
    alert = await one_alert(app, bot_api, feed, PRIVATE)
    await press(bot_api, PRIVATE, alert, msg.BUTTON_LABELS["stop"], PRIVATE)
    (question,) = await bot_api.wait_for(
        lambda: [m for m in bot_api.messages.values() if m["text"].startswith("Stop rule 1")]
    )
    assert question["text"] == msg.STOP_ASK.format(number=1, query=RULE)
    assert list(buttons(question)) == [msg.BUTTON_LABELS["stopyes"], msg.BUTTON_LABELS["stopno"]]

    await press(bot_api, PRIVATE, question, msg.BUTTON_LABELS["stopyes"], PRIVATE)
    key = (PRIVATE, question["message_id"])
    edited = await bot_api.wait_for(lambda: "reply_markup" not in bot_api.messages[key])
    assert bot_api.messages[key]["text"] == f"Rule 1 removed: {RULE}"
    (listing,) = await say(bot_api, PRIVATE, "/rules")
    assert listing == msg.NO_RULES
    assert edited

    # The rule is gone: its alert's buttons, and the question's, answer so (no error).
    gone = await press(bot_api, PRIVATE, alert, msg.BUTTON_LABELS["mute"], PRIVATE)
    assert gone["text"] == msg.RULE_GONE
    twice = await press(bot_api, PRIVATE, question, msg.BUTTON_LABELS["stopyes"], PRIVATE)
    assert twice["text"] == msg.RULE_GONE


async def test_show_more_replies_with_the_longer_text_and_matched_words(
    bot_api: FakeBotAPI, feed: Feed, start: Start
) -> None:
    app = await start()
    alert = await one_alert(app, bot_api, feed, PRIVATE)
    await press(bot_api, PRIVATE, alert, msg.BUTTON_LABELS["more"], PRIVATE)
    (more,) = await bot_api.wait_for(
        lambda: [p for p in bot_api.sent(PRIVATE) if "Matched:" in p["text"]]
    )
    assert BELARUS.body in more["text"]  # the whole story, not the 3-point summary
    assert more["text"].endswith("Matched: Belarus, prisoner release")
    assert more.get("parse_mode") is None  # plain text: feed text cannot inject markup


async def test_in_groups_members_may_show_more_but_not_mute_or_stop(
    bot_api: FakeBotAPI, feed: Feed, start: Start
) -> None:
    app = await start()
    group = -555
    bot_api.chat(group, "group")
    bot_api.set_member(group, ALICE, "administrator")
    alert = await one_alert(app, bot_api, feed, group)

    for label in ("mute", "stop"):
        refused = await press(bot_api, group, alert, msg.BUTTON_LABELS[label], BOB)
        assert refused["text"] == msg.BUTTON_REFUSED
    await press(bot_api, group, alert, msg.BUTTON_LABELS["more"], BOB)
    await bot_api.wait_for(lambda: [t for t in bot_api.texts(group) if "Matched:" in t])
    (listing,) = await say(bot_api, group, "/rules", user_id=BOB)
    assert listing == f"1. {RULE}"  # nothing changed

    admin = await press(bot_api, group, alert, msg.BUTTON_LABELS["mute"], ALICE)
    assert "text" not in admin
    await bot_api.wait_for(lambda: [t for t in bot_api.texts(group) if "muted until" in t])


async def test_anonymous_admins_change_rules_and_press_buttons(
    bot_api: FakeBotAPI, feed: Feed, start: Start
) -> None:
    """An admin who stays anonymous writes on behalf of the group itself (sender_chat is
    the group; "from" is GroupAnonymousBot, who is no member): an admin, whose commands
    change the group's rules without asking getChatMember. A press of a button shows the
    real presser, an admin with is_anonymous, and may change rules too."""
    app = await start()
    group = -1001000000077
    bot_api.chat(group, "supergroup")
    bot_api.set_member(group, ALICE, "administrator", anonymous=True)
    answers = await say(bot_api, group, "/subscribe", f"/watch {RULE}", anonymous=True)
    assert answers == [msg.SUBSCRIBED, f"Rule 1 added: {RULE}"]
    assert bot_api.calls_of("getChatMember") == []
    assert await new_stories(app, feed, BELARUS) == 1
    (alert,) = await bot_api.wait_for(lambda: alert_messages(bot_api, group))

    refused = await press(bot_api, group, alert, msg.BUTTON_LABELS["mute"], BOB)
    assert refused["text"] == msg.BUTTON_REFUSED
    admin = await press(bot_api, group, alert, msg.BUTTON_LABELS["mute"], ALICE)
    assert "text" not in admin
    await bot_api.wait_for(lambda: [t for t in bot_api.texts(group) if "muted until" in t])
    (removed,) = await say(bot_api, group, "/unwatch 1", anonymous=True)
    assert removed == f"Rule 1 removed: {RULE}"


async def test_edit_with_another_source_keeps_the_buttons(
    bot_api: FakeBotAPI, feed: Feed, start: Start
) -> None:
    app = await start()
    alert = await one_alert(app, bot_api, feed, PRIVATE)
    chat = app.store.ensure_chat("telegram", str(PRIVATE))
    with app.store.engine.connect() as conn:
        fingerprint = conn.execute(
            select(stories.c.fingerprint).where(stories.c.uid == BELARUS.guid)
        ).scalar_one()
    assert fingerprint is not None
    assert outbox.name_source(app.store, chat.id, fingerprint, "Daily Wire")
    with app.store.engine.begin() as conn:  # the chat's pacing second is over
        conn.execute(update(chats).values(pace_next_at=None))
    await app.dispatcher.run_once()

    (edit,) = await bot_api.wait_for(lambda: bot_api.calls_of("editMessageText"))
    assert edit.params["text"].endswith("<i>also reported by Daily Wire</i>")
    key = (PRIVATE, alert["message_id"])
    assert buttons(bot_api.messages[key]) == buttons(alert)


async def test_digest_has_one_mute_all_button(
    bot_api: FakeBotAPI, feed: Feed, start: Start
) -> None:
    app = await start()
    await say(bot_api, PRIVATE, "/subscribe", f"/watch {RULE}", "/watch Stocks", "/digest hourly")
    assert await new_stories(app, feed, BELARUS, MARKETS) == 2
    with app.store.engine.begin() as conn:  # the hour is up
        conn.execute(update(outbox_table).values(not_before=utcnow()))
    await app.dispatcher.run_once()
    (digest,) = await bot_api.wait_for(
        lambda: [m for m in bot_api.messages.values() if m["text"].startswith("📰")]
    )
    assert list(buttons(digest)) == [msg.BUTTON_LABELS["muteall"]]

    await press(bot_api, PRIVATE, digest, msg.BUTTON_LABELS["muteall"], PRIVATE)
    await bot_api.wait_for(lambda: [t for t in bot_api.texts(PRIVATE) if "All alerts muted" in t])
    assert app.store.ensure_chat("telegram", str(PRIVATE)).muted(utcnow())
    again = await press(bot_api, PRIVATE, digest, msg.BUTTON_LABELS["muteall"], PRIVATE)
    assert again["text"].startswith("This chat is already muted until")


async def test_a_forged_or_unknown_button_gets_an_answer(
    bot_api: FakeBotAPI, feed: Feed, start: Start
) -> None:
    app = await start()
    alert = await one_alert(app, bot_api, feed, PRIVATE)
    for data in ("nb:mute:999999", "nb:more:999999", "something-else"):
        alert["reply_markup"] = {"inline_keyboard": [[{"text": "x", "callback_data": data}]]}
        answer = await press(bot_api, PRIVATE, alert, "x", PRIVATE)
        assert answer["text"] in (msg.RULE_GONE, msg.ALERT_GONE, msg.BUTTON_UNKNOWN)


FORUM = -1001234567890


async def test_watch_in_a_forum_topic_sends_its_alerts_there(
    bot_api: FakeBotAPI, feed: Feed, start: Start
) -> None:
    app = await start()
    bot_api.forum(FORUM)
    bot_api.set_member(FORUM, ALICE, "administrator")
    topic = bot_api.in_topic(77)
    await say(bot_api, FORUM, "/subscribe", user_id=ALICE)
    await say(bot_api, FORUM, f"/watch {RULE}", "/watch Stocks", user_id=ALICE, **topic)
    (listing,) = await say(bot_api, FORUM, "/rules", user_id=ALICE)
    assert listing == f"1. {RULE} — topic 77\n2. Stocks — topic 77"

    assert await new_stories(app, feed, BELARUS) == 1
    (alert,) = await bot_api.wait_for(lambda: alert_messages(bot_api, FORUM))
    assert alert["message_thread_id"] == 77

    # The topic is deleted: the next alert goes to the general topic, and is logged.
    bot_api.deleted_topics.add((FORUM, 77))
    assert await new_stories(app, feed, MARKETS) == 1
    await bot_api.wait_for(lambda: len(alert_messages(bot_api, FORUM)) == 2)
    general = alert_messages(bot_api, FORUM)[1]
    assert "message_thread_id" not in general
    refused = [c for c in bot_api.calls_of("sendMessage") if c.outcome == "failed 400"]
    assert refused[0].params["message_thread_id"] == 77


async def test_watch_outside_a_topic_goes_to_the_general_topic(
    bot_api: FakeBotAPI, feed: Feed, start: Start
) -> None:
    app = await start()
    bot_api.forum(FORUM)
    bot_api.set_member(FORUM, ALICE, "administrator")
    alert = await one_alert(app, bot_api, feed, FORUM)
    assert "message_thread_id" not in alert
    (listing,) = await say(bot_api, FORUM, "/rules", user_id=ALICE)
    assert listing == f"1. {RULE}"


async def test_rules_name_each_forum_topic_by_its_name(
    bot_api: FakeBotAPI, feed: Feed, start: Start
) -> None:
    """A rule added in a topic is listed with the topic's name, which Telegram shows in
    the topic's creation that every message there answers; a rename seen later wins,
    and a topic whose name never showed is listed by its number."""
    app = await start()
    bot_api.forum(FORUM)
    bot_api.set_member(FORUM, ALICE, "administrator")
    await say(bot_api, FORUM, "/subscribe", user_id=ALICE)
    await say(bot_api, FORUM, f"/watch {RULE}", user_id=ALICE, **bot_api.in_topic(77, "Belarus"))
    await say(bot_api, FORUM, "/watch Stocks", user_id=ALICE, **bot_api.in_topic(78))
    (listing,) = await say(bot_api, FORUM, "/rules", user_id=ALICE)
    assert listing == f"1. {RULE} — topic “Belarus”\n2. Stocks — topic 78"

    chat = app.store.get_chat("telegram", str(FORUM))
    assert chat is not None
    bot_api.topic_update(FORUM, 77, renamed="Belarus news")
    bot_api.topic_update(FORUM, 78, created="Markets")
    await bot_api.wait_for(
        lambda: app.store.topic_names(chat.id) == {"77": "Belarus news", "78": "Markets"}
    )
    # A message in the topic still shows the name it was created with: the rename stays.
    topic = bot_api.in_topic(77, "Belarus")
    await say(bot_api, FORUM, "/watch Minsk", "/language ru", "/rules", user_id=ALICE, **topic)
    (listing,) = bot_api.texts(FORUM)[-1:]
    assert listing.splitlines() == [
        f"1. {RULE} — тема «Belarus news»",
        "2. Stocks — тема «Markets»",
        "3. Minsk — тема «Belarus news»",
    ]

    # An icon-only edit carries no name; a topic of a chat the bot never served is not kept.
    bot_api.topic_update(FORUM, 77, renamed=None)
    bot_api.topic_update(-1009999999999, 5, created="Elsewhere")
    await say(bot_api, FORUM, "/rules", user_id=ALICE)
    assert app.store.topic_names(chat.id) == {"77": "Belarus news", "78": "Markets"}
    assert app.store.get_chat("telegram", "-1009999999999") is None
