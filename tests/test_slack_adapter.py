"""The Slack adapter's sends against the local Web API stand-in: every failure a decision."""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.adapters.slack import SlackAdapter, command_text, visibility
from bot.commands.parse import Command
from bot.commands.service import Reply
from bot.config import SlackSettings
from bot.delivery.alert import Alert
from bot.delivery.platform import (
    AdapterFatal,
    ChatGone,
    PermanentError,
    RetryAfter,
    TransientError,
    UncertainDelivery,
)
from bot.models import Summary
from tests.slack_api import SlackApiStandIn

ALERT = Alert(
    title="Belarus frees prisoners",
    link="https://news.example/1",
    source="Example World",
    published=datetime(2026, 11, 29, 14, 5, tzinfo=UTC),
    rule="Belarus",
    summary=Summary(("Belarus freed prisoners on Sunday.",)),
    words=("Belarus",),
)


def make_adapter(api_base_url: str, **settings: Any) -> SlackAdapter:
    return SlackAdapter(SlackSettings(bot_token="xoxb-test", api_base_url=api_base_url, **settings))


async def test_alert_is_one_block_kit_post(slack_api: SlackApiStandIn) -> None:
    adapter = make_adapter(slack_api.api_base_url)
    ts = await adapter.send_alert("C0NEWS", ALERT)
    (call,) = slack_api.called("chat.postMessage")
    assert ts == "1700000000.000001"
    assert call.headers["Authorization"] == "Bearer xoxb-test"
    assert call.params["channel"] == "C0NEWS"
    assert call.params["unfurl_links"] is False
    assert call.params["text"].startswith("Belarus frees prisoners — Example World")
    blocks = call.params["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    assert blocks[0]["text"]["text"] == "*<https://news.example/1|Belarus frees prisoners>*"


async def test_an_alert_is_updated_in_place_to_name_its_other_sources(
    slack_api: SlackApiStandIn,
) -> None:
    adapter = make_adapter(slack_api.api_base_url)
    ts = await adapter.send_alert("C0NEWS", ALERT)
    assert ts is not None
    await adapter.edit_alert("C0NEWS", ts, replace(ALERT, also_reported_by=("Reuters",)))
    (call,) = slack_api.called("chat.update")
    assert (call.params["channel"], call.params["ts"]) == ("C0NEWS", ts)
    blocks = call.params["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    assert "Also reported by Reuters" in json.dumps(blocks)
    assert len(slack_api.called("chat.postMessage")) == 1  # updated, not posted again
    slack_api.fail("chat.update", error="message_not_found")
    with pytest.raises(PermanentError):
        await adapter.edit_alert("C0NEWS", ts, ALERT)


async def test_digest_is_one_post(slack_api: SlackApiStandIn) -> None:
    adapter = make_adapter(slack_api.api_base_url)
    await adapter.send_digest("C0NEWS", [ALERT, ALERT])
    (call,) = slack_api.called("chat.postMessage")
    blocks = call.params["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    assert blocks[0]["text"]["text"] == "2 new stories"


@pytest.mark.parametrize(
    ("failure", "decision", "says"),
    [
        (
            {"status": 429, "error": "ratelimited", "headers": {"Retry-After": "7"}},
            RetryAfter,
            "7s",
        ),
        ({"status": 429, "body": "slow down"}, RetryAfter, "30s"),
        ({"error": "channel_not_found"}, ChatGone, "channel is gone"),
        ({"error": "not_in_channel"}, ChatGone, "/invite"),
        ({"error": "is_archived"}, ChatGone, "archived"),
        ({"error": "account_inactive"}, AdapterFatal, "deactivated"),
        ({"error": "invalid_auth"}, AdapterFatal, "SLACK_BOT_TOKEN"),
        ({"error": "token_revoked"}, AdapterFatal, "reinstall"),
        ({"error": "missing_scope"}, AdapterFatal, "slack-manifest.yaml"),
        ({"error": "internal_error"}, UncertainDelivery, "may have been posted"),
        ({"error": "fatal_error"}, UncertainDelivery, "may have been posted"),
        ({"error": "service_unavailable"}, TransientError, "service_unavailable"),
        ({"status": 503, "body": "<html>down</html>"}, TransientError, "HTTP 503"),
        ({"status": 500, "body": "<html>oops</html>"}, UncertainDelivery, "HTTP 500"),
        ({"status": 502, "body": "{not json"}, UncertainDelivery, "HTTP 502"),
        ({"error": "invalid_blocks"}, PermanentError, "invalid_blocks"),
        ({"error": "msg_too_long"}, PermanentError, "msg_too_long"),
    ],
)
async def test_platform_errors_become_decisions(
    slack_api: SlackApiStandIn, failure: dict[str, Any], decision: type[Exception], says: str
) -> None:
    slack_api.fail("chat.postMessage", **failure)
    adapter = make_adapter(slack_api.api_base_url)
    with pytest.raises(decision, match=says.replace("?", r"\?")):
        await adapter.send_alert("C0NEWS", ALERT)
    # Exactly one attempt: retrying is the dispatcher's decision, not slack_sdk's.
    assert len(slack_api.called("chat.postMessage")) == 1


async def test_retry_after_carries_the_seconds(slack_api: SlackApiStandIn) -> None:
    slack_api.fail(
        "chat.postMessage", status=429, error="ratelimited", headers={"Retry-After": "12"}
    )
    with pytest.raises(RetryAfter) as caught:
        await make_adapter(slack_api.api_base_url).send_alert("C0NEWS", ALERT)
    assert caught.value.seconds == 12


async def test_no_answer_in_time_is_uncertain(slack_api: SlackApiStandIn) -> None:
    slack_api.fail("chat.postMessage", delay=2.0, error="too_late")
    adapter = make_adapter(slack_api.api_base_url)
    adapter.client.timeout = 1
    with pytest.raises(UncertainDelivery, match="no answer in time"):
        await adapter.send_alert("C0NEWS", ALERT)


async def test_unreachable_api_is_transient() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    adapter = make_adapter(f"http://127.0.0.1:{port}/slack_api/")
    with pytest.raises(TransientError, match="cannot connect"):
        await adapter.send_alert("C0NEWS", ALERT)


async def test_start_with_a_refused_token_stops_with_a_clear_error(
    slack_api: SlackApiStandIn,
) -> None:
    slack_api.token = "xoxb-other"
    adapter = make_adapter(slack_api.api_base_url)
    with pytest.raises(AdapterFatal, match="invalid_auth — the bot token was refused"):
        await adapter.start(service=None)  # type: ignore[arg-type]  # refused before use


async def test_send_only_without_app_token_or_signing_secret(slack_api: SlackApiStandIn) -> None:
    adapter = make_adapter(slack_api.api_base_url)
    assert adapter.mode == "send-only"
    await adapter.start(service=None)  # type: ignore[arg-type]  # no commands arrive
    assert adapter.bot_user_id == "UBOT"
    await adapter.stop()


@pytest.mark.parametrize(
    ("settings", "mode"),
    [
        ({"app_token": "xapp-1", "signing_secret": "s"}, "socket"),
        ({"app_token": "xapp-1"}, "socket"),
        ({"signing_secret": "s"}, "http"),
        ({}, "send-only"),
    ],
)
def test_mode_selection(settings: dict[str, str], mode: str) -> None:
    assert make_adapter("http://127.0.0.1:9/slack_api/", **settings).mode == mode


def test_limits_and_groups() -> None:
    adapter = make_adapter("http://127.0.0.1:9/slack_api/")
    assert adapter.limits.per_chat_interval == 1.0
    assert adapter.is_group("C0NEWS") and adapter.is_group("G0PRIV")
    assert not adapter.is_group("D0DM")
    assert not adapter.is_group("U0ALICE")  # posting to a user id means their DM with the app


async def test_http_mode_on_a_busy_port_stops_with_a_clear_error(
    slack_api: SlackApiStandIn,
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        adapter = make_adapter(
            slack_api.api_base_url, signing_secret="s", listen=f"127.0.0.1:{port}"
        )
        with pytest.raises(AdapterFatal, match=f"cannot listen on 127.0.0.1:{port}"):
            await adapter.start(service=None)  # type: ignore[arg-type]  # fails before use


def test_manifest_matches_what_the_adapter_listens_for() -> None:
    manifest = yaml.safe_load((Path(__file__).parent.parent / "slack-manifest.yaml").read_text())
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/newsbot"
    assert command["should_escape"] is False
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_mention",
        "message.im",
    }
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "app_mentions:read", "im:history", "users:read"} <= scopes
    assert manifest["settings"]["socket_mode_enabled"] is True


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("", Command("help")),
        ("subscribe", Command("subscribe")),
        ("<@UBOT> watch Belarus AND Poland", Command("watch", "Belarus AND Poland")),
        ("<@UBOT|newsbot>: rules", Command("rules")),
        ("Watch AT&amp;T", Command("watch", "AT&T")),
        ("addfeed <https://news.example/rss>", Command("addfeed", "https://news.example/rss")),
    ],
)
def test_command_text(text: str, command: Command) -> None:
    assert command_text(text) == command


@pytest.mark.parametrize(
    ("name", "private", "expected"),
    [
        ("rules", False, "ephemeral"),
        ("help", False, "ephemeral"),
        ("test", False, "ephemeral"),
        ("status", False, "ephemeral"),
        ("frobnicate", False, "ephemeral"),
        ("watch", True, "ephemeral"),
        ("watch", False, "in_channel"),
        ("subscribe", False, "in_channel"),
        ("mute", False, "in_channel"),
    ],
)
def test_visibility(name: str, private: bool, expected: str) -> None:
    assert visibility(Command(name), Reply("text", private=private)) == expected


async def test_socket_mode_with_a_refused_app_token_stops_with_a_clear_error(
    slack_api: SlackApiStandIn,
) -> None:
    slack_api.app_token = "xapp-other"
    adapter = make_adapter(slack_api.api_base_url, app_token="xapp-test")
    with pytest.raises(AdapterFatal, match="SLACK_APP_TOKEN"):
        await adapter.start(service=None)  # type: ignore[arg-type]  # fails before use
    await adapter.stop()


async def test_socket_mode_connects_in_the_background_when_slack_is_down_at_start(
    slack_api: SlackApiStandIn,
) -> None:
    slack_api.fail("apps.connections.open", status=503, body="down for maintenance")
    adapter = make_adapter(slack_api.api_base_url, app_token="xapp-test")
    await adapter.start(service=None)  # type: ignore[arg-type]  # no command is sent
    try:
        await asyncio.wait_for(slack_api.connected(), 5)
    finally:
        await adapter.stop()
    # Our check met the outage; slack_sdk's own connect then got a WebSocket address.
    assert [c.method for c in slack_api.calls] == [
        "auth.test",
        "apps.connections.open",
        "apps.connections.open",
    ]


@pytest.mark.parametrize("body", ["<html>bad gateway</html>", "[1, 2]"], ids=["html", "list"])
async def test_an_unreadable_answer_is_uncertain(slack_api: SlackApiStandIn, body: str) -> None:
    slack_api.fail("chat.postMessage", status=200, body=body)  # posted; the answer is odd
    with pytest.raises(UncertainDelivery, match="unreadable answer"):
        await make_adapter(slack_api.api_base_url).send_alert("C0NEWS", ALERT)
    assert len(slack_api.called("chat.postMessage")) == 1
