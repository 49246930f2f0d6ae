"""Time zones, quiet hours and OPML files over Telegram: the real App and TelegramAdapter
against the local Bot API stand-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pytest_httpserver import HTTPServer

from bot.commands import messages as msg
from bot.feeds.opml import OpmlFeed, parse_opml, render_opml
from bot.models import OutboxStatus
from bot.store import utcnow
from tests import test_telegram_conversation as conversation
from tests.feedserver import BELARUS, Item, rss
from tests.telegram_api import FakeBotAPI
from tests.test_telegram_conversation import RULE, Feed, Start, alerts, new_stories, say

# The conversation tests' fixtures: the whole App on the stand-in, and its feed.
feed = conversation.feed
start = conversation.start

MINSK_STORY = Item(
    "belarus-2",
    "Belarus frees prisoners in a prisoner release deal",
    "Minsk let several political prisoners go.",
    published=datetime(2026, 11, 29, 14, 5, tzinfo=UTC),
)


def span_around_now(hours: int = 1) -> str:
    """Quiet hours that hold the present moment, in UTC+03 (Minsk)."""
    now = utcnow() + timedelta(hours=3)
    return f"{now - timedelta(hours=hours):%H:%M}-{now + timedelta(hours=hours):%H:%M}"


async def test_alerts_in_quiet_hours_arrive_silently_in_local_time(
    bot_api: FakeBotAPI, feed: Feed, start: Start
) -> None:
    app = await start()
    answers = await say(
        bot_api, 42, "/subscribe", f"/watch {RULE}", "/timezone Europe/Minks", "/timezone Minsk"
    )
    assert answers[2].startswith("'Europe/Minks' is not a time zone I know. Did you mean: ")
    assert "Europe/Minsk" in answers[2]
    assert answers[3].startswith("'Minsk' is not a time zone I know. Did you mean: Europe/Minsk")
    (zone,) = await say(bot_api, 42, "/timezone Europe/Minsk")
    assert zone.startswith("Time zone: Europe/Minsk (now ")
    (quiet,) = await say(bot_api, 42, f"/quiet {span_around_now()}")
    assert "without a notification sound" in quiet
    (status,) = await say(bot_api, 42, "/status")
    assert f"Time zone Europe/Minsk; quiet hours {span_around_now()} (silent)." in status

    await new_stories(app, feed, MINSK_STORY)
    (alert,) = await bot_api.wait_for(lambda: alerts(bot_api, 42))
    (sent,) = [p for p in bot_api.sent(42) if p["text"] == alert]
    assert sent["disable_notification"] is True
    assert alert.splitlines()[1] == "World News · 2026-11-29 17:05 UTC+03"
    # Replies to commands are not alerts: they notify as usual.
    assert all("disable_notification" not in p for p in bot_api.sent(42) if p["text"] != alert)

    await say(bot_api, 42, "/quiet off")
    await new_stories(app, feed, BELARUS)
    await bot_api.wait_for(lambda: len(alerts(bot_api, 42)) == 2)
    loud = [p for p in bot_api.sent(42) if p["text"] == alerts(bot_api, 42)[1]][0]
    assert "disable_notification" not in loud


async def test_held_alerts_wait_for_the_end_of_quiet_hours(
    bot_api: FakeBotAPI, feed: Feed, start: Start
) -> None:
    app = await start()
    await say(bot_api, 42, "/subscribe", f"/watch {RULE}", "/timezone Europe/Minsk")
    (hold,) = await say(bot_api, 42, f"/quiet {span_around_now()} hold")
    assert "alerts then wait until" in hold
    assert await new_stories(app, feed, MINSK_STORY) == 1
    assert alerts(bot_api, 42) == []
    (status,) = await say(bot_api, 42, "/status")
    assert "0 sent, 1 waiting" in status
    # Quiet hours ended early: what they held goes out now, with a sound.
    await say(bot_api, 42, "/quiet off")
    assert await app.dispatcher.run_once() == 1
    (alert,) = alerts(bot_api, 42)
    assert "disable_notification" not in [p for p in bot_api.sent(42) if p["text"] == alert][0]


async def test_a_new_time_zone_moves_a_waiting_digest(
    bot_api: FakeBotAPI, feed: Feed, start: Start
) -> None:
    app = await start()
    local = utcnow() + timedelta(hours=3)  # Minsk
    slot = (local - timedelta(minutes=30)).strftime("%H:%M")  # passed there, ahead in UTC
    await say(bot_api, 42, "/subscribe", f"/watch {RULE}", f"/digest daily {slot}")
    assert await new_stories(app, feed, MINSK_STORY) == 1
    assert alerts(bot_api, 42) == []  # the slot is hours ahead in UTC
    await say(bot_api, 42, "/timezone Europe/Minsk")  # in Minsk it passed: tomorrow's
    (waiting,) = app.store.due_alerts(OutboxStatus.PENDING, utcnow() + timedelta(hours=30))
    assert app.store.due_alerts(OutboxStatus.PENDING, utcnow() + timedelta(hours=22)) == []
    assert waiting


async def test_export_sends_a_document_and_import_reads_one(
    bot_api: FakeBotAPI, start: Start, httpserver: HTTPServer
) -> None:
    await start()
    httpserver.expect_request("/sport.xml").respond_with_data(
        rss("Sport", [BELARUS]), content_type="application/rss+xml"
    )
    sport = httpserver.url_for("/sport.xml")
    data = render_opml("mine", [OpmlFeed(sport), OpmlFeed("https://not a feed")])

    bot_api.send_document(42, "/import", "mine.opml", data)
    (imported,) = await bot_api.wait_for(lambda: bot_api.texts(42))
    assert imported.startswith("Import: 1 feed added, 1 skipped.\n")
    assert f"+ Sport — {sport}" in imported
    assert [c.params["path"] for c in bot_api.calls_of("download")] == ["documents/file1.opml"]

    (export,) = await say(bot_api, 42, "/export")
    assert export == "This chat's 1 feed, as OPML."
    (document,) = await bot_api.wait_for(lambda: bot_api.documents(42))
    assert document["document"]["filename"] == "newsbot-feeds.opml"
    assert [f.url for f in parse_opml(document["document"]["data"])] == [sport]


async def test_import_of_a_large_or_hostile_document(bot_api: FakeBotAPI, start: Start) -> None:
    await start()
    bot_api.send_document(42, "/import", "big.opml", b"<opml/>", size=20_000_000)
    (large,) = await bot_api.wait_for(lambda: bot_api.texts(42))
    assert large == "Could not read that OPML file: the file is larger than 1 MB"
    assert bot_api.calls_of("getFile") == []  # never downloaded

    laughs = b'<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><opml><body/></opml>'
    bot_api.send_document(42, "/import", "laughs.opml", laughs)
    await bot_api.wait_for(lambda: len(bot_api.texts(42)) == 2)
    assert "DTD or entities" in bot_api.texts(42)[1]
    (usage,) = await say(bot_api, 42, "/import")
    assert usage == msg.IMPORT_USAGE


async def test_button_and_status_times_are_in_the_chats_zone(
    bot_api: FakeBotAPI, feed: Feed, start: Start
) -> None:
    """What a mute button answers, the muted mark in rules, and each feed's last poll in
    status read the chat's clock, as mute and alerts do."""
    app = await start()
    await say(bot_api, 42, "/subscribe", "/timezone Europe/Minsk", f"/watch {RULE}")
    assert await new_stories(app, feed, MINSK_STORY) == 1
    (alert,) = await bot_api.wait_for(
        lambda: [m for m in bot_api.messages.values() if m["text"].startswith("🔔")]
    )
    mute = next(
        b["callback_data"]
        for row in alert["reply_markup"]["inline_keyboard"]
        for b in row
        if b["text"] == msg.BUTTON_LABELS["mute"]
    )
    bot_api.press(42, alert["message_id"], mute, user_id=42)
    (muted,) = await bot_api.wait_for(lambda: [t for t in bot_api.texts(42) if "muted until" in t])
    assert muted.startswith("Rule 1 muted until ") and " UTC+03: " in muted
    (listing,) = await say(bot_api, 42, "/rules")
    assert listing.startswith(f"1. {RULE} (muted until ") and listing.endswith(" UTC+03)")
    (status,) = await say(bot_api, 42, "/status")
    assert status.splitlines()[-1].startswith("• World News: last poll ")
    assert status.endswith(" UTC+03")
