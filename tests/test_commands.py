"""Chat commands through the platform-free service, played as conversations."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
from pytest_httpserver import HTTPServer

from bot.adapters.console import ConsoleAdapter
from bot.app import App
from bot.commands import messages as msg
from bot.commands.parse import Command, parse_slash, parse_words
from bot.commands.service import Caller
from bot.store import utcnow
from tests.conftest import make_settings
from tests.feedserver import BELARUS, WEATHER, rss


class Chat:
    """One chat talking to the bot: ``await chat.say("/watch x")`` returns the reply text."""

    def __init__(self, app: App, chat_id: str = "room", *, admin: bool = True) -> None:
        self.app = app
        self.chat_id = chat_id
        self.admin = admin

    async def say(self, text: str) -> str:
        async def may_edit() -> bool:
            return self.admin

        command = parse_slash(text, "newsbot_bot")
        assert command is not None, text
        reply = await self.app.service.handle(
            Caller("console", self.chat_id, "u1", may_edit=may_edit), command
        )
        return reply.text


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[App]:
    instance = App(
        make_settings(database_url, rules={"max_per_chat": 3}),
        adapters={"console": ConsoleAdapter(io.StringIO())},
        health=False,
    )
    await instance.prepare()
    yield instance
    await instance.stop()


def test_parsing() -> None:
    assert parse_slash("/watch@newsbot_bot Belarus  AND x", "newsbot_bot") == Command(
        "watch", "Belarus  AND x"
    )
    assert parse_slash("/watch@other_bot x", "newsbot_bot") is None
    assert parse_slash("hello") is None
    assert parse_slash("/RULES") == Command("rules", "")
    assert parse_words("watch  a b") == Command("watch", "a b")
    assert parse_words("   ") == Command("help", "")


async def test_subscribe_watch_rules_unwatch(app: App) -> None:
    chat = Chat(app)
    assert "watch QUERY" in await chat.say("/help")
    assert (await chat.say("/subscribe")).startswith("Subscribed")
    assert "already subscribed" in await chat.say("/subscribe")
    assert (
        await chat.say('/watch Belarus AND "prisoner release"')
        == 'Rule 1 added: Belarus AND "prisoner release"'
    )
    assert await chat.say("/watch sanctions") == "Rule 2 added: sanctions"
    assert await chat.say("/rules") == '1. Belarus AND "prisoner release"\n2. sanctions'
    assert await chat.say("/unwatch 1") == 'Rule 1 removed: Belarus AND "prisoner release"'
    assert await chat.say("/rules") == "1. sanctions"
    assert "no rule 7" in await chat.say("/unwatch 7")
    assert "Usage: unwatch N" in await chat.say("/unwatch first")
    assert len(app.rulebook) == 1
    assert (await chat.say("/unsubscribe")).startswith("Unsubscribed")
    assert (
        await chat.say("/rules")
        == "1. sanctions\n"
        + "This chat is not subscribed. Send subscribe to start receiving alerts."
    )


async def test_bad_input_gets_a_reply_saying_what_to_do(app: App) -> None:
    chat = Chat(app)
    assert "Send help" in await chat.say("/frobnicate")
    assert "Usage: watch QUERY" in await chat.say("/watch")
    bad = await chat.say('/watch Belarus AND "prisoner release')
    assert "column" in bad and "send watch again" in bad
    assert await chat.say("/rules") == "This chat has no rules yet. Add one with: watch QUERY"
    assert "Usage: mute DURATION" in await chat.say("/mute forever")
    assert "digest daily HH:MM" in await chat.say("/digest weekly")
    assert "Usage: addfeed URL" in await chat.say("/addfeed")
    assert "not a web address" in await chat.say("/addfeed not a url")


async def test_limits_are_enforced_with_a_clear_reply(app: App) -> None:
    chat = Chat(app)
    for word in ("one", "two", "three"):
        await chat.say(f"/watch {word}")
    assert "Limit reached" in await chat.say("/watch four")
    assert len(app.store.all_rules()) == 3


async def test_non_admins_may_read_but_not_change(app: App) -> None:
    admin = Chat(app, "group")
    member = Chat(app, "group", admin=False)
    await admin.say("/watch Belarus")
    assert "Only chat administrators" in await member.say("/watch sanctions")
    assert "Only chat administrators" in await member.say("/unwatch 1")
    assert "Only chat administrators" in await member.say("/subscribe")
    assert (
        await member.say("/rules")
        == "1. Belarus\nThis chat is not subscribed. Send subscribe to start receiving alerts."
    )
    assert "This chat" in await member.say("/status")


async def test_mute_unmute_digest_status(app: App) -> None:
    chat = Chat(app)
    await chat.say("/subscribe")
    assert "Muted until" in await chat.say("/mute 2h")
    stored = app.store.get_chat("console", "room")
    assert stored is not None and stored.muted(utcnow())
    assert "muted until" in await chat.say("/status")
    assert await chat.say("/unmute") == "Unmuted: alerts resume."
    assert await chat.say("/unmute") == "This chat is not muted."
    assert await chat.say("/digest daily 7:30") == "Digest: daily 07:30."
    assert "digest daily 07:30" in await chat.say("/status")
    assert await chat.say("/digest off") == "Digest off: alerts arrive one by one."


async def test_addfeed_from_a_web_page_then_test_and_removefeed(
    app: App, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/world.xml").respond_with_data(
        rss("World News", [BELARUS, WEATHER]), content_type="application/rss+xml"
    )
    page = (
        '<html><head><link rel="alternate" type="application/rss+xml" href="/world.xml">'
        "</head></html>"
    )
    httpserver.expect_request("/").respond_with_data(page, content_type="text/html")
    chat = Chat(app)
    reply = await chat.say(f"/addfeed {httpserver.url_for('/')}")
    assert reply.startswith(f"Feed 1 added: World News — {httpserver.url_for('/world.xml')}\n")
    assert "already has that feed" in await chat.say(f"/addfeed {httpserver.url_for('/world.xml')}")
    feeds_reply = await chat.say("/feeds")
    assert feeds_reply.startswith("1. ") and httpserver.url_for("/world.xml") in feeds_reply
    # The first poll records the feed's stories; `test` then searches them.
    (feed,) = app.store.list_feeds()
    await app.pipeline.poll(feed.id)
    found = await chat.say('/test "prisoner release"')
    assert found.startswith("1 of the last 2 stories match") and BELARUS.title in found
    assert "No recent story matches" in await chat.say("/test volcano")
    assert await chat.say("/removefeed 1") == "Feed 1 removed: World News"
    assert (
        await chat.say("/feeds") == "This chat has no feeds of its own. Add one with: addfeed URL"
    )


async def test_addfeed_refuses_private_addresses_by_default(
    database_url: str, httpserver: HTTPServer
) -> None:
    settings = make_settings(database_url, fetch={"allow_private_addresses": False})
    app = App(settings, adapters={"console": ConsoleAdapter(io.StringIO())}, health=False)
    await app.prepare()
    try:
        reply = await Chat(app).say(f"/addfeed {httpserver.url_for('/feed.xml')}")
        assert reply.startswith("Could not add that feed") and "allow_private_addresses" in reply
        assert app.store.list_feeds() == []
    finally:
        await app.stop()


async def test_addfeed_of_something_that_is_no_feed(app: App, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/").respond_with_data(
        "<html><body>hello</body></html>", content_type="text/html"
    )
    httpserver.expect_request("/404", method="GET").respond_with_data("", status=404)
    reply = await Chat(app).say(f"/addfeed {httpserver.url_for('/')}")
    assert reply.startswith("Could not add that feed"), reply
    assert f"no feed found at {httpserver.url_for('/')} —" in reply  # the address, not "URL"
    assert app.store.list_feeds() == []


async def test_addfeed_fetches_the_feed_once(app: App, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/world.xml").respond_with_data(
        rss("World News", [BELARUS]), content_type="application/rss+xml"
    )
    reply = await Chat(app).say(f"/addfeed {httpserver.url_for('/world.xml')}")
    assert reply.startswith("Feed 1 added: World News"), reply
    assert [request.path for request, _ in httpserver.log] == ["/world.xml"]


async def test_replies_name_the_right_command_and_count(app: App) -> None:
    chat = Chat(app)
    bad = await chat.say("/test Belarus AND (")
    assert "send test again" in bad and "watch" not in bad
    assert await chat.say("/digest weekly") == msg.DIGEST_USAGE
    await chat.say("/watch Belarus")
    assert "; 1 rule;" in await chat.say("/status")
    await chat.say("/watch Minsk")
    assert "; 2 rules;" in await chat.say("/status")
    assert "text:" in await chat.say("/help")


async def test_an_exact_duplicate_rule_is_not_added(app: App) -> None:
    chat = Chat(app)
    await chat.say("/subscribe")
    assert await chat.say('/watch Belarus AND "prisoner release"') == (
        'Rule 1 added: Belarus AND "prisoner release"'
    )
    assert await chat.say('/watch Belarus  AND "prisoner release"') == msg.WATCH_DUPLICATE.format(
        number=1, query='Belarus AND "prisoner release"'
    )
    assert [r.query for r in app.store.all_rules()] == ['Belarus AND "prisoner release"']
    assert (await chat.say("/watch belarus")).startswith("Rule 2 added")  # not the same text


async def test_an_operator_feed_is_not_added_again_by_a_chat(
    database_url: str, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request("/world.xml").respond_with_data(
        rss("World News", [BELARUS]), content_type="application/rss+xml"
    )
    url = httpserver.url_for("/world.xml")
    settings = make_settings(database_url, feeds=[{"url": url, "name": "World"}])
    app = App(settings, adapters={"console": ConsoleAdapter(io.StringIO())}, health=False)
    await app.prepare()
    try:
        chat = Chat(app)
        reply = await chat.say(f"/addfeed {url}")
        assert reply == msg.ADDFEED_OPERATOR.format(label="World", url=url)
        assert await chat.say("/feeds") == (
            msg.FEEDS_NONE + "\nFeeds every chat gets (set by the operator):\n• World"
        )
        # Added before this was refused: status still shows it once.
        stored = app.store.ensure_chat("console", "room")
        (feed,) = app.store.list_feeds()
        app.store.add_chat_feed(stored.id, feed.id, limit=10)
        status = await chat.say("/status")
        assert status.count("• World:") == 1, status

        # A failing config feed is fixed in the config: removefeed cannot remove it.
        httpserver.clear_all_handlers()
        httpserver.expect_request("/world.xml").respond_with_data("gone", status=404)
        app.store.remove_chat_feed(stored.id, feed.id)
        app.store.set_next_poll(feed.id, utcnow())
        await app.pipeline.poll(feed.id)
        (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert "under feeds: in the config" in warning and "removefeed" not in warning
    finally:
        await app.stop()


async def test_timezone_and_quiet_hours(app: App) -> None:
    chat = Chat(app)
    assert "time zone: UTC" in await chat.say("/timezone")
    assert "Did you mean: Europe/Minsk" in await chat.say("/timezone Europe/Minks")
    assert "not a time zone I know" in await chat.say("/timezone Nowhere")
    reply = await chat.say("/timezone europe/minsk")
    assert reply.startswith("Time zone: Europe/Minsk (now ") and "UTC+03" in reply
    assert "Quiet hours 22:00-07:00 (Europe/Minsk)" in await chat.say("/quiet 22:00-7:00")
    assert "without a notification sound" in await chat.say("/quiet")
    assert "wait until 07:00" in await chat.say("/quiet 22:00-07:00 hold")
    stored = app.store.get_chat("console", "room")
    assert stored is not None
    assert (stored.timezone, stored.quiet) == ("Europe/Minsk", "22:00-07:00 hold")
    status = await chat.say("/status")
    assert "Time zone Europe/Minsk; quiet hours 22:00-07:00 hold (held)." in status
    assert "Usage: quiet" in await chat.say("/quiet sometimes")
    assert await chat.say("/quiet off") == msg.QUIET_OFF
    assert "quiet hours none" in await chat.say("/status")
    assert "UTC+03" in await chat.say("/mute 1h")


async def test_zone_commands_need_an_admin_in_groups(app: App) -> None:
    member = Chat(app, "group", admin=False)
    assert await member.say("/timezone Europe/Minsk") == msg.ADMINS_ONLY
    assert await member.say("/quiet 22:00-07:00") == msg.ADMINS_ONLY
    assert "newsbot feeds" not in await member.say("/export")  # read-only: answered


def test_help_lists_the_new_commands() -> None:
    for command in ("timezone", "quiet", "export", "import"):
        assert f"\n{command} " in msg.HELP
