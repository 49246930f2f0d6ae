"""Conversations with the whole service over Telegram.

The real App (store on SQLite, pipeline, dispatcher, scheduler) runs with the real
TelegramAdapter against the local Bot API stand-in; feeds come from pytest-httpserver.
Each test reads like a chat: people type commands, stories appear, alerts arrive.
"""

from __future__ import annotations

import html
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bot.app import App
from bot.commands import messages as msg
from bot.store import utcnow
from tests.conftest import free_port, make_settings
from tests.feedserver import BELARUS, MARKETS, WEATHER, Item, rss
from tests.telegram_api import FakeBotAPI
from tests.test_telegram_render import parse

RULE = 'Belarus AND "prisoner release"'
BOT = "newsbot_test_bot"
ALICE, BOB = 7, 8  # Alice administers the groups below, Bob is a plain member


class Feed:
    """A feed served by pytest-httpserver; a test changes ``items`` between polls."""

    def __init__(self, server: HTTPServer, items: list[Item]) -> None:
        self.items = items
        self.url = server.url_for("/world.xml")
        server.expect_request("/world.xml").respond_with_handler(self._respond)

    def _respond(self, request: Request) -> Response:
        return Response(rss("World News", self.items), content_type="application/rss+xml")


Start = Callable[..., Awaitable[App]]


@pytest.fixture
def feed(httpserver: HTTPServer) -> Feed:
    return Feed(httpserver, [WEATHER])


@pytest.fixture
async def start(bot_api: FakeBotAPI, feed: Feed, sqlite_url: str) -> AsyncIterator[Start]:
    """Starts the whole service on Telegram; waits for the feed's first poll (which only
    learns the stories already there), so a test's own polls decide what is new."""
    apps: list[App] = []

    async def starter(**settings: Any) -> App:
        telegram = {
            "token": bot_api.token,
            "api_base_url": bot_api.url,
            **settings.pop("telegram", {}),
        }
        app = App(
            make_settings(
                sqlite_url,
                telegram=telegram,
                feeds=[{"url": feed.url, "interval": "1h"}],
                **settings,
            ),
            health=False,
            poll_feeds=False,  # polled by hand (new_stories), so no tick races the test
        )
        await app.start()
        apps.append(app)
        for feed_id in app.store.active_feed_ids():  # the quiet first poll
            assert (await app.pipeline.poll(feed_id)).status == "ok"
        return app

    yield starter
    for app in apps:
        await app.stop()


async def new_stories(app: App, feed: Feed, *items: Item) -> int:
    """The feed now also carries ``items``; poll it as the scheduler would; alerts queued."""
    feed.items = [*items, *feed.items]
    (feed_id,) = app.store.active_feed_ids()
    app.store.set_next_poll(feed_id, utcnow())
    report = await app.pipeline.poll(feed_id)
    assert report.status == ("ok" if items else "not_modified"), report  # the same bytes
    await app.dispatcher.run_once()
    return report.alerts


async def say(bot_api: FakeBotAPI, chat: int, *commands: str, **sender: Any) -> list[str]:
    """Type ``commands`` in ``chat`` one after another; returns the bot's answers."""
    before = len(bot_api.texts(chat))
    for command in commands:
        bot_api.send_command(chat, command, **sender)
    await bot_api.wait_for(lambda: len(bot_api.texts(chat)) >= before + len(commands))
    return bot_api.texts(chat)[before:]


def alerts(bot_api: FakeBotAPI, chat: int) -> list[str]:
    return [text for text in bot_api.texts(chat) if text.startswith("🔔")]


async def test_subscribe_watch_and_one_alert_arrives(
    bot_api: FakeBotAPI, feed: Feed, start: Start
) -> None:
    app = await start()
    answers = await say(bot_api, 42, "/start", "/subscribe", f"/watch {RULE}", "/rules")
    assert answers == [msg.HELP, msg.SUBSCRIBED, f"Rule 1 added: {RULE}", f"1. {RULE}"]
    assert all(p.get("parse_mode") is None for p in bot_api.sent(42))  # replies are plain text

    assert await new_stories(app, feed, BELARUS, MARKETS) == 1
    (alert,) = await bot_api.wait_for(lambda: alerts(bot_api, 42))
    (sent,) = [p for p in bot_api.sent(42) if p["text"] == alert]
    assert sent["parse_mode"] == "HTML"
    assert sent["link_preview_options"] == {"is_disabled": True}
    lines = alert.splitlines()
    assert lines[0] == (
        '🔔 <a href="https://news.example/belarus-1"><b>Belarus</b> leader dampens hopes for '
        "mass <b>prisoner release</b></a>"
    )
    assert lines[1].startswith("World News · ") and lines[1].endswith(" UTC")
    assert lines[2] == "🔎 <code>Belarus AND &quot;prisoner release&quot;</code>"
    assert "political prisoners" in alert and "https://news.example/belarus-1" in lines
    parse(alert)

    await app.dispatcher.run_once()
    await new_stories(app, feed)  # nothing new: nothing more is sent
    assert len(alerts(bot_api, 42)) == 1
    assert bot_api.confirmed  # every update was fetched and acknowledged


async def test_bad_input_gets_a_short_reply_saying_what_to_type(
    bot_api: FakeBotAPI, start: Start
) -> None:
    await start()
    bad_rule, unknown, no_args, unwatch = await say(
        bot_api, 42, '/watch Belarus AND "prisoner', "/frobnicate", "/watch", "/unwatch one"
    )
    assert "column" in bad_rule and "watch again" in bad_rule
    assert unknown == msg.UNKNOWN.format(name="frobnicate")
    assert no_args == msg.WATCH_USAGE
    assert unwatch == msg.UNWATCH_USAGE


async def test_in_groups_only_admins_change_things(bot_api: FakeBotAPI, start: Start) -> None:
    await start()
    group = -555
    bot_api.chat(group, "group")
    bot_api.set_member(group, ALICE, "administrator")

    refused, rules = await say(bot_api, group, f"/subscribe@{BOT}", "/rules", user_id=BOB)
    assert refused == msg.ADMINS_ONLY
    assert rules == msg.NO_RULES  # reading is open to everyone
    checked = [c.params["user_id"] for c in bot_api.calls_of("getChatMember")]
    assert checked == [BOB]  # asked once, for the change only
    refusal = bot_api.sent(group)[0]
    assert refusal["reply_parameters"]["message_id"] > 0  # answered as a reply in the group

    # Commands for other bots, and unknown ones not addressed to us, get no answer.
    bot_api.send_command(group, "/watch@OtherBot x", user_id=ALICE)
    bot_api.send_command(group, "/frobnicate", user_id=ALICE)
    unknown, subscribed, added = await say(
        bot_api,
        group,
        f"/frobnicate@{BOT}",
        f"/subscribe@{BOT}",
        f"/watch@{BOT} {RULE}",
        user_id=ALICE,
    )
    assert unknown == msg.UNKNOWN.format(name="frobnicate")
    assert subscribed == msg.SUBSCRIBED
    assert added == f"Rule 1 added: {RULE}"

    (owner,) = await say(bot_api, group, "/unwatch 1", user_id=BOB)
    assert owner == msg.ADMINS_ONLY
    bot_api.set_member(group, BOB, "creator")
    (removed,) = await say(bot_api, group, "/unwatch 1", user_id=BOB)
    assert removed == f"Rule 1 removed: {RULE}"


async def test_anonymous_admins_and_channel_posts(bot_api: FakeBotAPI, start: Start) -> None:
    await start()
    group, channel, other = -1001000000001, -1001000000002, -1001000000003
    bot_api.chat(group, "supergroup")
    bot_api.chat(channel, "channel")
    (anonymous,) = await say(bot_api, group, "/subscribe", sender_chat=group)
    assert anonymous == msg.SUBSCRIBED
    (as_channel,) = await say(bot_api, group, "/unsubscribe", sender_chat=other)
    assert as_channel == msg.ADMINS_ONLY  # posting as some channel is not being an admin
    (posted,) = await say(bot_api, channel, "/subscribe")
    assert posted == msg.SUBSCRIBED
    assert bot_api.calls_of("getChatMember") == []


async def test_hostile_feed_text_arrives_escaped(
    bot_api: FakeBotAPI, feed: Feed, start: Start
) -> None:
    app = await start()
    await say(bot_api, 42, "/subscribe", "/watch Belarus")
    # Escaped once in the feed's HTML, so the story's text is literally this markup.
    hostile = '<b>x</b> & <a href="tg://user?id=1">@channel</a>'
    story = Item(
        "hostile-1",
        f"Belarus {html.escape(hostile)}",
        "<p>Belarus freed a group of prisoners on Tuesday, officials in Minsk said. "
        f"The statement was signed {html.escape(hostile)} by the presidential office. "
        "Rights groups welcomed the release but asked for more.</p>",
        link="https://news.example/hostile",
    )
    assert await new_stories(app, feed, story) == 1
    (alert,) = await bot_api.wait_for(lambda: alerts(bot_api, 42))
    parsed = parse(alert)
    assert parsed.hrefs == ["https://news.example/hostile"]  # no tg:// link, no mention
    visible = "".join(parsed.text)
    assert visible.count(hostile) == 2  # title and summary, as text
    assert "&lt;b&gt;x&lt;/b&gt; &amp; &lt;a href=&quot;tg://user?id=1&quot;&gt;" in alert


async def test_rate_limit_delays_but_delivers(
    bot_api: FakeBotAPI, feed: Feed, start: Start
) -> None:
    app = await start()
    await say(bot_api, 42, "/subscribe", f"/watch {RULE}")
    bot_api.fail("sendMessage", 429, "Too Many Requests: retry after 1", {"retry_after": 1})
    assert await new_stories(app, feed, BELARUS) == 1
    (alert,) = await bot_api.wait_for(lambda: alerts(bot_api, 42))
    refused, delivered = [c for c in bot_api.calls_of("sendMessage") if c.params["text"] == alert]
    assert refused.outcome == "failed 429" and delivered.outcome == "ok"
    assert delivered.at - refused.at >= 0.9  # waited as told
    midnight = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    # The stand-in answers before the dispatcher records the send: wait for the record.
    await bot_api.wait_for(lambda: app.store.alert_counts(None, midnight) == {"sent": 1})


async def test_blocked_bot_deactivates_the_chat(
    bot_api: FakeBotAPI, feed: Feed, start: Start
) -> None:
    app = await start()
    await say(bot_api, 42, "/subscribe", f"/watch {RULE}")
    bot_api.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    assert await new_stories(app, feed, BELARUS) == 1
    await bot_api.wait_for(lambda: not app.store.get_chat("telegram", "42").active)  # type: ignore[union-attr]
    chat = app.store.get_chat("telegram", "42")
    assert chat is not None and "blocked" in (chat.inactive_reason or "")
    assert await new_stories(app, feed, Item("belarus-2", "Belarus prisoner release talks")) == 0
    assert alerts(bot_api, 42) == []

    # Unblocked and subscribed again: alerts resume.
    (back,) = await say(bot_api, 42, "/subscribe")
    assert back == msg.SUBSCRIBED
    assert await new_stories(app, feed, Item("belarus-3", "Belarus prisoner release agreed")) == 1
    await bot_api.wait_for(lambda: alerts(bot_api, 42))


async def test_migrated_group_keeps_its_rules(
    bot_api: FakeBotAPI, feed: Feed, start: Start
) -> None:
    app = await start()
    group, supergroup = -123, -100123
    bot_api.chat(group, "group")
    bot_api.chat(supergroup, "supergroup")
    bot_api.set_member(group, ALICE, "creator")
    await say(bot_api, group, "/subscribe", f"/watch {RULE}", user_id=ALICE)

    bot_api.fail(
        "sendMessage",
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        {"migrate_to_chat_id": supergroup},
    )
    assert await new_stories(app, feed, BELARUS) == 1
    (alert,) = await bot_api.wait_for(lambda: alerts(bot_api, supergroup))
    assert "prisoner release" in alert
    assert app.store.get_chat("telegram", str(group)) is None
    (rules,) = await say(bot_api, supergroup, "/rules", user_id=BOB)
    assert rules == f"1. {RULE}"


async def test_migration_notice_moves_rules_at_once(
    bot_api: FakeBotAPI, feed: Feed, start: Start
) -> None:
    app = await start()
    group, supergroup = -321, -100321
    bot_api.chat(group, "group")
    bot_api.chat(supergroup, "supergroup")
    bot_api.set_member(group, ALICE, "administrator")
    await say(bot_api, group, "/subscribe", f"/watch {RULE}", user_id=ALICE)
    # Someone used the bot in the new supergroup before the notice arrived: two chats merge.
    (empty,) = await say(bot_api, supergroup, "/rules", user_id=BOB)
    assert empty == msg.NO_RULES

    notice = bot_api.message_update(group, "", user_id=ALICE, migrate_to_chat_id=supergroup)
    del notice["message"]["text"]
    bot_api.push_update(notice)
    await bot_api.wait_for(lambda: app.store.get_chat("telegram", str(group)) is None)
    (rules,) = await say(bot_api, supergroup, "/rules", user_id=BOB)
    assert rules == f"1. {RULE}"

    assert await new_stories(app, feed, BELARUS) == 1
    await bot_api.wait_for(lambda: alerts(bot_api, supergroup))
    assert alerts(bot_api, group) == []


async def test_webhook_mode_serves_commands(bot_api: FakeBotAPI, start: Start) -> None:
    port = free_port()
    hook = f"http://127.0.0.1:{port}/tg"
    await start(
        telegram={
            "mode": "webhook",
            "webhook_url": hook,
            "webhook_secret": "hook-secret",
            "listen": f"127.0.0.1:{port}",
        }
    )
    assert bot_api.calls_of("setWebhook")[0].params["secret_token"] == "hook-secret"
    update = {"update_id": 1, **bot_api.message_update(42, "/subscribe")}
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        headers = {"X-Telegram-Bot-Api-Secret-Token": "hook-secret"}
        async with session.post(hook, json=update, headers=headers) as response:
            assert response.status == 200
    (answer,) = await bot_api.wait_for(lambda: bot_api.texts(42))
    assert answer == msg.SUBSCRIBED
    assert time.monotonic() - started < 3
