"""newsbot as a Slack app, end to end: the whole service with the real slack-bolt and
slack_sdk, a local stand-in of the Slack Web API, feeds from a local HTTP server, and
signed slash commands and events posted to the bot's HTTP endpoint as Slack posts them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape as xml_escape

import aiohttp
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

import bot.adapters.slack as slack_module
from bot.app import App
from bot.commands import messages as msg
from bot.store import utcnow
from tests.conftest import free_port, make_settings
from tests.slack_api import SlackApiStandIn, event_body, signed_headers, slash_command_body

SECRET = "s3cr3t"
CHANNEL = "C0NEWS"
OLD_STORY = ("old-1", "Weather is mild in Minsk", "Nothing to see.")
MATCHING = (
    "new-1",
    "Belarus leader dampens hopes for mass prisoner release",
    "Belarus will not free prisoners en masse, the leader said on Sunday. Talks continue.",
)
OTHER = ("new-2", "Football results", "Dinamo won again.")


def rss(*items: tuple[str, str, str]) -> str:
    """An RSS 2.0 feed of (guid, title, description) items."""
    published = format_datetime(utcnow() - timedelta(minutes=5))
    entries = "".join(
        f"<item><guid>{xml_escape(g)}</guid><title>{xml_escape(t)}</title>"
        f"<link>https://news.example/{xml_escape(g)}</link>"
        f"<description>{xml_escape(d)}</description><pubDate>{published}</pubDate></item>"
        for g, t, d in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Example World</title><link>https://news.example/</link>{entries}"
        "</channel></rss>"
    )


class Workspace:
    """Slack's side of the conversation: signs requests and posts them to the bot."""

    def __init__(
        self, app: App, slack_api: SlackApiStandIn, endpoint: str, feeds: HTTPServer
    ) -> None:
        self.app = app
        self.api = slack_api
        self.endpoint = endpoint
        self.feeds = feeds
        self.session = aiohttp.ClientSession()

    async def post(
        self, body: str, content_type: str, *, secret: str = SECRET, timestamp: int | None = None
    ) -> tuple[int, Any]:
        headers = {"Content-Type": content_type, **signed_headers(secret, body, timestamp)}
        async with self.session.post(self.endpoint, data=body, headers=headers) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text

    async def command(
        self, text: str, *, channel: str = CHANNEL, user: str = "U0ALICE", **signing: Any
    ) -> tuple[int, Any]:
        """``/newsbot text`` typed by ``user`` in ``channel``; returns status and ack body."""
        body, content_type = slash_command_body(
            text, response_url=self.api.response_url(), channel=channel, user=user
        )
        return await self.post(body, content_type, **signing)

    async def event(self, event: dict[str, Any], **signing: Any) -> tuple[int, Any]:
        body, content_type = event_body(event)
        return await self.post(body, content_type, **signing)

    def serve_feed(self, *items: tuple[str, str, str]) -> None:
        self.feeds.clear_all_handlers()
        self.feeds.expect_request("/feed.xml").respond_with_data(
            rss(*items), content_type="application/rss+xml"
        )

    @property
    def feed_id(self) -> int:
        (feed,) = self.app.store.list_feeds()
        return feed.id

    async def poll(self) -> int:
        """Poll the feed now; returns how many alerts were queued."""
        await asyncio.to_thread(self.app.store.set_next_poll, self.feed_id, utcnow())
        report = await self.app.pipeline.poll(self.feed_id)
        assert report.status == "ok", report
        return report.alerts

    def posted_blocks(self) -> list[list[dict[str, Any]]]:
        found = []
        for call in self.api.called("chat.postMessage"):
            blocks = call.params["blocks"]
            found.append(json.loads(blocks) if isinstance(blocks, str) else blocks)
        return found


StartApp = Callable[..., Awaitable[Workspace]]


@pytest.fixture
async def start_app(
    slack_api: SlackApiStandIn, httpserver: HTTPServer, sqlite_url: str
) -> AsyncIterator[StartApp]:
    """Starts newsbot in Slack HTTP mode; the test drives polls and sends itself."""
    started: list[Workspace] = []

    async def start(**slack: Any) -> Workspace:
        port = free_port()
        settings = make_settings(
            sqlite_url,
            slack={
                "bot_token": "xoxb-test",
                "signing_secret": SECRET,
                "listen": f"127.0.0.1:{port}",
                "api_base_url": slack_api.api_base_url,
                **slack,
            },
            feeds=[{"url": httpserver.url_for("/feed.xml"), "interval": "1h"}],
        )
        # The test polls and drains the outbox by hand, so no scheduled job races it.
        app = App(settings, health=False, poll_feeds=False, send_alerts=False)
        workspace = Workspace(app, slack_api, f"http://127.0.0.1:{port}/slack/events", httpserver)
        workspace.serve_feed(OLD_STORY)
        await app.start()
        started.append(workspace)
        app.scheduler.remove("sync")
        return workspace

    yield start
    for workspace in started:
        await workspace.session.close()
        await workspace.app.stop()


async def subscribe_and_watch(
    slack: Workspace, query: str = 'Belarus AND "prisoner release"'
) -> None:
    status, ack = await slack.command("subscribe")
    assert status == 200
    assert ack["text"] == msg.SUBSCRIBED
    assert ack["response_type"] == "in_channel"
    status, ack = await slack.command(f"watch {query}")
    assert status == 200
    assert ack["text"] == msg.WATCH_OK.format(number=1, query=query).replace("&", "&amp;")


async def test_subscribe_watch_and_one_block_kit_alert(start_app: StartApp) -> None:
    slack = await start_app()
    await subscribe_and_watch(slack)
    assert await slack.poll() == 0  # the first poll takes existing stories as read
    slack.serve_feed(OLD_STORY, MATCHING, OTHER)
    assert await slack.poll() == 1

    assert await slack.app.dispatcher.run_once() == 1

    (call,) = slack.api.called("chat.postMessage")
    assert call.params["channel"] == CHANNEL
    (blocks,) = slack.posted_blocks()
    assert blocks[0]["text"]["text"] == (
        "*<https://news.example/new-1|Belarus leader dampens hopes for mass prisoner release>*"
    )
    assert blocks[1]["elements"][0]["text"].startswith("Example World · ")
    assert blocks[1]["elements"][1]["text"] == 'Rule: Belarus AND "prisoner release"'
    assert blocks[1]["elements"][2]["text"].startswith("matched: *Belarus*")
    (key_points,) = blocks[2]["elements"]
    assert key_points["type"] == "rich_text_list" and key_points["style"] == "bullet"
    first_point = key_points["elements"][0]["elements"]
    assert {"type": "text", "text": "Belarus", "style": {"bold": True}} in first_point
    assert call.params["text"].startswith("Belarus leader dampens hopes")
    # Sent once: another drain finds nothing to send.
    assert await slack.app.dispatcher.run_once() == 0
    assert len(slack.api.called("chat.postMessage")) == 1


async def test_read_only_replies_are_ephemeral(start_app: StartApp) -> None:
    slack = await start_app()
    await subscribe_and_watch(slack)
    status, ack = await slack.command("rules")
    assert status == 200
    assert ack["response_type"] == "ephemeral"
    assert ack["text"] == '1. Belarus AND "prisoner release"'
    assert ack["blocks"][0]["text"]["type"] == "plain_text"
    status, ack = await slack.command("")
    assert ack["text"].startswith("newsbot watches news feeds")
    assert ack["response_type"] == "ephemeral"


@pytest.mark.parametrize(
    ("secret", "age"),
    [("wrong-secret", 0), (SECRET, 600)],  # a bad signature; a replayed (stale) request
)
async def test_unsigned_or_stale_requests_are_refused(
    start_app: StartApp, secret: str, age: int
) -> None:
    slack = await start_app()
    calls_before = len(slack.api.calls)
    status, _ = await slack.command("subscribe", secret=secret, timestamp=int(time.time()) - age)
    assert status == 401
    status, _ = await slack.event(
        {
            "type": "app_mention",
            "user": "U0ALICE",
            "text": "<@UBOT> subscribe",
            "channel": CHANNEL,
            "ts": "1.0",
        },
        secret=secret,
        timestamp=int(time.time()) - age,
    )
    assert status == 401
    await asyncio.sleep(0.2)  # give a wrongly accepted request time to act
    assert await asyncio.to_thread(slack.app.store.get_chat, "slack", CHANNEL) is None
    assert len(slack.api.calls) == calls_before


async def test_rate_limited_alert_waits_then_arrives(start_app: StartApp) -> None:
    slack = await start_app()
    await subscribe_and_watch(slack)
    await slack.poll()
    slack.serve_feed(OLD_STORY, MATCHING)
    assert await slack.poll() == 1
    slack.api.fail(
        "chat.postMessage", status=429, error="ratelimited", headers={"Retry-After": "1"}
    )

    assert await slack.app.dispatcher.run_once() == 0
    assert await slack.app.dispatcher.run_once() == 0  # Retry-After is honoured
    await asyncio.sleep(1.1)
    assert await slack.app.dispatcher.run_once() == 1

    assert len(slack.api.called("chat.postMessage")) == 2
    assert len(slack.posted_blocks()) == 2  # the same alert, rendered again
    assert slack.posted_blocks()[0] == slack.posted_blocks()[1]


async def test_hostile_feed_text_arrives_inert(start_app: StartApp) -> None:
    slack = await start_app()
    await subscribe_and_watch(slack, "Belarus")
    await slack.poll()
    hostile = "<!channel> <@U123> <https://evil.example|click here> AT&T Belarus"
    slack.serve_feed(OLD_STORY, ("evil-1", hostile, f"{hostile}. More about Belarus & co."))
    assert await slack.poll() == 1
    assert await slack.app.dispatcher.run_once() == 1

    (call,) = slack.api.called("chat.postMessage")
    (blocks,) = slack.posted_blocks()
    # Slack parses mrkdwn and the notification text: there, nothing may be live.
    # plain_text objects are never parsed, so they may show the text as it is.
    # Rich text elements of type "text" are literal too.
    parsed = [call.params["text"]]
    for block in blocks:
        if block["type"] == "rich_text":
            items = [item for part in block["elements"] for item in part["elements"]]
            assert all(e["type"] == "text" for item in items for e in item["elements"])
            continue
        if block["type"] == "actions":  # button labels are ours, and plain text
            assert all(e["text"]["type"] == "plain_text" for e in block["elements"])
            continue
        for text_object in [block.get("text"), *block.get("elements", [])]:
            if text_object and text_object["type"] == "mrkdwn":
                assert text_object["verbatim"] is True
                parsed.append(text_object["text"])
            elif text_object:
                assert text_object["type"] == "plain_text"
    for live in ("<!channel>", "<@U123>", "<https://evil.example"):
        assert all(live not in text for text in parsed)
    title = blocks[0]["text"]["text"]
    assert (
        "&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil.example|click here&gt; AT&amp;T" in title
    )
    assert blocks[0]["text"]["verbatim"] is True
    assert "&lt;!channel&gt;" in call.params["text"]


async def test_slow_command_is_acknowledged_then_answered(
    start_app: StartApp, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slack_module, "ACK_BUDGET", 0.2)
    slack = await start_app()

    def slow_feed(request: Request) -> Response:
        time.sleep(0.6)  # a slow site: addfeed takes longer than the ack budget
        return Response(rss(OTHER), content_type="application/rss+xml")

    httpserver.expect_request("/slow.xml").respond_with_handler(slow_feed)
    started = time.monotonic()
    status, ack = await slack.command(f"addfeed {httpserver.url_for('/slow.xml')}")
    assert time.monotonic() - started < 0.6
    assert status == 200
    assert ack == {"text": msg.WORKING, "response_type": "ephemeral"}

    (response,) = await slack.api.wait_for_response()
    assert response["text"].startswith("Feed 1 added: Example World")
    assert response["response_type"] == "in_channel"


async def test_mention_runs_the_same_commands(start_app: StartApp) -> None:
    slack = await start_app()
    mention = {"type": "app_mention", "user": "U0ALICE", "channel": CHANNEL, "ts": "1700.1"}
    status, _ = await slack.event({**mention, "text": "<@UBOT> subscribe"})
    assert status == 200
    (reply,) = await slack.api.wait_for("chat.postMessage")
    assert reply.params["text"] == msg.SUBSCRIBED
    assert reply.params["thread_ts"] == "1700.1"

    await slack.event({**mention, "ts": "1700.2", "text": "<@UBOT> rules"})
    (private,) = await slack.api.wait_for("chat.postEphemeral")
    assert private.params["user"] == "U0ALICE"
    assert private.params["text"] == msg.NO_RULES
    chat = await asyncio.to_thread(slack.app.store.get_chat, "slack", CHANNEL)
    assert chat is not None and chat.subscribed


async def test_redelivered_event_is_answered_once(start_app: StartApp) -> None:
    slack = await start_app()
    body, content_type = event_body(
        {
            "type": "app_mention",
            "user": "U0ALICE",
            "channel": CHANNEL,
            "ts": "1.0",
            "text": "<@UBOT> subscribe",
        }
    )
    assert (await slack.post(body, content_type))[0] == 200
    await slack.api.wait_for("chat.postMessage")
    assert (await slack.post(body, content_type))[0] == 200  # Slack's retry, same event_id
    await slack.command("status")  # a later request: the retry had its chance to act
    assert len(slack.api.called("chat.postMessage")) == 1


async def test_direct_message_is_a_command(start_app: StartApp) -> None:
    slack = await start_app()
    dm = {
        "type": "message",
        "channel_type": "im",
        "channel": "D0ALICE",
        "user": "U0ALICE",
        "ts": "5.0",
        "text": "watch Belarus",
    }
    await slack.event(dm)
    (reply,) = await slack.api.wait_for("chat.postMessage")
    assert reply.params["channel"] == "D0ALICE"
    assert reply.params["text"].startswith(
        msg.WATCH_OK_UNSUBSCRIBED.format(number=1, query="Belarus")
    )
    await slack.event({**dm, "ts": "5.1", "subtype": "message_changed"})
    await slack.command("status")
    assert len(slack.api.called("chat.postMessage")) == 1


async def test_url_verification(start_app: StartApp) -> None:
    slack = await start_app()
    body = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "t"})
    status, answer = await slack.post(body, "application/json")
    assert status == 200
    assert answer == {"challenge": "abc123"}


async def test_only_workspace_admins_may_edit_when_configured(start_app: StartApp) -> None:
    slack = await start_app(editors="admins")
    slack.api.admins.add("U0ADMIN")
    status, ack = await slack.command("subscribe", user="U0BOB")
    assert status == 200
    assert ack == {
        "text": msg.ADMINS_ONLY,
        "blocks": [
            {
                "type": "section",
                "text": {"type": "plain_text", "text": msg.ADMINS_ONLY, "emoji": False},
            }
        ],
        "response_type": "ephemeral",
    }
    _, ack = await slack.command("rules", user="U0BOB")  # reading is for everyone
    assert ack["text"] == msg.NO_RULES
    _, ack = await slack.command("subscribe", user="U0ADMIN")
    assert ack["text"] == msg.SUBSCRIBED
    await slack.command("unsubscribe", user="U0ADMIN")
    assert [c.params["user"] for c in slack.api.called("users.info")] == ["U0BOB", "U0ADMIN"]


async def test_editor_list(start_app: StartApp) -> None:
    slack = await start_app(editors="list", editor_ids=["U0ALICE"])
    _, ack = await slack.command("watch Belarus", user="U0BOB")
    assert ack["text"] == msg.ADMINS_ONLY
    _, ack = await slack.command("watch Belarus", user="U0ALICE")
    assert ack["text"] == msg.WATCH_OK_UNSUBSCRIBED.format(number=1, query="Belarus")
    # A direct message with the bot belongs to its user.
    _, ack = await slack.command("subscribe", channel="D0BOB", user="U0BOB")
    assert ack["text"] == msg.SUBSCRIBED


async def test_socket_mode_command(
    slack_api: SlackApiStandIn, sqlite_url: str, httpserver: HTTPServer
) -> None:
    """Socket Mode over a local WebSocket: the command arrives as an envelope and the
    reply goes back in its acknowledgement."""
    settings = make_settings(
        sqlite_url,
        slack={
            "bot_token": "xoxb-test",
            "app_token": "xapp-test",
            "api_base_url": slack_api.api_base_url,
        },
    )
    app = App(settings, health=False)
    await app.start()
    try:
        await asyncio.wait_for(slack_api.connected(), 5)
        body, _ = slash_command_body("subscribe", response_url=slack_api.response_url())
        await slack_api.push(
            {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": dict(parse_qsl(body)),
            }
        )
        ack = await asyncio.wait_for(slack_api.socket_acks.get(), 5)
    finally:
        await app.stop()
    assert ack["envelope_id"] == "env-1"
    assert ack["payload"]["text"] == msg.SUBSCRIBED
    assert ack["payload"]["response_type"] == "in_channel"
    assert [c.method for c in slack_api.calls][:2] == ["auth.test", "apps.connections.open"]


async def test_admin_check_that_fails_refuses_the_change(start_app: StartApp) -> None:
    slack = await start_app(editors="admins")
    slack.api.admins.add("U0ADMIN")
    # The command asks users.info twice: for the user's locale, then (that having
    # failed, nothing is cached) whether they are an admin.
    slack.api.fail("users.info", error="user_not_found")
    slack.api.fail("users.info", error="user_not_found")
    _, ack = await slack.command("subscribe", user="U0ADMIN")
    assert ack["text"] == msg.ADMINS_ONLY
    assert await asyncio.to_thread(slack.app.store.get_chat, "slack", CHANNEL) is None
    _, ack = await slack.command("subscribe", user="U0ADMIN")  # not cached: asked again
    assert ack["text"] == msg.SUBSCRIBED


async def test_a_command_that_crashes_is_answered_and_the_next_one_too(
    start_app: StartApp, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    slack = await start_app()

    def crash(query: str) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(slack.app.rulebook, "compile", crash)
    status, ack = await slack.command("watch " + "(" * 300 + "x" + ")" * 300)
    assert (status, ack["text"], ack["response_type"]) == (200, msg.FAILED, "ephemeral")
    status, ack = await slack.command("rules")
    assert (status, ack["text"]) == (200, msg.NO_RULES)
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert record.exc_info is not None and isinstance(record.exc_info[1], RecursionError)
    assert record.platform == "slack" and record.chat == CHANNEL  # type: ignore[attr-defined]
