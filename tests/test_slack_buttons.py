# ruff: noqa: F811 - the Slack app's fixture is imported, then named as an argument
"""Buttons under alerts over Slack: ``block_actions`` posted signed to the HTTP endpoint
(and once over Socket Mode), against the Web API stand-in; and updates in threads."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pytest_httpserver import HTTPServer
from sqlalchemy import select, update

from bot.app import App
from bot.commands import messages as msg
from bot.delivery import outbox
from bot.store import utcnow
from bot.store.schema import chats, stories
from bot.store.schema import outbox as outbox_table
from tests.conftest import make_settings
from tests.slack_api import SlackApiStandIn, block_actions_body, block_actions_payload
from tests.test_slack_app import (
    CHANNEL,
    MATCHING,
    OLD_STORY,
    OTHER,
    StartApp,
    Workspace,
    start_app,  # noqa: F401 - a fixture
    subscribe_and_watch,
)

RULE = 'Belarus AND "prisoner release"'
MATCHING_2 = (
    "new-3",
    "Belarus parliament passes prisoner release law by 98 votes to 2",
    "Lawmakers in Minsk approved rules for the prisoner release of convicts over 70.",
)


def blocks_of(call_params: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = call_params.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def buttons(blocks: list[dict[str, Any]]) -> dict[str, str]:
    """Label -> value of every button in ``blocks``."""
    return {
        element["text"]["text"]: element["value"]
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
    }


async def one_alert(slack: Workspace) -> tuple[str, dict[str, str]]:
    """Subscribe, watch, and let one alert arrive; its ts and its buttons."""
    await subscribe_and_watch(slack, RULE)
    assert await slack.poll() == 0
    slack.serve_feed(OLD_STORY, MATCHING, OTHER)
    assert await slack.poll() == 1
    assert await slack.app.dispatcher.run_once() == 1
    (call,) = slack.api.called("chat.postMessage")
    (blocks,) = slack.posted_blocks()
    return call_ts(slack, 0), buttons(blocks)


def call_ts(slack: Workspace, index: int) -> str:
    # The stand-in numbers its answers' ts in order: the n-th postMessage got n+1.
    return f"1700000000.{index + 1:06d}"


async def press(
    slack: Workspace,
    value: str,
    *,
    message_ts: str | None,
    user: str = "U0ALICE",
    **signing: Any,
) -> int:
    payload = block_actions_payload(
        value, response_url=slack.api.response_url("press"), message_ts=message_ts, user=user
    )
    body, content_type = block_actions_body(payload)
    status, _ = await slack.post(body, content_type, **signing)
    return status


async def ephemeral(slack: Workspace, count: int) -> str:
    calls = await slack.api.wait_for("chat.postEphemeral", count)
    return str(calls[count - 1].params["text"])


async def test_alert_buttons_name_rule_and_alert_by_id(start_app: StartApp) -> None:
    slack = await start_app()
    _, found = await one_alert(slack)
    chat = slack.app.store.get_chat("slack", CHANNEL)
    assert chat is not None
    (rule,) = slack.app.store.list_rules(chat.id)
    assert found[msg.BUTTON_LABELS["mute"]] == f"nb:mute:{rule.id}"
    assert found[msg.BUTTON_LABELS["stop"]] == f"nb:stop:{rule.id}"
    assert found[msg.BUTTON_LABELS["more"]].startswith("nb:more:")


async def test_mute_press_is_signed_announced_in_thread_and_twice_answered(
    start_app: StartApp,
) -> None:
    slack = await start_app()
    ts, found = await one_alert(slack)
    mute = found[msg.BUTTON_LABELS["mute"]]
    assert await press(slack, mute, message_ts=ts, secret="wrong") == 401
    assert await press(slack, mute, message_ts=ts) == 200
    calls = await slack.api.wait_for("chat.postMessage", 2)
    assert calls[1].params["thread_ts"] == ts
    assert calls[1].params["text"].startswith("Rule 1 muted until ")

    assert await press(slack, mute, message_ts=ts) == 200
    assert (await ephemeral(slack, 1)).startswith("Rule 1 is already muted until")
    slack.serve_feed(OLD_STORY, MATCHING, OTHER, MATCHING_2)
    assert await slack.poll() == 0  # the muted rule alerts no more


async def test_stop_asks_ephemerally_then_unwatches(start_app: StartApp) -> None:
    slack = await start_app()
    ts, found = await one_alert(slack)
    await press(slack, found[msg.BUTTON_LABELS["stop"]], message_ts=ts)
    calls = await slack.api.wait_for("chat.postEphemeral")
    assert calls[0].params["text"] == msg.STOP_ASK.format(number=1, query=RULE).replace(
        "&", "&amp;"
    )
    question = buttons(blocks_of(calls[0].params))
    assert list(question) == [msg.BUTTON_LABELS["stopyes"], msg.BUTTON_LABELS["stopno"]]

    await press(slack, question[msg.BUTTON_LABELS["stopyes"]], message_ts=None)
    (deleted,) = await slack.api.wait_for_response()
    assert deleted["delete_original"] is True
    calls = await slack.api.wait_for("chat.postMessage", 2)
    assert calls[1].params["text"] == f"Rule 1 removed: {RULE}".replace("&", "&amp;")
    _, ack = await slack.command("rules")
    assert ack["text"] == msg.NO_RULES

    # Pressed again, or the alert's own buttons now: the rule is gone, said plainly.
    await press(slack, question[msg.BUTTON_LABELS["stopyes"]], message_ts=None)
    assert await ephemeral(slack, 2) == msg.RULE_GONE
    await press(slack, found[msg.BUTTON_LABELS["mute"]], message_ts=ts)
    assert await ephemeral(slack, 3) == msg.RULE_GONE


async def test_only_editors_may_press_changing_buttons(start_app: StartApp) -> None:
    slack = await start_app(editors="list", editor_ids=["U0ALICE"])
    ts, found = await one_alert(slack)
    await press(slack, found[msg.BUTTON_LABELS["mute"]], message_ts=ts, user="U0BOB")
    assert await ephemeral(slack, 1) == msg.BUTTON_REFUSED
    await press(slack, found[msg.BUTTON_LABELS["stop"]], message_ts=ts, user="U0BOB")
    assert await ephemeral(slack, 2) == msg.BUTTON_REFUSED
    await press(slack, found[msg.BUTTON_LABELS["more"]], message_ts=ts, user="U0BOB")
    calls = await slack.api.wait_for("chat.postEphemeral", 3)
    assert calls[2].params["user"] == "U0BOB"
    assert MATCHING[2] in calls[2].params["text"]
    assert calls[2].params["text"].endswith("Matched: Belarus, prisoner release")
    assert len(slack.api.called("chat.postMessage")) == 1  # nothing announced


async def test_digest_mute_all(start_app: StartApp) -> None:
    slack = await start_app()
    await subscribe_and_watch(slack, RULE)
    await slack.command("digest hourly")
    assert await slack.poll() == 0
    slack.serve_feed(OLD_STORY, MATCHING, OTHER, MATCHING_2)
    assert await slack.poll() == 2
    with slack.app.store.engine.begin() as conn:  # the hour is up
        conn.execute(update(outbox_table).values(not_before=utcnow()))
    assert await slack.app.dispatcher.run_once() == 1
    (blocks,) = slack.posted_blocks()
    found = buttons(blocks)
    assert found == {msg.BUTTON_LABELS["muteall"]: "nb:muteall"}
    await press(slack, "nb:muteall", message_ts=call_ts(slack, 0))
    calls = await slack.api.wait_for("chat.postMessage", 2)
    assert calls[1].params["text"].startswith("All alerts muted until")
    await press(slack, "nb:muteall", message_ts=call_ts(slack, 0))
    assert (await ephemeral(slack, 1)).startswith("This chat is already muted until")


async def name_another_source(slack: Workspace) -> None:
    chat = slack.app.store.get_chat("slack", CHANNEL)
    assert chat is not None
    with slack.app.store.engine.connect() as conn:
        fingerprint = conn.execute(
            select(stories.c.fingerprint).where(stories.c.uid == MATCHING[0])
        ).scalar_one()
    assert outbox.name_source(slack.app.store, chat.id, fingerprint, "Daily Wire")
    with slack.app.store.engine.begin() as conn:  # the channel's pacing second is over
        conn.execute(update(chats).values(pace_next_at=None))
    assert await slack.app.dispatcher.run_once() == 0  # an edit, not a new message


async def test_edit_keeps_buttons_and_goes_to_the_thread_when_configured(
    start_app: StartApp,
) -> None:
    slack = await start_app(updates_in_thread=True)
    ts, found = await one_alert(slack)
    await name_another_source(slack)
    (edit,) = slack.api.called("chat.update")
    assert edit.params["ts"] == ts
    assert buttons(blocks_of(edit.params)) == found
    posts = slack.api.called("chat.postMessage")
    assert len(posts) == 2
    assert posts[1].params["thread_ts"] == ts
    assert posts[1].params["text"] == "Also reported by Daily Wire"


async def test_edit_stays_out_of_the_thread_by_default(start_app: StartApp) -> None:
    slack = await start_app()
    await one_alert(slack)
    await name_another_source(slack)
    assert len(slack.api.called("chat.update")) == 1
    assert len(slack.api.called("chat.postMessage")) == 1


async def test_socket_mode_button_press(
    slack_api: SlackApiStandIn, sqlite_url: str, httpserver: HTTPServer
) -> None:
    """The same press over Socket Mode: an ``interactive`` envelope, acknowledged, then
    answered through the Web API."""
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
        payload = block_actions_payload(
            "nb:mute:999", response_url=slack_api.response_url("press"), message_ts="1.2"
        )
        await slack_api.push(
            {
                "envelope_id": "env-2",
                "type": "interactive",
                "accepts_response_payload": False,
                "payload": payload,
            }
        )
        ack = await asyncio.wait_for(slack_api.socket_acks.get(), 5)
        (answer,) = await asyncio.wait_for(slack_api.wait_for("chat.postEphemeral"), 5)
    finally:
        await app.stop()
    assert ack["envelope_id"] == "env-2"
    assert answer.params["text"] == msg.RULE_GONE
    assert answer.params["user"] == "U0ALICE"
